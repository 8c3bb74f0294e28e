"""The shared exact check of gpg's VALIDSIG primary-key fingerprint (Windows MSI and Linux package)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter import gpg_status

PINNED = "937616F3450B7D806CBD9725D58167303B789C72"
SUBKEY = "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"
ATTACKER = "FEDCBA9876543210FEDCBA9876543210FEDCBA98"


def validsig(signing: str, primary: str | None) -> str:
    fields = ["[GNUPG:]", "VALIDSIG", signing, "2026-01-01", "1767225600", "0", "4", "0", "1", "10", "00"]
    return " ".join([*fields, primary] if primary else fields)


def status(*lines: str) -> str:
    return "\n".join(["[GNUPG:] NEWSIG", "[GNUPG:] GOODSIG D58167303B789C72 Amazon CloudWatch Agent", *lines])


def test_good_signature_by_the_pinned_primary_key_is_accepted_spaces_and_case_ignored():
    out = status(validsig(PINNED, PINNED))
    assert gpg_status.gpg_signed_by(out, "9376 16f3 450B 7D80 6CBD  9725 D581 6730 3B78 9C72")


def test_signature_by_a_subkey_of_the_pinned_key_is_accepted_by_its_primary_fingerprint():
    assert gpg_status.gpg_signed_by(status(validsig(SUBKEY, PINNED)), PINNED)


@pytest.mark.parametrize(
    "out",
    [
        status(validsig(PINNED, SUBKEY)),  # the pinned value only in the signing-key field
        status(validsig(PINNED, None)),  # no primary-key field at all
        status(validsig(SUBKEY, PINNED + "00")),  # longer value containing the pin
        status(validsig(SUBKEY, "X" + PINNED[1:])),
        "[GNUPG:] BADSIG D58167303B789C72 Amazon CloudWatch Agent",
        f"[GNUPG:] ERRSIG {PINNED} 1 10 00 1767225600 9 -",
        f"gpg: {PINNED} mentioned in free text VALIDSIG {PINNED}",
        "",
    ],
    ids=[
        "pin_in_signing_field",
        "no_primary",
        "longer",
        "one_digit_off",
        "badsig",
        "errsig",
        "free_text",
        "empty",
    ],
)
def test_anything_but_the_exact_primary_fingerprint_field_is_refused(out):
    assert not gpg_status.gpg_signed_by(out, PINNED)


def test_stdout_lines_work_like_the_text():
    assert gpg_status.validsig_primary_fingerprints(status(validsig(SUBKEY, PINNED)).splitlines()) == [PINNED]


@pytest.mark.parametrize("pin", ["3B789C72", "D58167303B789C72", "", "not hex at all", PINNED[:-1]])
def test_a_pin_that_is_not_a_full_fingerprint_is_an_error(pin):
    with pytest.raises(AnsibleFilterError, match="full OpenPGP fingerprint"):
        gpg_status.gpg_signed_by(status(validsig(PINNED, PINNED)), pin)


def test_filters_are_exported():
    assert set(gpg_status.FilterModule().filters()) == {
        "gpg_signed_by",
        "gpg_key_fingerprints",
    }


def test_degenerate_or_misplaced_fingerprints_are_not_signers():
    # Before: the Linux role took any token of a VALIDSIG line, so "0" (the reserved field) or the
    # pinned key named as the *signing* key of an attacker's primary key passed.
    out = [validsig(PINNED, ATTACKER), "[GNUPG:] VALIDSIG 0 0 0", f"[GNUPG:] GOODSIG {PINNED}"]
    assert gpg_status.validsig_primary_fingerprints(out) == [ATTACKER]
    assert not gpg_status.gpg_signed_by(out, PINNED)
    with pytest.raises(AnsibleFilterError):
        gpg_status.gpg_signed_by(out, "0")


def test_key_file_primary_fingerprints_not_subkeys():
    colons = "\n".join(
        [
            "pub:-:255:22:D58167303B789C72:1705312800:::-:::scSC::::::23::0:",
            f"fpr:::::::::{PINNED}:",
            "uid:-::::1705312800::ABC::CloudWatch agent <x@invalid>::::::::::0:",
            "sub:-:255:18:0123456789ABCDEF:1705312800::::::e::::::23:",
            f"fpr:::::::::{SUBKEY}:",
            "pub:-:255:22:FEDCBA9876543210:1705312800:::-:::scSC::::::23::0:",
            f"fpr:::::::::{ATTACKER.lower()}:",
        ]
    )
    assert gpg_status.key_fingerprints(colons) == [PINNED, ATTACKER]
    assert gpg_status.key_fingerprints("") == []
