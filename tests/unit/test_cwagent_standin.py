"""Unit tests of the CloudWatch agent stand-in used by the Linux Molecule scenario.

The stand-in is test infrastructure, but the scenario's claims rest on it rejecting what the real
translator rejects, keeping the running config on rejection, signing requests correctly, and
shipping events the way the real agent does. The expected values below are the real agent's
documented rules and its own unit tests' cases (github aws/amazon-cloudwatch-agent:
internal/util/timestamp/timestamp_test.go, plugins/inputs/logfile/fileconfig_test.go,
tailersrc.go, tail/tail.go, plugins/outputs/cloudwatchlogs/internal/pusher/sender.go, retry.go,
target.go). The pipeline runs on a fake clock; AWS is either a fake with an on/off switch or the
embedded moto behind the fault proxy.
"""

from __future__ import annotations

import calendar
import datetime
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "cwagent_standin" / "cwagent_standin.py"


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CWAGENT_STANDIN_HOME", str(tmp_path))
    spec = importlib.util.spec_from_file_location("cwagent_standin_under_test", SOURCE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    (tmp_path / "etc" / "amazon-cloudwatch-agent.d").mkdir(parents=True)
    monkeypatch.setattr(module.os, "geteuid", lambda: 0)
    restarts: list[tuple] = []
    monkeypatch.setattr(module, "_systemctl", lambda *args: restarts.append(args) or 0)
    module.restarts = restarts
    yield module
    sys.modules.pop(spec.name, None)


def fragment(*entries: dict, **logs: object) -> dict:
    return {"logs": {"logs_collected": {"files": {"collect_list": list(entries)}}, **logs}}


def entry(path: str = "/var/log/syslog", group: str = "/g/syslog", days: int = 365, **extra: object) -> dict:
    return {"file_path": path, "log_group_name": group, "retention_in_days": days, **extra}


def write(tmp_path: Path, name: str, content: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return path


def test_append_stores_file_name_translates_and_restarts(agent, tmp_path: Path) -> None:
    user = agent.JSON_DIR / "file_user.json"
    user.write_text(json.dumps(fragment(entry("/var/log/dpkg.log", "/custom/dpkg", 30))))
    src = write(tmp_path, "mine.json", fragment(entry()))
    assert agent.ctl_main(["-a", "append-config", "-m", "onPremise", "-c", f"file:{src}", "-s"]) == 0
    assert json.loads((agent.JSON_DIR / "file_mine.json").read_text()) == fragment(entry())
    assert user.exists()
    merged = agent.load_translated()
    groups = {e["log_group_name"] for e in merged["logs"]["logs_collected"]["files"]["collect_list"]}
    assert groups == {"/custom/dpkg", "/g/syslog"}
    assert ("restart", agent.SERVICE) in agent.restarts


def test_force_flush_interval_of_any_fragment_is_the_agents(agent, tmp_path: Path) -> None:
    """A user's fragment sets the batching period (the Molecule scenario's does, to wait less); the
    daemon batches by it, and a fragment that sets another one is refused, as the translator does."""
    user = fragment(entry("/var/log/u", "/g/user"), force_flush_interval=1)
    (agent.JSON_DIR / "file_user.json").write_text(json.dumps(user))
    src = write(tmp_path, "mine.json", fragment(entry()))
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 0
    assert agent.Agent(agent.load_translated(), client=None).flush_seconds == 1
    write(tmp_path, "mine.json", fragment(entry(), force_flush_interval=5))
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 1
    assert "Different values are specified for force_flush_interval" in agent.VALIDATION_LOG.read_text()


def test_fetch_config_replaces_all_and_remove_config_removes_one(agent, tmp_path: Path) -> None:
    (agent.JSON_DIR / "file_user.json").write_text(json.dumps(fragment(entry("/a", "/a"))))
    src = write(tmp_path, "mine.json", fragment(entry()))
    assert agent.ctl_main(["-a", "fetch-config", "-c", f"file:{src}"]) == 0
    assert sorted(p.name for p in agent.JSON_DIR.iterdir()) == ["file_mine.json"]
    assert agent.ctl_main(["-a", "remove-config", "-c", f"file:{src}"]) == 0
    assert list(agent.JSON_DIR.iterdir()) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (fragment(entry(colour="red")), "Additional property colour is not allowed"),
        (fragment(entry(days=42)), "retention_in_days must be one of"),
        (fragment(entry(timezone="CET")), "must be Local or UTC"),
        (fragment(entry(), unknown_key=1), "Additional property unknown_key is not allowed"),
        ({"logs": {}, "nonsense": {}}, "Additional property nonsense is not allowed"),
        (fragment(entry(group="/g/user", days=30)), "Different retention_in_days values"),
        (fragment(entry("/x", "/x"), endpoint_override="http://other"), "Different values are specified"),
    ],
)
def test_rejected_config_keeps_the_running_one(agent, tmp_path: Path, bad: dict, message: str) -> None:
    (agent.JSON_DIR / "file_user.json").write_text(
        json.dumps(fragment(entry("/var/log/u", "/g/user", 365), endpoint_override="http://moto"))
    )
    good = write(tmp_path, "mine.json", fragment(entry()))
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{good}"]) == 0
    toml_before = agent.TOML.read_text()
    write(tmp_path, "mine.json", bad)
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{good}", "-s"]) == 1
    assert message in agent.VALIDATION_LOG.read_text()
    assert agent.TOML.read_text() == toml_before
    assert not agent.restarts


