# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading ``gpg --status-fd`` output: was a file signed by exactly the pinned key?

Shared by the agent roles (the Windows role verifies the MSI's detached signature on the
controller; the Linux role verifies its package on the host). One exact comparison for both:
the *primary-key fingerprint* field of a ``VALIDSIG`` status line, whole and case-insensitive,
never a substring and never any other field (a subkey fingerprint, a date or an algorithm number
must not be able to match).

``VALIDSIG`` layout (gnupg doc/DETAILS)::

    [GNUPG:] VALIDSIG <fpr> <sig_creation_date> <sig-timestamp> <expire-timestamp>
             <sig-version> <reserved> <pubkey-algo> <hash-algo> <sig-class> [<primary-key-fpr>]

``<fpr>`` is the fingerprint of the (sub)key that made the signature; the primary-key fingerprint
is the 10th field after the keyword and is what a user pins (what ``gpg --fingerprint`` shows).
Older gpg versions that omit it are treated as "no primary fingerprint" (not accepted).
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

_FINGERPRINT_RE = re.compile(r"^[0-9A-F]{40}$|^[0-9A-F]{64}$")
_PRIMARY_FIELD = 9  # 0-based index of <primary-key-fpr> among the values after VALIDSIG


def normalise_fingerprint(fingerprint: Any) -> str:
    """``"9376 16F3 ..."`` or lower case -> 40 (v4) or 64 (v5) upper-case hex digits, else an error."""
    text = re.sub(r"\s+", "", str(fingerprint or "")).upper()
    if not _FINGERPRINT_RE.match(text):
        raise AnsibleFilterError(
            f"{fingerprint!r} is not a full OpenPGP fingerprint "
            "(40 or 64 hex digits; a short key id is not enough)"
        )
    return text


def validsig_primary_fingerprints(status: Any) -> list[str]:
    """Primary-key fingerprints of every good signature in ``gpg --status-fd 1`` output."""
    lines = status.splitlines() if isinstance(status, str) else list(status or [])
    found = []
    for line in lines:
        fields = str(line).split()
        if len(fields) < 2 or fields[0] != "[GNUPG:]" or fields[1] != "VALIDSIG":
            continue
        values = fields[2:]
        if len(values) > _PRIMARY_FIELD:
            found.append(values[_PRIMARY_FIELD].upper())
    return found


def key_fingerprints(colons: Any) -> list[str]:
    """Primary-key fingerprints in ``gpg --with-colons --import-options show-only --import`` output.

    A ``fpr`` record belongs to the key record just before it; only those after ``pub``/``sec`` are
    primary keys (``sub`` fingerprints are subkeys, which a key file may carry too). Lets a role refuse
    a key file holding anything but the pinned key *before* importing it.
    """
    fingerprints, owner = [], ""
    for line in str(colons or "").splitlines():
        fields = line.split(":")
        if fields[0] in ("pub", "sub", "sec", "ssb"):
            owner = fields[0]
        elif fields[0] == "fpr" and len(fields) > 9:
            if owner in ("pub", "sec"):
                fingerprints.append(fields[9].upper())
            owner = ""
    return fingerprints


def gpg_signed_by(status: Any, fingerprint: Any) -> bool:
    """True when a good signature in ``status`` was made by the key whose primary fingerprint is
    exactly ``fingerprint`` (spaces and case ignored)."""
    return normalise_fingerprint(fingerprint) in validsig_primary_fingerprints(status)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "gpg_signed_by": gpg_signed_by,
            "gpg_key_fingerprints": key_fingerprints,
        }
