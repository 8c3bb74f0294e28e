"""What the Windows role decides from its scripts' reports (issue 17 items 4, 8, 11).

Reports are shaped like ``files/inspect_msi.ps1`` and ``files/apply_fragment.ps1`` output; no
Windows host runs here.
"""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.filter import cwagent_windows_checks as checks

AMAZON = "Amazon.com Services LLC"
ROOT = "DDFB16CD4931C973A2037D3FC83A4D7D775D05E4"
EXPECTED = {
    "verify_signature": True,
    "signer_cn": AMAZON,
    "signer_o": AMAZON,
    "root_thumbprints": [ROOT],
    "allow_downgrade": False,
}


def report(**changes) -> dict:
    base = {
        "status": "Valid",
        "status_message": "Signature verified.",
        "subject_lines": [f"CN={AMAZON}", f"O={AMAZON}", "L=Seattle", "S=Washington", "C=US"],
        "signer_eku": ["1.3.6.1.5.5.7.3.3"],
        "chain_valid": True,
        "chain_status": "",
        "chain": [
            {"subject": f"CN={AMAZON}", "thumbprint": "11" * 20},
            {
                "subject": "CN=DigiCert Trusted G4 Code Signing RSA4096 SHA384 2021 CA1",
                "thumbprint": "22" * 20,
            },
            {"subject": "CN=DigiCert Trusted Root G4", "thumbprint": ROOT.lower()},
        ],
        "msi_version": "1.300052.0",
        "installed_version": "",
    }
    return {**base, **changes}


def test_the_genuine_amazon_msi_is_accepted():
    assert checks.msi_problems(report(), EXPECTED) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        # the old check accepted any trusted signer whose CN or O merely contained "Amazon"
        ({"subject_lines": ["CN=Amazon Fan Club", "O=Amazon Fan Club"]}, "CN is ['Amazon Fan Club']"),
        ({"subject_lines": [f"CN={AMAZON}", "O=Evil Corp", f"OU={AMAZON}"]}, "O is ['Evil Corp']"),
        ({"subject_lines": [f"CN={AMAZON}"]}, "O is absent"),
        ({"subject_lines": [f"CN={AMAZON}", f"O={AMAZON}", "O=Other"]}, "O is ["),
        ({"status": "NotSigned", "status_message": "not signed"}, "signature is NotSigned"),
        ({"status": "HashMismatch"}, "signature is HashMismatch"),
        ({"signer_eku": ["1.3.6.1.5.5.7.3.1"]}, "not issued for code signing"),
        ({"chain_valid": False, "chain_status": "Revoked: revoked"}, "Revoked"),
        ({"chain": [{"subject": "CN=Some Other Root", "thumbprint": "33" * 20}]}, "Some Other Root"),
        ({"chain": []}, "no thumbprint"),
    ],
    ids=["cn_contains_amazon", "o_differs", "o_missing", "two_o", "unsigned", "tampered", "no_eku", "revoked",
         "other_root", "no_chain"],
)  # fmt: skip
def test_anything_but_the_pinned_publisher_and_chain_is_refused(changes, problem):
    problems = checks.msi_problems(report(**changes), EXPECTED)
    assert any(problem in p for p in problems), problems


def test_an_empty_root_list_accepts_any_root_the_host_trusts():
    other = report(chain=[{"subject": "CN=Corporate Root", "thumbprint": "44" * 20}])
    assert checks.msi_problems(other, {**EXPECTED, "root_thumbprints": []}) == []


def test_signature_checks_can_be_switched_off_but_not_the_downgrade_check():
    unsigned = report(status="NotSigned", subject_lines=[], installed_version="1.300060.0")
    problems = checks.msi_problems(unsigned, {**EXPECTED, "verify_signature": False})
    assert len(problems) == 1 and "older than the installed 1.300060.0" in problems[0]