def test_invalid_json_is_rejected(agent, tmp_path: Path) -> None:
    src = tmp_path / "broken.json"
    src.write_text("{not json")
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 1
    assert "Invalid Json input" in agent.VALIDATION_LOG.read_text()
    assert not agent.TOML.exists()


def test_bad_mode_and_action(agent) -> None:
    assert agent.ctl_main(["-a", "append-config", "-m", "cloud", "-c", "file:/x"]) == 1
    assert agent.ctl_main(["-a", "dance"]) == 1


def test_sigv4_matches_botocore(agent, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon signs like botocore does, so a real endpoint would accept its requests."""
    import botocore.auth
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    now = datetime.datetime(2026, 1, 15, 10, 0, 0, tzinfo=datetime.timezone.utc)
    body = b'{"logGroupName": "/g"}'
    ours = agent.sigv4_headers(
        "http://127.0.0.1:5000", "eu-west-1", "CreateLogGroup", body, ("AK", "SK", None), now
    )
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:5000/",
        data=body,
        headers={k: v for k, v in ours.items() if k not in ("authorization", "x-amz-date")},
    )
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    SigV4Auth(Credentials("AK", "SK"), "logs", "eu-west-1").add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]


def test_fragment_with_or_without_retention_is_accepted(agent, tmp_path: Path) -> None:
    """The agent's schema makes retention_in_days optional; fragments without it translate."""
    without = {k: v for k, v in entry().items() if k != "retention_in_days"}
    src = write(tmp_path, "mine.json", fragment(without, entry("/var/log/auth.log", "/g/auth")))
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 0


def test_invalid_timestamp_format_is_rejected(agent, tmp_path: Path) -> None:
    src = write(tmp_path, "mine.json", fragment(entry(timestamp_format="%Y\\")))
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 1
    assert "Timestamp format %Y\\ is invalid" in agent.VALIDATION_LOG.read_text()


# --- event times ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "regex"),
    [  # timestamp_test.go's expectations (without its named group)
        ("%Y-%m-%d %H:%M:%S", r"(\d{4}-\s{0,1}\d{1,2}-\s{0,1}\d{1,2} \d{2}:\d{2}:\d{2})"),
        ("%Y-%m-%d %H:%M:%S.%f", r"(\d{4}-\s{0,1}\d{1,2}-\s{0,1}\d{1,2} \d{2}:\d{2}:\d{2}\.(\d{1,9}))"),
        ("%b %d %H:%M:%S", r"(\w{3} \s{0,1}\d{1,2} \d{2}:\d{2}:\d{2})"),
        ("%Y-%m-%d %I:%M:%S %p", r"(\d{4}-\s{0,1}\d{1,2}-\s{0,1}\d{1,2} \d{2}:\d{2}:\d{2} \w{2})"),
        ("%-m/%-d/%Y %H:%M:%S", r"(\d{1,2}/\s{0,1}\d{1,2}/\d{4} \d{2}:\d{2}:\d{2})"),
        ("%Y.%m.%d", r"(\d{4}\.\s{0,1}\d{1,2}\.\s{0,1}\d{1,2})"),
        ("%d/%b/%Y:%H:%M:%S %z", r"(\d{1,2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})"),
    ],
)
def test_timestamp_regex_is_the_agents(agent, fmt: str, regex: str) -> None:
    assert agent.timestamp_regex(fmt) == regex


def stamp(agent: Any, fmt: str, line: str, now: float = 0.0, **entry_keys: str) -> int | None:
    return agent.LineFormat({"file_path": "/x", "timestamp_format": fmt, **entry_keys}).timestamp(
        line, now or time.time()
    )


def utc_ms(*parts: int) -> int:
    return calendar.timegm((*parts[:6], 0, 0, 0)) * 1000 + (parts[6] if len(parts) > 6 else 0)


