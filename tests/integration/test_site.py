"""End to end: the real site.yml over the real amazon.aws.aws_ec2 inventory, run through
ansible-runner (the engine AWX uses), on the embedded AWS with podman systemd hosts.

Order, as a careful operator would do it on a production account: ``--check --diff`` first (must
change nothing), then the run, then a second run (must change nothing), then the end state is
checked in AWS and on the hosts, including a web request that has to arrive in its log group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import ansible_runner
import boto3
import moto_server
import pytest
from aws_state import snapshot

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"
REGIONS = ["eu-west-1", "eu-central-1"]
AGENT_ROLE = "CloudWatchAgentServerRole"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman for the hosts")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "ANSIBLE_", "CONTAINERS_"))}
    env.update({"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    return env


# The controller itself, for the demo's fleet set-up and teardown playbooks.
CONTROLLER = {
    "all": {
        "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    }
}


def _run(tmp: Path, playbook: Path, inventory: Any = None, cmdline: str = "", **extravars: Any) -> Any:
    tmp.mkdir(parents=True, exist_ok=True)
    runner = ansible_runner.run(
        private_data_dir=str(tmp),
        project_dir=str(playbook.parent),
        playbook=str(playbook),
        inventory=inventory,
        cmdline=cmdline,
        extravars=extravars or None,
        envvars=_env(),
        quiet=True,
        timeout=1200,
    )
    if runner.rc != 0:
        stdout = runner.stdout.read() if runner.stdout else ""
        pytest.fail(f"{playbook.name} {cmdline} failed (rc={runner.rc}):\n{stdout[-8000:]}")
    return runner


LIST_AGENT_FILES = "ls -R /opt/aws 2>/dev/null; dpkg -l amazon-cloudwatch-agent 2>&1 | tail -1"
CTL = "/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"


def _containers_state() -> dict[str, str]:
    """Each demo container's agent directory listing: what the roles may change on the hosts."""
    fleet = ["demo-web-apache", "demo-web-nginx", "demo-web-both"]
    out = {}
    for name in fleet:
        res = subprocess.run(
            ["podman", "exec", name, "sh", "-c", LIST_AGENT_FILES],
            capture_output=True,
            text=True,
            check=False,
        )
        out[name] = res.stdout
    return out


@pytest.fixture(scope="module")
def site(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    moto_server.reset(moto_endpoint)
    tmp = tmp_path_factory.mktemp("site")
    subprocess.run(["bash", str(ROOT / "tests/image/build.sh")], check=True, capture_output=True)
    standin = ROOT / ".cache" / "standin"
    subprocess.run(["bash", str(ROOT / "tests/cwagent_standin/build.sh"), str(standin)], check=True)
    _run(tmp / "fleet", DEMO / "fleet.yml", inventory=CONTROLLER)
    inventory = str(DEMO / "inventory" / "demo.aws_ec2.yml")
    common = f"-e @{DEMO / 'demo_vars.yml'}"
    package = {"cloudwatch_agent_linux_package_file": str(standin / "amazon-cloudwatch-agent.deb")}
    try:
        before = (snapshot(REGIONS), _containers_state())
        # The demo inventory is cached by path, not by endpoint: the fleet is new, so read it afresh once.
        check = _run(
            tmp / "check", ROOT / "site.yml", inventory, f"{common} --check --diff --flush-cache", **package
        )
        after_check = (snapshot(REGIONS), _containers_state())
        first = _run(tmp / "first", ROOT / "site.yml", inventory, common, **package)
        second = _run(tmp / "second", ROOT / "site.yml", inventory, common, **package)
        yield {
            "before": before,
            "after_check": after_check,
            "check": check,
            "first": first,
            "second": second,
            "state": snapshot(REGIONS),
        }
    finally:
        _run(tmp / "teardown", DEMO / "teardown.yml", inventory=CONTROLLER)


def test_check_mode_changes_nothing(site: dict[str, Any]) -> None:
    assert site["check"].status == "successful"
    assert site["after_check"] == site["before"]


def test_first_run_changes_and_second_run_changes_nothing(site: dict[str, Any]) -> None:
    assert sum(site["first"].stats["changed"].values()) > 0
    assert site["second"].stats["changed"] == {}, site["second"].stats["changed"]
    assert not site["second"].stats["failures"]


def test_guardduty_enabled_in_every_region(site: dict[str, Any]) -> None:
    ec2 = boto3.client("ec2", region_name="eu-west-1")
    regions = [r["RegionName"] for r in ec2.describe_regions()["Regions"]]
    assert len(regions) > 2
    for region in regions:
        detectors = boto3.client("guardduty", region_name=region).list_detectors()["DetectorIds"]
        assert len(detectors) == 1, region
        detector = boto3.client("guardduty", region_name=region).get_detector(DetectorId=detectors[0])
        assert detector["Status"] == "ENABLED", region


def test_opted_in_instances_have_the_agent_role_and_bystanders_are_untouched(site: dict[str, Any]) -> None:
    state = site["state"]
    assert "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy" in state["iam"]["roles"][AGENT_ROLE]
    assert state["iam"]["instance_profiles"][AGENT_ROLE] == [AGENT_ROLE]
    seen = 0
    for region in REGIONS:
        for inst in state["regions"][region]["ec2"].values():
            if inst["tags"].get("gdpr_monitoring") == "true":
                seen += 1
                assert inst["profile"].endswith(f"instance-profile/{AGENT_ROLE}")
            else:
                assert inst["profile"] is None
    assert seen == 3


def test_log_groups_have_retention_and_encryption(site: dict[str, Any]) -> None:
    west = site["state"]["regions"]["eu-west-1"]["logs"]
    central = site["state"]["regions"]["eu-central-1"]["logs"]
    for name in ("/gdpr/demo/apache/access", "/gdpr/demo/nginx/access", "/gdpr/demo/system/auth"):
        assert west[name]["retention"] == 365
        assert west[name]["kms"], name
    assert central["/gdpr/demo/nginx/error"]["retention"] == 365
    assert central["/gdpr/demo/nginx/error"]["kms"]


def _agent_status(container: str) -> dict[str, Any]:
    out = subprocess.run(
        ["podman", "exec", container, CTL, "-a", "status"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def test_agents_run_configured(site: dict[str, Any]) -> None:
    for container in ("demo-web-apache", "demo-web-nginx", "demo-web-both"):
        status = _agent_status(container)
        assert status["status"] == "running", container
        assert status["configstatus"] == "configured", container


def test_a_web_request_arrives_in_its_log_group(site: dict[str, Any]) -> None:
    marker = f"/gdpr-e2e-{time.time_ns()}"
    with pytest.raises(urllib.error.HTTPError):  # 404 for a page that does not exist: still logged
        urllib.request.urlopen(f"http://127.0.0.1:18281{marker}", timeout=5)
    logs = boto3.client("logs", region_name="eu-central-1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName="/gdpr/demo/nginx/access", filterPattern=f'"{marker}"')
        if events["events"]:
            return
        time.sleep(1)
    pytest.fail(f"request {marker} never reached /gdpr/demo/nginx/access")
