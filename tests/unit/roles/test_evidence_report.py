"""The evidence_report role through playbooks/evidence.yml, run by ansible-playbook on the controller
against the embedded AWS behind the fault proxy (which records every AWS call the run makes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
PREFIX = "/gdpr/evtest"
INSTANCE = "i-0123456789abcdef0"


def _inventory(tmp: Path) -> Path:
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "instance_id": INSTANCE,
        "placement": {"region": "eu-west-1"},
    }
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"linux": {"hosts": {"web1": host}}}}}))
    return path


def _play(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        # JSON results: messages printed whole on every supported ansible-core (YAML folds them).
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        ANSIBLE_COLLECTIONS_PATH=sysconfig.get_paths()["purelib"],
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
    )
    args = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(_inventory(tmp)),
        str(REPO / "playbooks" / "evidence.yml"),
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-e",
        f"gdpr_monitoring_log_group_prefix={PREFIX}",
        "-e",
        '{"evidence_report_regions": ["eu-west-1"]}',
        *extra,
    ]
    return subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=600)


def test_bad_input_fails_before_reading_aws_naming_the_variables(faulty_aws: Any, tmp_path: Path) -> None:
    run = _play(
        tmp_path,
        "-e",
        json.dumps({"evidence_report_skip_checks": ["log_group_kms", "no_such_check"]}),
        "-e",
        "evidence_report_min_retention_days=400",
        "-e",
        "evidence_report_max_retention_days=30",
        "-e",
        f"evidence_report_dir={tmp_path / 'out'}",
    )
    assert run.returncode != 0
    assert "evidence_report_skip_checks: unknown check id(s) no_such_check" in run.stdout
    assert (
        "evidence_report_min_retention_days (400) is above evidence_report_max_retention_days (30)"
        in run.stdout
    )
    assert faulty_aws.operations() == []
    assert not (tmp_path / "out").exists()


def test_unwritable_dir_fails_before_reading_aws(faulty_aws: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = _play(tmp_path, "-e", f"evidence_report_dir={blocker / 'report'}")
    assert run.returncode != 0
    assert f"evidence_report_dir: {blocker / 'report'} is not a writeable directory" in run.stdout
    assert faulty_aws.operations() == []


def test_report_is_written_then_fail_on_fails_the_play(faulty_aws: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = _play(tmp_path, "-e", f"evidence_report_dir={out}", "-e", "evidence_report_fail_on=FAIL")
    assert run.returncode != 0, run.stdout[-3000:]
    assert "evidence_report_fail_on FAIL:" in run.stdout
    report = json.loads((out / "report.json").read_text())
    rows = {(r["check_id"], r["resource"]): r for r in report["rows"]}
    # The Linux agent's plan for web1 gives its groups; none exists in this empty account.
    missing = rows[("log_group_exists", f"{PREFIX}/nginx/access")]
    assert missing["status"] == "FAIL" and "web1" in missing["detail"]
    assert rows[("instance_profile", INSTANCE)]["status"] == "FAIL"
    assert rows[("agent_running", "web1")]["status"] == "UNKNOWN"
    assert report["header"]["variables"]["evidence_report_min_retention_days"] == 365
    assert (out / "report.csv").read_text().startswith("Provider;Description;AccountId;Region;AssessmentDate")
    assert "<!DOCTYPE html>" in (out / "report.html").read_text()
    # Read-only: every call the run made is a Describe/Get/List (STS GetCallerIdentity included).
    names = {op.get("operation") or op.get("action") or "" for op in faulty_aws.operations()}
    assert names and all(n.split(":")[-1].startswith(("Describe", "Get", "List")) for n in names), names