def test_timestamp_fraction_and_zone_name(agent) -> None:
    """fileconfig_test.go TestTimestampParserWithFracSeconds: %f keeps milliseconds; the first stamp wins."""
    fmt = "%d %b %Y %H:%M:%S,%f %Z"
    line = "19 Jun 2017 14:25:18,234088 UTC [INFO] first\n19 Jun 2017 14:25:19,123456 UTC [INFO] second"
    assert stamp(agent, fmt, line, timezone="UTC") == 1497882318234


@pytest.mark.parametrize("day", ["Sep 9", "Sep  9", "Sep 09", "Sep  09"])
def test_timestamp_day_padding_and_this_year(agent, day: str) -> None:
    """TestTimestampParserDefault: %d takes "9", " 9", "09"; a stamp without a year is this year's."""
    now = utc_ms(2026, 11, 28, 5, 0, 0) / 1000
    assert stamp(agent, "%b %d %H:%M:%S", f"{day} 02:00:43  ip-10-4-213-132", now, timezone="UTC") == utc_ms(
        2026, 9, 9, 2, 0, 43
    )


def test_timestamp_without_year_more_than_a_month_ahead_is_last_year(agent) -> None:
    now = utc_ms(2026, 1, 2, 0, 0, 0) / 1000
    assert stamp(agent, "%b %d %H:%M:%S", "Dec 31 23:59:59 host sshd", now, timezone="UTC") == utc_ms(
        2025, 12, 31, 23, 59, 59
    )


@pytest.mark.parametrize(
    ("fmt", "line", "expected"),
    [
        # apache error.log: %f has six digits, the agent keeps three
        (
            "%a %b %d %H:%M:%S.%f %Y",
            "[Wed Oct 11 14:32:52.123456 2000] [core:error] x",
            utc_ms(2000, 10, 11, 14, 32, 52, 123),
        ),
        # one digit of fraction is padded: .5 is 500 ms
        ("%Y-%m-%dT%H:%M:%S.%f", "2024-01-15T10:00:00.5+01:00 host x", utc_ms(2024, 1, 15, 10, 0, 0, 500)),
        # the combined log format: the offset in the line wins over the timezone setting
        (
            "%d/%b/%Y:%H:%M:%S %z",
            '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1"',
            utc_ms(2000, 10, 10, 20, 55, 36),
        ),
        (
            "%Y/%m/%d %H:%M:%S",
            "2024/01/15 10:00:00 [error] 1234#1234: *1 open()",
            utc_ms(2024, 1, 15, 10, 0, 0),
        ),
        ("%Y-%m-%d %I:%M:%S %p", "2024-01-15 01:02:03 PM x", utc_ms(2024, 1, 15, 13, 2, 3)),
        ("%Y-%m-%d %I:%M:%S %p", "2024-01-15 12:02:03 AM x", utc_ms(2024, 1, 15, 0, 2, 3)),
        ("%-m/%-d/%y %H:%M:%S", "1/5/24 07:10:06 x", utc_ms(2024, 1, 5, 7, 10, 6)),
        # %B's regex is \w{7}: only seven-letter month names match (the agent's table, kept)
        ("%B %d %Y", "October 5 2024", utc_ms(2024, 10, 5, 0, 0, 0)),
        ("%B %d %Y", "May 5 2024", None),
        ("%Y-%m-%d", "2024-02-30", None),  # Go refuses a day out of range
        ("%Y-%m-%d %H:%M:%S", "no time stamp here", None),
    ],
)
def test_timestamp_formats(agent, fmt: str, line: str, expected: int | None) -> None:
    assert stamp(agent, fmt, line, timezone="UTC") == expected


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_timezone_local_and_utc(agent, berlin) -> None:
    """timezone Local (the default) reads an offset-less stamp in the host's zone; UTC in UTC."""
    line = "2024-01-15T10:00:00.123456+01:00 host sshd[1]: x"
    fmt = "%Y-%m-%dT%H:%M:%S.%f"
    assert stamp(agent, fmt, line) == utc_ms(2024, 1, 15, 9, 0, 0, 123)
    assert stamp(agent, fmt, line, timezone="Local") == utc_ms(2024, 1, 15, 9, 0, 0, 123)
    assert stamp(agent, fmt, line, timezone="UTC") == utc_ms(2024, 1, 15, 10, 0, 0, 123)
    # a zone name the local zone uses means its offset (Go's ParseInLocation)
    assert stamp(agent, "%Y-%m-%d %H:%M:%S %Z", "2024-01-15 10:00:00 CET") == utc_ms(2024, 1, 15, 9, 0, 0)


# --- multi-line events ---------------------------------------------------------------------------

