"""Verify the Linux agent role on the Molecule hosts (testinfra) and in the embedded AWS (boto3).

Each host's expectations come from its host variables in molecule.yml (``cwagent_test_web``: web
server -> port), so the same tests hold for the apache-only, nginx-only and dual host. The hosts
are reached with testinfra's podman backend: one ``podman exec`` per check instead of one Ansible
run, which keeps this step within seconds. Every host's probes (web requests, an auth event) are
sent at once before the first test waits for one, so the scenario pays the agents' delivery delay
(multi-line wait plus batching) once, not once per probe.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import testinfra
import tomllib
import yaml
from testinfra.host import Host

HOME = "/opt/aws/amazon-cloudwatch-agent"
STORED = f"{HOME}/etc/amazon-cloudwatch-agent.d/file_gdpr_aws_monitoring_linux.json"
PREFIX = "/gdpr/molecule"
DEBIAN_PATHS = {
    "apache": {
        "/var/log/apache2/access.log": "apache/access",
        "/var/log/apache2/other_vhosts_access.log": "apache/access",
        "/var/log/apache2/error.log": "apache/error",
    },
    "nginx": {"/var/log/nginx/access.log": "nginx/access", "/var/log/nginx/error.log": "nginx/error"},
}
SCENARIO = yaml.safe_load((Path(__file__).parents[1] / "molecule.yml").read_text())
HOST_VARS = SCENARIO["provisioner"]["inventory"]["host_vars"]
testinfra_hosts = [f"podman://{name}" for name in HOST_VARS]
# auditd is installed in the image (masked: containers get no audit socket), so audit.log is
# collected; the agent waits for the file.
SYSTEM_PATHS = {
    "/var/log/auth.log": "system/auth",
    "/var/log/syslog": "system/syslog",
    "/var/log/audit/audit.log": "system/audit",
}


@pytest.fixture(scope="module")
def web(host: Host) -> dict[str, int]:
    return dict(HOST_VARS[host.backend.name]["cwagent_test_web"])


@pytest.fixture(scope="module")
def journald_only(host: Host) -> bool:
    """The host without rsyslog: auth and system messages come from the journal (test_journald.py)."""
    return bool(HOST_VARS[host.backend.name].get("cwagent_test_journald_only"))


@pytest.fixture(scope="module")
def fragment(host: Host) -> dict:
    return json.loads(host.file(STORED).content_string)


@pytest.fixture(scope="module")
def logs() -> Any:
    return boto3.client("logs", region_name="eu-west-1")


@pytest.fixture(scope="module")
def probes() -> dict[str, dict[str, str]]:
    """Per host, the probe sent through each channel (web server, ``auth``, ``vhost``), all sent now."""
    sent: dict[str, dict[str, str]] = {}
    for name, host_vars in HOST_VARS.items():
        host, web = testinfra.get_host(f"podman://{name}"), dict(host_vars["cwagent_test_web"])
        mine = sent[name] = {}
        for server, port in web.items():
            mine[server] = f"gdpr-probe-{server}-{uuid.uuid4().hex[:8]}"
            host.check_output(f"curl -s -o /dev/null http://127.0.0.1:{port}/{mine[server]}")
        mine["auth"] = f"gdpr-auth-probe-{uuid.uuid4().hex[:8]}"
        host.check_output(f"logger -p authpriv.notice {mine['auth']}")
        if len(web) == 2:  # only the dual host has the shop.test vhost
            mine["vhost"] = f"gdpr-vhost-probe-{uuid.uuid4().hex[:8]}"
            host.check_output(
                f"curl -s -o /dev/null -H 'Host: shop.test' http://127.0.0.1:{web['apache']}/{mine['vhost']}"
            )
    return sent


def expected_files(web: dict[str, int], journald_only: bool = False) -> dict[str, str]:
    files = dict(SYSTEM_PATHS)
    if journald_only:  # nothing writes auth.log or syslog there
        files = {path: source for path, source in files.items() if source == "system/audit"}
    for server in web:
        files.update(DEBIAN_PATHS[server])
    if len(web) == 2:
        files["/var/log/apache2/shop_access.log"] = "apache/access"
    return files


def test_host_image_is_debian_12_booting_systemd(host: Host, web: dict[str, int]) -> None:
    """The test image (tests/image/build.sh) as every Linux host scenario and the demo need it."""
    assert host.check_output("ps -o comm= -p 1") == "systemd"
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.split(".")[0] == "12"
    assert host.check_output("systemctl is-active multi-user.target") == "active"
    if len(web) == 2:  # prepare.yml removes from the other hosts the web servers they do not run
        assert host.package("apache2").is_installed and host.package("nginx").is_installed


def test_package_installed(host: Host) -> None:
    package = host.package("amazon-cloudwatch-agent")
    assert package.is_installed
    assert host.file(f"{HOME}/bin/CWAGENT_VERSION").content_string.strip() == package.version


def test_service_enabled_and_running(host: Host) -> None:
    service = host.service("amazon-cloudwatch-agent")
    assert service.is_enabled
    assert service.is_running
    status = json.loads(host.check_output(f"{HOME}/bin/amazon-cloudwatch-agent-ctl -a status"))
    assert status["status"] == "running"
    assert status["configstatus"] == "configured"


def test_fragment_collects_this_hosts_logs(fragment: dict, web: dict[str, int], journald_only: bool) -> None:
    entries = fragment["logs"]["logs_collected"]["files"]["collect_list"]
    got = {e["file_path"]: e["log_group_name"] for e in entries}
    want = {path: f"{PREFIX}/{source}" for path, source in expected_files(web, journald_only).items()}
    assert got == want
    journal = fragment["logs"]["logs_collected"].get("journald", {}).get("collect_list", [])
    want_journal = [f"{PREFIX}/system/auth", f"{PREFIX}/system/syslog"] if journald_only else []
    assert [e["log_group_name"] for e in journal] == want_journal
    assert all("retention_in_days" not in e for e in entries)  # the log_groups module sets retention
    assert {e["log_stream_name"] for e in entries} == {"{instance_id}"}
    assert fragment["logs"]["endpoint_override"].startswith("http://127.0.0.1:")
    assert fragment["agent"] == {"region": "eu-west-1", "run_as_user": "cwagent"}


def test_fragment_formats(fragment: dict) -> None:
    by_group = {
        e["log_group_name"].removeprefix(PREFIX + "/"): e
        for e in fragment["logs"]["logs_collected"]["files"]["collect_list"]
    }
    for source, entry in by_group.items():
        if source.endswith("/access"):
            assert entry["timestamp_format"] == "%d/%b/%Y:%H:%M:%S %z"
        elif source == "apache/error":
            assert entry["multi_line_start_pattern"].startswith("^\\[")
        elif source == "nginx/error":
            assert entry["timestamp_format"] == "%Y/%m/%d %H:%M:%S"
        elif source == "system/audit":
            assert "timestamp_format" not in entry  # epoch stamps
        else:  # Debian 12's rsyslog writes RFC 3339 stamps
            assert entry["timestamp_format"] == "%Y-%m-%dT%H:%M:%S.%f"


def test_users_fragment_survives(host: Host) -> None:
    user = host.file(f"{HOME}/etc/amazon-cloudwatch-agent.d/file_user_dpkg.json")
    assert user.exists
    assert (
        json.loads(user.content_string)["logs"]["logs_collected"]["files"]["collect_list"][0][
            "log_group_name"
        ]
        == "/custom/dpkg"
    )
    translated = host.file(f"{HOME}/etc/amazon-cloudwatch-agent.toml").content_string
    assert "/custom/dpkg" in translated
    assert f"{PREFIX}/system/auth" in translated


def test_read_access_by_group_not_chmod(host: Host, web: dict[str, int], journald_only: bool) -> None:
    assert "adm" in host.user("cwagent").groups
    # the journal is read through its group, where the agent reads it; the agent is never root
    assert ("systemd-journal" in host.user("cwagent").groups) is journald_only
    if journald_only:
        assert not host.file("/var/log/auth.log").exists
        return
    assert host.file("/var/log/auth.log").mode == 0o640
    if "apache" in web:
        assert host.file("/var/log/apache2").mode == 0o750
        assert host.file("/var/log/apache2").group == "adm"
    if "nginx" in web:
        assert host.file("/var/log/nginx/access.log").mode == 0o640
    assert "cannot read" not in host.file(f"{HOME}/logs/amazon-cloudwatch-agent.log").content_string


def test_credentials_in_common_config(host: Host, web: dict[str, int]) -> None:
    common = host.file(f"{HOME}/etc/common-config.toml").content_string
    # The agent reads the file with a TOML parser: one [credentials] table, with both settings.
    assert tomllib.loads(common)["credentials"] == {
        "shared_credential_profile": "AmazonCloudWatchAgent",
        "shared_credential_file": "/etc/gdpr-aws-test-credentials",
    }
    if set(web) == {"apache"}:  # side_effect gave this host a [credentials] table of the user's own
        assert common.startswith("# The site's own settings\n[credentials]\n")
        assert tomllib.loads(common)["proxy"] == {"no_proxy": "169.254.169.254"}
        assert "BEGIN gdpr.aws_monitoring" not in common


def test_no_user_or_home_created(host: Host) -> None:
    # The agent package creates cwagent without a home; the role adds it to groups and nothing else.
    assert host.user("cwagent").exists
    assert not host.file("/home/cwagent").exists
    assert not host.user("cwagnet").exists


def _wait_for(logs: Any, group: str, needle: str, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.filter_log_events(logGroupName=group, filterPattern=f'"{needle}"')["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if events or time.monotonic() > deadline:
            return events
        time.sleep(1)


def test_web_requests_arrive_in_their_log_group(
    host: Host, web: dict[str, int], logs: Any, probes: dict[str, dict[str, str]]
) -> None:
    hostname = host.check_output("hostname")
    for server in web:
        probe = probes[host.backend.name][server]
        events = _wait_for(logs, f"{PREFIX}/{server}/access", probe)
        assert events, f"{probe} did not arrive in {PREFIX}/{server}/access"
        assert {e["logStreamName"] for e in events} == {hostname}
        other = {"apache": "nginx", "nginx": "apache"}[server]
        if other in web:
            assert not _wait_for(logs, f"{PREFIX}/{other}/access", probe, timeout=0)


def test_auth_events_arrive_with_retention(host: Host, logs: Any, probes: dict[str, dict[str, str]]) -> None:
    probe = probes[host.backend.name]["auth"]
    assert _wait_for(logs, f"{PREFIX}/system/auth", probe), f"{probe} did not arrive in {PREFIX}/system/auth"
    group = logs.describe_log_groups(logGroupNamePrefix=f"{PREFIX}/system/auth")["logGroups"][0]
    assert group["retentionInDays"] == 365


def test_vhost_log_goes_to_apache_access(
    host: Host, web: dict[str, int], logs: Any, probes: dict[str, dict[str, str]]
) -> None:
    if len(web) < 2:
        pytest.skip("only the dual host has the shop.test vhost")
    probe = probes[host.backend.name]["vhost"]
    assert probe in host.file("/var/log/apache2/shop_access.log").content_string
    assert probe not in host.file("/var/log/apache2/access.log").content_string
    assert _wait_for(logs, f"{PREFIX}/apache/access", probe)
