"""What the role's agent configuration does to real log lines, on the Molecule hosts.

The stand-in agent (tests/cwagent_standin) follows the real agent's rules for event times,
multi-line events, log rotation and delivery across outages (its docstring says where it still
differs), so these tests show what users rely on: the role's ``timestamp_format``s parse the
lines the web servers write, its ``multi_line_start_pattern``s keep an error with its
continuation lines, and rotation or an unreachable endpoint loses and repeats nothing.

Each test acts on all hosts first and then waits for all of them, so the scenario pays each
agent's delivery delay (about 5 s multi-line wait plus the batching period: force_flush_interval,
1 s in the user's fragment from prepare.yml) once, not once per host.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import testinfra
import yaml
from testinfra.host import Host

HOME = "/opt/aws/amazon-cloudwatch-agent"
AGENT_LOG = f"{HOME}/logs/amazon-cloudwatch-agent.log"
PREFIX = "/gdpr/molecule"
ACCESS_LOG = {"apache": "/var/log/apache2/access.log", "nginx": "/var/log/nginx/access.log"}
LOGROTATE_CONF = {"apache": "/etc/logrotate.d/apache2", "nginx": "/etc/logrotate.d/nginx"}
# The user's own fragment from prepare.yml: /var/log/dpkg.log -> /custom/dpkg, no line format.
USER_FILE, USER_GROUP = "/var/log/dpkg.log", "/custom/dpkg"
USER_FRAGMENT = f"{HOME}/etc/amazon-cloudwatch-agent.d/file_user_dpkg.json"
SCENARIO = yaml.safe_load((Path(__file__).parents[1] / "molecule.yml").read_text())
HOST_VARS = SCENARIO["provisioner"]["inventory"]["host_vars"]
CONTROLLER = testinfra.get_host("local://")  # the verifier's machine: the containers' network
WAIT = 60.0  # seconds: multi-line wait + batching + a retry, with room for a loaded machine


@pytest.fixture(scope="module")
def hosts() -> dict[str, Host]:
    return {name: testinfra.get_host(f"podman://{name}") for name in HOST_VARS}


@pytest.fixture(scope="module")
def logs() -> Any:
    return boto3.client("logs", region_name="eu-west-1")


@pytest.fixture(scope="module")
def settle(hosts: dict[str, Host]) -> float:
    """One batching period and a second: a duplicate of what arrived would have been sent by then.

    The period is the agents' force_flush_interval, set in the user's fragment (the agent's default
    is 5 s); the role's fragment sets none."""
    periods = [
        json.loads(host.file(USER_FRAGMENT).content_string)["logs"].get("force_flush_interval", 5)
        for host in hosts.values()
    ]
    return float(max(periods)) + 1


def web_of(name: str) -> dict[str, int]:
    return dict(HOST_VARS[name]["cwagent_test_web"])


def append(host: Host, path: str, *lines: str) -> None:
    """Append lines with one write, as a daemon does."""
    host.check_output(f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)} >> {path}")