NGINX = {
    "file_path": "/x",
    "timestamp_format": "%Y/%m/%d %H:%M:%S",
    "multi_line_start_pattern": "{timestamp_format}",
}
APACHE = {
    "file_path": "/x",
    "timestamp_format": "%a %b %d %H:%M:%S.%f %Y",
    "multi_line_start_pattern": r"^\[\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2}",
}
APACHE_ERROR = [
    "[Sat Nov 28 04:00:00.123456 2026] [php:error] [pid 7] PHP Fatal error:  Uncaught Exception: boom",
    "Stack trace:",
    "#0 {main}",
]


def assemble(agent: Any, entry: dict, lines: list[str], at: float = 0.0) -> tuple[Any, list[str]]:
    assembler = agent.Assembler(agent.LineFormat(entry))
    out: list[str] = []
    for number, line in enumerate(lines):
        out += [event[0] for event in assembler.add(line, number + 1, at)]
    return assembler, out


def test_multiline_apache_error_is_one_event_published_after_five_seconds(agent) -> None:
    assembler, out = assemble(agent, APACHE, APACHE_ERROR)
    assert out == []  # the last event waits for the next start or the flush timer
    assert assembler.due(4.9) == []
    assert assembler.due(5.0) == [("\n".join(APACHE_ERROR), 3)]


def test_multiline_timestamp_format_pattern(agent) -> None:
    lines = ["2024/01/15 10:00:00 [error] a", "  continued", "not a stamp", "2024/01/15 10:00:01 [error] b"]
    assembler, out = assemble(agent, NGINX, lines)
    assert out == ["2024/01/15 10:00:00 [error] a\n  continued\nnot a stamp"]
    assert assembler.flush() == [("2024/01/15 10:00:01 [error] b", 4)]


def test_multiline_default_pattern_joins_indented_lines(agent) -> None:
    """Without multi_line_start_pattern the agent uses ^[\\S]: indented lines continue the event."""
    out = assemble(agent, {"file_path": "/x"}, ["Exception in main", "    at a.b(c.java:1)", "next", "last"])[
        1
    ]
    assert out == ["Exception in main\n    at a.b(c.java:1)", "next"]


def test_multiline_timestamp_pattern_without_format_starts_nothing(agent) -> None:
    assembler, out = assemble(
        agent, {"file_path": "/x", "multi_line_start_pattern": "{timestamp_format}"}, ["a", "b"]
    )
    assert out == []
    assert assembler.flush() == [("a\nb", 2)]


# --- the pipeline: files -> PutLogEvents -----------------------------------------------------------


