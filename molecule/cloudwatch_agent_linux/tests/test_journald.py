"""The journald-only host (rsyslog removed in prepare): security logs from the journal (issue 15).

An authpriv message from ``logger``, a failed ``su`` and an sshd-style entry (facility auth) are
written on the host and must arrive, once each, in ``<prefix>/system/auth``, the group that holds
auth.log elsewhere; a user message goes to ``<prefix>/system/syslog`` and no auth entry does. An
agent restart (stopped while entries are written) neither repeats nor loses any. The agent reads
the journal as cwagent through the systemd-journal group.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import testinfra
import yaml
from testinfra.host import Host

PREFIX = "/gdpr/molecule"
AUTH, SYSLOG = f"{PREFIX}/system/auth", f"{PREFIX}/system/syslog"
AGENT_LOG = "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log"
SCENARIO = yaml.safe_load((Path(__file__).parents[1] / "molecule.yml").read_text())
HOSTS = [
    name
    for name, host_vars in SCENARIO["provisioner"]["inventory"]["host_vars"].items()
    if host_vars.get("cwagent_test_journald_only")
]
WAIT = 60.0


@pytest.fixture(scope="module")
def host() -> Host:
    (name,) = HOSTS
    return testinfra.get_host(f"podman://{name}")


@pytest.fixture(scope="module")
def logs() -> Any:
    return boto3.client("logs", region_name="eu-west-1")


def messages(logs: Any, group: str, needle: str, since_ms: int = 0) -> list[dict]:
    """The journal entries (JSON, as the agent ships them) in ``group`` whose text holds ``needle``."""
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern=f'"{needle}"', startTime=since_ms
        )
        return [json.loads(event["message"]) for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def from_su(logs: Any, group: str, since_ms: int) -> list[dict]:
    """Entries su wrote (its FAILED SU line, pam_unix's authentication failure), by their identifier."""
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=since_ms)
        found = [json.loads(event["message"]) for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [entry for entry in found if entry.get("SYSLOG_IDENTIFIER") == "su"]


def wait_for(logs: Any, group: str, needles: list[str], since_ms: int = 0) -> dict[str, list[dict]]:
    deadline = time.monotonic() + WAIT
    while True:
        found = {needle: messages(logs, group, needle, since_ms) for needle in needles}
        if all(found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_agent_reads_the_journal_as_cwagent(host: Host) -> None:
    pid = host.check_output("systemctl show -p MainPID --value amazon-cloudwatch-agent")
    assert host.check_output(f"ps -o user= -p {pid}") == "cwagent"
    assert "systemd-journal" in host.user("cwagent").groups
    assert not host.package("rsyslog").is_installed
    # without the group journalctl would warn that it sees only the user's own entries
    assert "insufficient permissions" not in host.file(AGENT_LOG).content_string


def test_auth_events_arrive_in_the_auth_group_once_and_not_in_syslog(host: Host, logs: Any) -> None:
    run = uuid.uuid4().hex[:8]
    since = int(time.time() * 1000) - 1000
    notice, sshd, user = f"gdpr-j-notice-{run}", f"gdpr-j-sshd-{run}", f"gdpr-j-user-{run}"
    host.check_output(f"logger -p authpriv.notice {notice}")
    attempt = f"Failed password for invalid user {sshd} from 192.0.2.7 port 52110 ssh2"
    host.check_output(f"logger -p auth.info -t 'sshd[4242]' '{attempt}'")
    # su as nobody with no password on stdin: PAM fails it and su logs to authpriv
    failed = host.run("setpriv --reuid=65534 --regid=65534 --clear-groups su root -c true < /dev/null")
    assert failed.rc != 0
    host.check_output(f"logger -p user.warning {user}")
    found = wait_for(logs, AUTH, [notice, sshd], since)
    assert [e["MESSAGE"] for e in found[notice]] == [notice]
    assert [e["SYSLOG_FACILITY"] for e in found[notice]] == ["10"]
    (sshd_entry,) = found[sshd]
    assert sshd_entry["SYSLOG_IDENTIFIER"] == "sshd" and sshd_entry["SYSLOG_FACILITY"] == "4"
    su_entries = from_su(logs, AUTH, since)
    assert su_entries, "the failed su did not arrive"
    assert {e["SYSLOG_FACILITY"] for e in su_entries} <= {"4", "10"}
    assert any(re.search(r"FAILED SU|authentication failure", e["MESSAGE"]) for e in su_entries), su_entries
    # system messages go to syslog; no auth entry is sent twice
    assert [e["MESSAGE"] for e in wait_for(logs, SYSLOG, [user], since)[user]] == [user]
    for needle in (notice, sshd):
        assert not messages(logs, SYSLOG, needle, since), needle
    assert not from_su(logs, SYSLOG, since)
    assert not messages(logs, AUTH, user, since)


def test_an_agent_restart_neither_repeats_nor_loses_entries(host: Host, logs: Any) -> None:
    run = uuid.uuid4().hex[:8]
    before, stopped, after = (f"gdpr-j-restart-{run}-{when}" for when in ("before", "stopped", "after"))
    host.check_output(f"logger -p authpriv.notice {before}")
    assert wait_for(logs, AUTH, [before])[before]
    host.check_output("systemctl stop amazon-cloudwatch-agent")
    host.check_output(f"logger -p authpriv.notice {stopped}")  # written while the agent is down
    host.check_output("systemctl start amazon-cloudwatch-agent")
    host.check_output(f"logger -p authpriv.notice {after}")
    found = wait_for(logs, AUTH, [stopped, after])
    # 'after' is read last: an entry the restart repeated or lost would show by now
    assert {needle: len(found[needle]) for needle in (stopped, after)} == {stopped: 1, after: 1}
    assert len(messages(logs, AUTH, before)) == 1