def events(logs: Any, group: str, needle: str) -> list[dict]:
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern=f'"{needle}"'
        )
        return [event for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def wait_until(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def arrival_counts(
    logs: Any, wanted: dict[str, list[str]], settle: float, timeout: float = WAIT
) -> dict[str, int]:
    """How often each probe arrived in its group ({group: probes}), once all arrived or time is up,
    and ``settle`` seconds more (the ``settle`` fixture: one batching period and a second)."""
    wait_until(lambda: all(events(logs, g, p) for g, probes in wanted.items() for p in probes), timeout)
    time.sleep(settle)
    return {p: len(events(logs, g, p)) for g, probes in wanted.items() for p in probes}


def once(wanted: dict[str, list[str]]) -> dict[str, int]:
    return {p: 1 for probes in wanted.values() for p in probes}


def test_access_line_arrives_with_the_time_written_in_it(hosts: dict[str, Host], logs: Any) -> None:
    """A request logged an hour ago (in another zone's offset) gets that time, not the read time."""
    zone = datetime.timezone(datetime.timedelta(hours=2))
    when = datetime.datetime.now(zone).replace(microsecond=0) - datetime.timedelta(hours=1)
    written: dict[tuple[str, str], str] = {}
    for name, host in hosts.items():
        for server in web_of(name):
            probe = f"fidelity-time-{server}-{uuid.uuid4().hex[:8]}"
            line = f'127.0.0.1 - - [{when:%d/%b/%Y:%H:%M:%S %z}] "GET /{probe} HTTP/1.1" 404 196 "-" "curl"'
            append(host, ACCESS_LOG[server], line)
            written[(name, server)] = probe
    for (name, server), probe in written.items():
        group = f"{PREFIX}/{server}/access"
        assert wait_until(lambda g=group, p=probe: bool(events(logs, g, p))), (
            f"{probe} did not arrive in {group}"
        )
        (event,) = events(logs, group, probe)
        assert event["timestamp"] == int(when.timestamp()) * 1000, f"{name}: {event}"


def test_apache_error_with_continuation_lines_is_one_event(hosts: dict[str, Host], logs: Any) -> None:
    """apache's error format, its start pattern and its %f fraction: three lines, one event, their time."""
    apache = {name: host for name, host in hosts.items() if "apache" in web_of(name)}
    assert apache, "the scenario has apache hosts"
    sent: dict[str, tuple[str, int]] = {}
    for name, host in apache.items():
        offset = host.check_output("date +%z")  # apache writes the host's local time
        zone = datetime.datetime.strptime(offset, "%z").tzinfo
        when = datetime.datetime.now(zone).replace(microsecond=654321) - datetime.timedelta(hours=1)
        probe = f"fidelity-error-{uuid.uuid4().hex[:8]}"
        lines = [
            f"[{when:%a %b %d %H:%M:%S.%f %Y}] [php:error] [pid 4242] PHP Fatal error: {probe}",
            "Stack trace:",
            "#0 {main}",
        ]
        append(host, "/var/log/apache2/error.log", *lines)
        sent[name] = ("\n".join(lines), int(when.timestamp()) * 1000 + 654)
    for name, (message, stamp) in sent.items():
        probe = message.split("\n", 1)[0].rsplit(" ", 1)[1]
        group = f"{PREFIX}/apache/error"
        assert wait_until(lambda g=group, p=probe: bool(events(logs, g, p))), f"{probe} did not arrive"
        found = [(e["message"], e["timestamp"]) for e in events(logs, group, probe)]
        assert found == [(message, stamp)], name
        assert not events(logs, group, "Stack trace:") or all(
            e["message"].startswith("[") for e in events(logs, group, "Stack trace:")
        ), "a continuation line arrived as an event of its own"


def test_logrotate_create_right_after_writing_loses_and_repeats_nothing(
    hosts: dict[str, Host], logs: Any, settle: float
) -> None:
    """Debian's own logrotate configs (create mode, reload) run straight after requests."""
    probes: dict[str, list[str]] = {}
    for name, host in hosts.items():
        for server, port in web_of(name).items():
            before = [f"fidelity-rotate-{server}-{n}-{uuid.uuid4().hex[:8]}" for n in range(5)]
            for probe in before:
                host.check_output(f"curl -s -o /dev/null http://127.0.0.1:{port}/{probe}")
            host.check_output(f"logrotate -f {LOGROTATE_CONF[server]}")
            assert host.file(f"{ACCESS_LOG[server]}.1").exists, "logrotate rotated the access log"
            # the server reopens its log on reload; from then on requests go to the new file
            assert wait_until(lambda h=host, s=server, p=port: _reopened(h, s, p), timeout=30), name
            after = f"fidelity-rotate-after-{server}-{uuid.uuid4().hex[:8]}"
            host.check_output(f"curl -s -o /dev/null http://127.0.0.1:{port}/{after}")
            probes.setdefault(server, []).extend([*before, after])
    wanted = {f"{PREFIX}/{server}/access": sent for server, sent in probes.items()}
    assert arrival_counts(logs, wanted, settle) == once(wanted)


def _reopened(host: Host, server: str, port: int) -> bool:
    marker = f"fidelity-reopen-{uuid.uuid4().hex[:8]}"
    host.check_output(f"curl -s -o /dev/null http://127.0.0.1:{port}/{marker}")
    return host.run(f"grep -qF {marker} {ACCESS_LOG[server]}").rc == 0


def test_logrotate_copytruncate_loses_and_repeats_nothing(
    hosts: dict[str, Host], logs: Any, settle: float
) -> None:
    """copytruncate: lines already read are not sent again, lines written after it all arrive.

    Lines written between the copy and the truncation are lost by any reader (logrotate's own
    warning), so the lines before it are waited for first.
    """
    conf = "/etc/gdpr-fidelity-copytruncate.conf"
    run_id = uuid.uuid4().hex[:8]
    before = {name: [f"fidelity-ct-{run_id}-{name}-before-{n}" for n in range(10)] for name in hosts}
    after = {name: [f"fidelity-ct-{run_id}-{name}-after-{n}" for n in range(2)] for name in hosts}
    for name, host in hosts.items():
        append(host, USER_FILE, *before[name])
    for name in hosts:
        assert wait_until(lambda n=name: all(events(logs, USER_GROUP, p) for p in before[n])), name
    for name, host in hosts.items():
        host.check_output(f"printf '%s\\n' '{USER_FILE} {{' copytruncate 'rotate 1' missingok '}}' > {conf}")
        host.check_output(f"logrotate -f -s /run/gdpr-fidelity-logrotate.status {conf}")
        append(host, USER_FILE, *after[name])
    wanted = {USER_GROUP: [p for name in hosts for p in before[name] + after[name]]}
    assert arrival_counts(logs, wanted, settle) == once(wanted)


class Outage:
    """The embedded AWS refusing the agents' connections, from ``start()`` until ``end()``.

    The containers share the controller's network namespace, so an OUTPUT rule matching the
    agents' user id (cwagent) and moto's port refuses exactly their connections (as a dead
    endpoint does: connection refused); the verifier (root) still reads CloudWatch.
    """

    def __init__(self, port: int, uids: set[int]) -> None:
        self.rules = [
            ["OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", str(port), "-m", "owner", "--uid-owner",
             str(uid), "-j", "REJECT", "--reject-with", "tcp-reset"]
            for uid in sorted(uids)
        ]  # fmt: skip
        self.inserted: list[list[str]] = []

    def start(self) -> None:
        for rule in self.rules:
            CONTROLLER.check_output(shlex.join(["iptables", "-I", *rule]))
            self.inserted.append(rule)

    def end(self) -> None:
        while self.inserted:
            CONTROLLER.check_output(shlex.join(["iptables", "-D", *self.inserted.pop()]))


@pytest.fixture
def outage(hosts: dict[str, Host]) -> Iterator[Outage]:
    uids = set()
    for host in hosts.values():
        pid = host.check_output("systemctl show -p MainPID --value amazon-cloudwatch-agent")
        uids.add(int(host.check_output(f"ps -o uid= -p {pid}")))
    assert 0 not in uids, "the agents run as cwagent, not root (a root rule would block the verifier)"
    blocked = Outage(urllib.parse.urlsplit(os.environ["AWS_URL"]).port or 0, uids)
    try:
        yield blocked
    finally:
        blocked.end()  # whatever happened in the test


def _failures(host: Host) -> int:
    """Failed PutLogEvents the agent has logged so far."""
    return int(host.run(f"grep -c 'PutLogEvents to .* failed' {AGENT_LOG}").stdout.strip() or 0)


def test_lines_written_during_an_outage_arrive_after_it(
    hosts: dict[str, Host], logs: Any, outage: Outage, settle: float
) -> None:
    """Requests logged while the endpoint refuses connections arrive, once, after it is back."""
    failures = {name: _failures(host) for name, host in hosts.items()}
    outage.start()
    probes: dict[str, list[str]] = {}
    for name, host in hosts.items():
        for server, port in web_of(name).items():
            probe = f"fidelity-outage-{server}-{uuid.uuid4().hex[:8]}"
            host.check_output(f"curl -s -o /dev/null http://127.0.0.1:{port}/{probe}")
            probes.setdefault(server, []).append(probe)
    for name, host in hosts.items():  # every agent with a probe tried and failed: the outage was real
        if web_of(name):
            assert wait_until(lambda h=host, n=name: _failures(h) > failures[n]), (
                f"{name} never failed to send"
            )
    for server, wanted in probes.items():
        assert not any(events(logs, f"{PREFIX}/{server}/access", p) for p in wanted), "sent during the outage"
    outage.end()
    wanted = {f"{PREFIX}/{server}/access": sent for server, sent in probes.items()}
    # the agent's longest wait between retries is a minute
    assert arrival_counts(logs, wanted, settle, timeout=90) == once(wanted)


def test_a_deleted_log_group_is_created_again(hosts: dict[str, Host], logs: Any, settle: float) -> None:
    """The group disappears (deleted by hand); the agents' next lines recreate it and arrive."""
    logs.delete_log_group(logGroupName=USER_GROUP)
    probes = {name: f"fidelity-recreated-{name}-{uuid.uuid4().hex[:8]}" for name in hosts}
    for name, host in hosts.items():
        append(host, USER_FILE, probes[name])
    wanted = {USER_GROUP: list(probes.values())}
    assert arrival_counts(logs, wanted, settle) == once(wanted)