class FakeLogs:
    """CloudWatch Logs as the agent sees it: groups, streams, an outage switch, a call log."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.groups: dict[str, dict] = {}
        self.down = False
        self.calls: list[str] = []

    def events(self, group: str) -> list[dict]:
        return [e for stream in self.groups.get(group, {}).get("streams", {}).values() for e in stream]

    def messages(self, group: str) -> list[str]:
        return [e["message"] for e in self.events(group)]

    def call(self, operation: str, payload: dict) -> dict:
        self.calls.append(operation)
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        name = payload.get("logGroupName", "")
        group = self.groups.get(name)
        if operation == "CreateLogGroup":
            if group is not None:
                raise self.agent.AwsError("ResourceAlreadyExistsException", 400, "exists")
            self.groups[name] = {"streams": {}, "retention": None}
            return {}
        if operation == "DescribeLogGroups":
            return {
                "logGroups": [
                    {"logGroupName": n, "retentionInDays": g["retention"]} for n, g in self.groups.items()
                ]
            }
        if group is None:
            raise self.agent.AwsError(
                "ResourceNotFoundException", 400, "The specified log group does not exist."
            )
        if operation == "PutRetentionPolicy":
            group["retention"] = payload["retentionInDays"]
        elif operation == "CreateLogStream":
            group["streams"].setdefault(payload["logStreamName"], [])
        elif operation == "PutLogEvents":
            if payload["logStreamName"] not in group["streams"]:
                raise self.agent.AwsError(
                    "ResourceNotFoundException", 400, "The specified log stream does not exist."
                )
            group["streams"][payload["logStreamName"]] += payload["logEvents"]
        return {}


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def pipeline(agent: Any, client: Any, *entries: dict, flush: int = 5) -> tuple[Any, Clock]:
    agent.STATE.mkdir(parents=True, exist_ok=True)
    agent.LOGS.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    config = {
        "logs": {"force_flush_interval": flush, "logs_collected": {"files": {"collect_list": list(entries)}}}
    }
    return agent.Agent(config, client, clock), clock


def run(pipe: Any, clock: Clock, seconds: float) -> None:
    for _step in range(int(seconds / 0.25)):
        pipe.step()
        clock.now += 0.25


def append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        handle.writelines(f"{line}\n" for line in lines)


def saved_offset(agent: Any, path: Path) -> int:
    state = agent.STATE / "".join(c if c.isalnum() else "_" for c in str(path))
    return int(state.read_text().split()[0]) if state.exists() else 0


@pytest.fixture
def fake(agent) -> FakeLogs:
    return FakeLogs(agent)


def test_rotation_create_mode_loses_and_repeats_nothing(agent, fake: FakeLogs, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    pipe, clock = pipeline(agent, fake, {"file_path": str(log), "log_group_name": "/g"})
    run(pipe, clock, 1)
    append(log, "a1", "a2")
    log.rename(tmp_path / "access.log.1")  # logrotate create: rename, then a new file at the path
    append(tmp_path / "access.log.1", "a3")  # the daemon writes to its open file until reloaded
    log.write_text("")
    append(log, "b1", "b2")
    run(pipe, clock, 15)
    assert fake.messages("/g") == ["a1", "a2", "a3", "b1", "b2"]
    assert saved_offset(agent, log) == log.stat().st_size


def test_rotation_copytruncate_loses_and_repeats_nothing(agent, fake: FakeLogs, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, *(f"before {n}" for n in range(10)))
    pipe, clock = pipeline(agent, fake, {"file_path": str(log), "log_group_name": "/g"})
    run(pipe, clock, 12)
    assert len(fake.messages("/g")) == 10
    shutil.copy(log, tmp_path / "app.log.1")  # logrotate copytruncate: copy, then truncate in place
    os.truncate(log, 0)
    run(pipe, clock, 0.5)
    append(log, "after 1", "after 2")
    run(pipe, clock, 12)
    assert fake.messages("/g") == [f"before {n}" for n in range(10)] + ["after 1", "after 2"]
    assert saved_offset(agent, log) == log.stat().st_size


def test_new_files_are_read_from_the_start_and_restarts_resume(agent, fake: FakeLogs, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "one", "two")
    pipe, clock = pipeline(agent, fake, {"file_path": str(log), "log_group_name": "/g"})
    run(pipe, clock, 12)
    append(log, "three")
    run(pipe, clock, 1)  # read, not yet sent: the state file still points before it
    assert fake.messages("/g") == ["one", "two"]
    restarted, clock2 = pipeline(agent, fake, {"file_path": str(log), "log_group_name": "/g"})
    run(restarted, clock2, 12)
    assert fake.messages("/g") == ["one", "two", "three"]


def test_outage_buffers_and_delivers_after_it(agent, fake: FakeLogs, tmp_path: Path) -> None:
    """Lines written while the endpoint is unreachable arrive once it is back; the state waits for them."""
    log = tmp_path / "app.log"
    log.write_text("")
    pipe, clock = pipeline(agent, fake, {"file_path": str(log), "log_group_name": "/g"})
    run(pipe, clock, 1)
    fake.down = True
    append(log, "during 1", "during 2")
    run(pipe, clock, 30)
    assert fake.calls.count("PutLogEvents") >= 3  # retried
    assert saved_offset(agent, log) == 0  # nothing delivered, nothing marked read
    fake.down = False
    run(pipe, clock, 65)  # the longest retry wait is one minute
    assert fake.messages("/g") == ["during 1", "during 2"]
    assert saved_offset(agent, log) == log.stat().st_size


def test_retry_waits_follow_the_agent(agent) -> None:
    """retry.go: refused connections wait 1-2 s, 2-4 s, then 30-60 s; other errors 0.1-0.2 s doubling."""
    refused = ConnectionRefusedError(111, "refused")
    assert [agent.retry_wait(refused, 0, n)[1] for n in range(3)] == [True] * 3
    for count, (low, high) in enumerate([(1, 2), (2, 4), (30, 60), (30, 60)]):
        assert low <= agent.retry_wait(refused, 0, count)[0] <= high
    other = agent.AwsError("AccessDeniedException", 400, "no")
    assert 0.1 <= agent.retry_wait(other, 0, 0)[0] <= 0.2
    assert 1.6 <= agent.retry_wait(other, 4, 0)[0] <= 3.2
    assert 30 <= agent.retry_wait(other, 5, 0)[0] <= 60
    assert agent.retry_wait(agent.AwsError("ServiceUnavailableException", 503, "x"), 0, 0)[1]


def test_event_time_falls_back_to_last_valid_then_now(agent, fake: FakeLogs, tmp_path: Path) -> None:
    log = tmp_path / "nginx.log"
    append(log, "no stamp yet", "2026/11/28 03:00:00 [error] stamped", "2026/11/28 03:00:01 x", "  continued")
    entry = {
        **NGINX,
        "file_path": str(log),
        "log_group_name": "/g",
        "multi_line_start_pattern": r"^\S",
        "timezone": "UTC",
    }
    pipe, clock = pipeline(agent, fake, entry)
    clock.now = utc_ms(2026, 11, 28, 4, 0, 0) / 1000
    run(pipe, clock, 12)
    times = {e["message"]: e["timestamp"] for e in fake.events("/g")}
    read_time = times.pop("no stamp yet")  # the time it was read: nothing valid came before it
    assert utc_ms(2026, 11, 28, 4, 0, 0) <= read_time <= utc_ms(2026, 11, 28, 4, 0, 1)
    assert times == {
        "2026/11/28 03:00:00 [error] stamped": utc_ms(2026, 11, 28, 3, 0, 0),
        "2026/11/28 03:00:01 x\n  continued": utc_ms(2026, 11, 28, 3, 0, 1),
    }
    # sent in time order, as PutLogEvents requires
    assert [e["timestamp"] for e in fake.events("/g")] == sorted([read_time, *times.values()])


def test_too_old_events_are_dropped_and_filters_apply(agent, fake: FakeLogs, tmp_path: Path) -> None:
    log = tmp_path / "nginx.log"
    append(log, "2020/01/01 00:00:00 ancient", "2026/11/28 03:00:00 keep me", "2026/11/28 03:00:01 drop me")
    entry = {**NGINX, "file_path": str(log), "log_group_name": "/g", "timezone": "UTC"}
    entry["filters"] = [{"type": "exclude", "expression": "drop"}]
    pipe, clock = pipeline(agent, fake, entry)
    clock.now = utc_ms(2026, 11, 28, 4, 0, 0) / 1000
    run(pipe, clock, 12)
    assert fake.messages("/g") == ["2026/11/28 03:00:00 keep me"]
    assert saved_offset(agent, log) == log.stat().st_size


def test_deleted_group_is_recreated(agent, fake: FakeLogs, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, "first")
    entry = {
        "file_path": str(log),
        "log_group_name": "/g",
        "retention_in_days": 30,
        "log_group_class": "STANDARD",
    }
    pipe, clock = pipeline(agent, fake, entry)
    run(pipe, clock, 12)
    assert fake.messages("/g") == ["first"]
    del fake.groups["/g"]
    append(log, "second")
    run(pipe, clock, 12)
    assert fake.messages("/g") == ["second"]
    assert fake.groups["/g"]["retention"] == 30


def test_moto_outage_and_group_recreation(agent, faulty_aws: Any, tmp_path: Path) -> None:
    """Against the embedded AWS: the endpoint dies (connections refused), comes back, the group is deleted."""
    import boto3

    log = tmp_path / "app.log"
    log.write_text("")
    client = agent.LogsClient(faulty_aws.endpoint, "eu-west-1", ("testing", "testing", None))
    pipe, clock = pipeline(agent, client, {"file_path": str(log), "log_group_name": "/moto/g"})
    logs = boto3.client("logs", region_name="eu-west-1", endpoint_url=faulty_aws.upstream_endpoint)

    def arrived() -> list[str]:
        try:
            return [e["message"] for e in logs.filter_log_events(logGroupName="/moto/g")["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return []

    run(pipe, clock, 1)
    faulty_aws.stop()
    append(log, "while down")
    run(pipe, clock, 20)
    assert "retry" in agent.AGENT_LOG.read_text()
    faulty_aws.revive()
    run(pipe, clock, 65)
    assert arrived() == ["while down"]
    logs.delete_log_group(logGroupName="/moto/g")
    append(log, "after deletion")
    run(pipe, clock, 12)
    assert arrived() == ["after deletion"]


def test_long_lines_are_cut_at_the_event_size(agent, tmp_path: Path) -> None:
    """The tailer cuts a line over the event limit (1 MiB - 200 bytes) into pieces, newline or not."""
    agent.STATE.mkdir(parents=True)
    log = tmp_path / "big.log"
    limit = agent.MAX_EVENT_BYTES
    log.write_bytes(b"a" * (limit + 10) + b"\nshort\r\n" + b"b" * (limit + 5))
    tail = agent.FileTail(str(log), agent.LineFormat({"file_path": str(log)}), None)
    lines, ended = tail.read()
    assert not ended
    assert [(len(text), end) for text, end in lines] == [
        (limit, limit),
        (10, limit + 11),
        (5, limit + 18),  # "short", its \r dropped
        (limit, 2 * limit + 18),
    ]
    assert tail.read() == ([], False)  # the last 5 bytes wait for more


def test_a_renamed_file_is_read_to_its_end(agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a rename the whole rest of the old file is read, however much the last poll left."""
    agent.STATE.mkdir(parents=True)
    monkeypatch.setattr(agent, "READ_CHUNK", 16)
    log = tmp_path / "app.log"
    log.write_text("")
    tail = agent.FileTail(str(log), agent.LineFormat({"file_path": str(log)}), None)
    with log.open("a") as handle:
        handle.write("".join(f"line {n}\n" for n in range(20)) + "unfinished")
    log.rename(tmp_path / "app.log.1")
    lines, ended = tail.read()
    assert ended
    assert [text for text, _end in lines] == [f"line {n}" for n in range(20)]