@pytest.mark.parametrize(
    ("msi", "installed", "refused"),
    [
        ("1.300052.0", "1.300060.1166", True),
        ("1.300060.1166", "1.300060.1166", False),
        ("1.300061.0", "1.300060.1166", False),
        ("1.300052.0", "", False),  # nothing installed
        ("1.300052.0", "1.300060.1166b1166", True),
    ],
)
def test_an_msi_older_than_the_installed_agent_is_refused_unless_allowed(msi, installed, refused):
    problems = checks.msi_problems(report(msi_version=msi, installed_version=installed), EXPECTED)
    assert bool(problems) is refused
    if refused:
        assert "cloudwatch_agent_windows_allow_downgrade" in problems[0]
        allowed = {**EXPECTED, "allow_downgrade": True}
        assert checks.msi_problems(report(msi_version=msi, installed_version=installed), allowed) == []


def test_an_unreadable_msi_version_is_refused_when_an_agent_is_installed():
    assert checks.msi_problems(report(msi_version="", installed_version="1.3.0"), EXPECTED)


# --- apply_fragment.ps1's report ----------------------------------------------------------------
def applied(**changes) -> dict:
    base = {
        "completed": True,
        "applied": True,
        "failure": "",
        "validation_phase": 0,
        "agent_output": "Configuration validation succeeded\namazon-cloudwatch-agent has been started",
        "validation_log": "",
        "agent_log": "",
        "restored": [],
        "running_after": True,
    }
    return {**base, **changes}


def test_success_is_not_a_failure():
    assert checks.apply_report(applied()) == {"failed": False, "msg": ""}


def test_a_start_failure_is_not_reported_as_a_rejected_config():
    result = applied(
        applied=False,
        failure="start",
        agent_output="Configuration validation succeeded\nStart-Service : Service cannot be started",
        agent_log="E! cannot open C:\\missing",
        restored=[r"C:\ProgramData\Amazon\AmazonCloudWatchAgent\amazon-cloudwatch-agent.toml"],
    )
    report_ = checks.apply_report(result)
    assert report_["failed"]
    assert "valid but the agent did not start" in report_["msg"]
    assert "rejected" not in report_["msg"]
    assert "runs with its previous configuration" in report_["msg"]
    assert "E! cannot open" in report_["msg"]  # the agent's own log, not the validation log
    assert "amazon-cloudwatch-agent.toml" in report_["msg"]


def test_a_downloader_failure_is_not_a_rejection_and_shows_no_stale_validation_log():
    result = applied(
        applied=False,
        failure="download",
        agent_output="E! Failed to get instance metadata",
        validation_log="STALE from an earlier run",
    )
    msg = checks.apply_report(result)["msg"]
    assert "config-downloader failed" in msg and "instance metadata" in msg
    assert "STALE" not in msg


@pytest.mark.parametrize(("phase", "shows_log"), [(1, False), (2, True)])
def test_the_validation_log_is_shown_only_after_the_second_phase_rewrote_it(phase, shows_log):
    result = applied(
        applied=False,
        failure="validation",
        validation_phase=phase,
        agent_output="Start configuration validation...\nE! invalid",
        validation_log="schema test output",
    )
    msg = checks.apply_report(result)["msg"]
    assert "rejected the fragment" in msg
    assert ("schema test output" in msg) is shows_log


def test_an_agent_that_could_not_be_started_again_is_said_so():
    result = applied(applied=False, failure="start", running_after=False, agent_log="E! crash")
    msg = checks.apply_report(result)["msg"]
    assert "could NOT be started again" in msg


@pytest.mark.parametrize("result", [None, {}, {"applied": False, "failure": ""}])
def test_a_script_that_stopped_early_is_reported_with_its_own_error(result):
    """Before: configure.yml read result.applied of a script that had thrown before setting it."""
    outcome = checks.apply_report(result, ["Access to the path 'C:\\x' is denied.", ""])
    assert outcome["failed"]
    assert "stopped before it finished" in outcome["msg"]
    assert "Access to the path" in outcome["msg"]


def test_filters_are_exported():
    assert set(checks.FilterModule().filters()) == {
        "cwagent_windows_msi_problems",
        "cwagent_windows_apply_report",
    }