# --- journald (agent 1.300070.0+): schema, journalctl, cursor ----------------------------------------

AUTH = {
    "log_group_name": "/g/auth",
    "priority": "debug",
    "matches": [{"SYSLOG_FACILITY": "4"}, {"SYSLOG_FACILITY": "10"}],
}
# A stand-in for journalctl over a JSON-lines file ($FAKE_JOURNAL): the options the receiver passes
# (--priority, FIELD=value groups joined by +, --after-cursor, --follow with journalctl's default
# of the newest ten entries first). The stand-in's reading of real journalctl output runs on the
# Molecule journald host.
FAKE_JOURNALCTL = r"""
import json, os, sys, time
args = sys.argv[1:]
levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
prio = args[args.index("--priority") + 1]
top = levels.index(prio) if prio in levels else int(prio)
after = args[args.index("--after-cursor") + 1] if "--after-cursor" in args else None
groups, group = [], {}
values = {args[i + 1] for i, arg in enumerate(args[:-1]) if arg.startswith("--") and "=" not in arg}
for arg in args:
    if arg in values:
        continue
    if arg == "+":
        groups.append(group); group = {}
    elif "=" in arg and not arg.startswith("-"):
        key, value = arg.split("=", 1); group.setdefault(key, set()).add(value)
if group: groups.append(group)
def wanted(e):
    if int(e.get("PRIORITY", 6)) > top: return False
    return not groups or any(all(e.get(k) in v for k, v in g.items()) for g in groups)
seen = 0
def entries():
    with open(os.environ["FAKE_JOURNAL"]) as f:
        return [json.loads(line) for line in f if line.strip()]
first = entries()
if after is None:
    out = [e for e in first if wanted(e)][-10:]
else:
    cursors = [e["__CURSOR"] for e in first]
    out = [e for e in first[cursors.index(after) + 1:] if wanted(e)]
for e in out: print(json.dumps(e), flush=True)
seen = len(first)
while True:
    time.sleep(0.05)
    now = entries()
    for e in now[seen:]:
        if wanted(e): print(json.dumps(e), flush=True)
    seen = len(now)
"""


def jentry(n: int, facility: str = "10", priority: str = "5", message: str = "") -> dict:
    return {
        "__CURSOR": f"s=abc;i={n}",
        "__REALTIME_TIMESTAMP": str(int(time.time() * 1e6) + n),
        "MESSAGE": message or f"entry {n}",
        "PRIORITY": priority,
        "SYSLOG_FACILITY": facility,
        "SYSLOG_IDENTIFIER": "sshd",
    }


@pytest.fixture
def journal(agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "journalctl.py"
    script.write_text(FAKE_JOURNALCTL)
    wrapper = tmp_path / "journalctl"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    wrapper.chmod(0o755)
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    monkeypatch.setenv("FAKE_JOURNAL", str(path))
    monkeypatch.setattr(agent, "JOURNALCTL", str(wrapper))
    return path


def add(journal: Path, *entries: dict) -> None:
    with journal.open("a") as handle:
        handle.writelines(json.dumps(e) + "\n" for e in entries)


def journal_pipeline(agent: Any, client: Any, *entries: dict) -> tuple[Any, Clock]:
    agent.STATE.mkdir(parents=True, exist_ok=True)
    agent.LOGS.mkdir(parents=True, exist_ok=True)
    config = {
        "logs": {
            "logs_collected": {"files": {"collect_list": []}, "journald": {"collect_list": list(entries)}}
        }
    }
    clock = Clock()
    return agent.Agent(config, client, clock), clock


def run_real_time(pipe: Any, clock: Clock, seconds: float) -> None:
    """journalctl runs as a real process: give it real time, and the pipeline its fake clock."""
    for _step in range(int(seconds / 0.25)):
        pipe.step()
        clock.now += 0.25
        time.sleep(0.05)


def test_journalctl_command_line_is_the_receivers(agent) -> None:
    assert agent.journalctl_args(AUTH) == [
        "--utc", "--output=json", "--follow", "--priority", "debug",
        "SYSLOG_FACILITY=4", "+", "SYSLOG_FACILITY=10",
    ]  # fmt: skip
    units = {"log_group_name": "/g", "units": ["sshd", "ssm"], "priority": "err"}
    assert agent.journalctl_args(units) == [
        "--utc", "--output=json", "--follow", "--unit", "sshd", "--unit", "ssm", "--priority", "err",
    ]  # fmt: skip
    both = {"log_group_name": "/g", "matches": [{"_UID": "0", "_COMM": "su"}]}
    assert agent.journalctl_args(both)[-3:] == ["info", "_COMM=su", "_UID=0"]


def test_body_is_the_entrys_json_as_go_writes_it(agent) -> None:
    body = agent.journal_body({"__REALTIME_TIMESTAMP": "1", "MESSAGE": "a<b>&c é", "A": "1"})
    assert body == '{"A":"1","MESSAGE":"a\\u003cb\\u003e\\u0026c é"}'
    assert agent.journal_publishes([{"type": "exclude", "expression": '"SYSLOG_FACILITY":"(4|10)"'}], body)
    assert not agent.journal_publishes(
        [{"type": "include", "expression": "x"}, {"type": "include", "expression": "y"}], body
    )
    assert agent.journal_publishes(
        [{"type": "include", "expression": "x"}, {"type": "include", "expression": "A"}], body
    )


def test_journal_entries_arrive_once_across_a_restart_and_an_outage(
    agent, fake: FakeLogs, journal: Path
) -> None:
    first = jentry(1)
    add(journal, first, jentry(2, facility="3"), jentry(3, facility="4"))
    pipe, clock = journal_pipeline(agent, fake, AUTH)
    run_real_time(pipe, clock, 12)
    got = [json.loads(m)["MESSAGE"] for m in fake.messages("/g/auth")]
    assert got == ["entry 1", "entry 3"]  # the newest entries at the first start; facility 3 is not auth
    event = json.loads(fake.messages("/g/auth")[0])
    assert "__REALTIME_TIMESTAMP" not in event and event["SYSLOG_IDENTIFIER"] == "sshd"
    assert fake.events("/g/auth")[0]["timestamp"] == int(first["__REALTIME_TIMESTAMP"]) // 1000
    add(journal, jentry(4, priority="7"))
    fake.down = True  # read but not delivered: the cursor stays before it
    run_real_time(pipe, clock, 3)
    for tail in pipe.journals:
        tail.stop()
    assert (agent.STATE / "journald_0").read_text().strip() == "s=abc;i=3"
    fake.down = False
    add(journal, jentry(5))
    restarted, clock2 = journal_pipeline(agent, fake, AUTH)
    run_real_time(restarted, clock2, 12)
    for tail in restarted.journals:
        tail.stop()
    got = [json.loads(m)["MESSAGE"] for m in fake.messages("/g/auth")]
    assert got == ["entry 1", "entry 3", "entry 4", "entry 5"]  # none lost, none twice
    assert (agent.STATE / "journald_0").read_text().strip() == "s=abc;i=5"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"log_group_name": "/g", "file_path": "/x"}, "Additional property file_path is not allowed"),
        ({"log_stream_name": "s"}, "log_group_name is required"),
        ({"log_group_name": "/g", "priority": "loud"}, "priority | Error"),
        ({"log_group_name": "/g", "units": []}, "units | Error"),
        ({"log_group_name": "/g", "matches": [{"SYSLOG_FACILITY": 4}]}, "matches | Error"),
        ({"log_group_name": "/g", "retention_in_days": 42}, "retention_in_days | Error"),
    ],
)
def test_journald_schema(agent, tmp_path: Path, bad: dict, message: str) -> None:
    src = write(tmp_path, "mine.json", {"logs": {"logs_collected": {"journald": {"collect_list": [bad]}}}})
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 1
    assert message in agent.VALIDATION_LOG.read_text()


def test_journald_is_accepted_from_1_300070_0_only(agent, tmp_path: Path) -> None:
    src = write(tmp_path, "mine.json", {"logs": {"logs_collected": {"journald": {"collect_list": [AUTH]}}}})
    agent.VERSION_FILE.parent.mkdir(parents=True, exist_ok=True)
    agent.VERSION_FILE.write_text("1.300049.1b929\n")
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 1
    assert "Additional property journald is not allowed" in agent.VALIDATION_LOG.read_text()
    agent.VERSION_FILE.write_text("1.300070.0\n")
    assert agent.ctl_main(["-a", "append-config", "-c", f"file:{src}"]) == 0
    assert agent.load_translated()["logs"]["logs_collected"]["journald"]["collect_list"] == [AUTH]
