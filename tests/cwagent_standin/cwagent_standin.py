#!/usr/bin/env python
r"""Test stand-in for the Amazon CloudWatch agent (Linux): control script, translator and daemon.

Packaged by ``build.sh`` as ``amazon-cloudwatch-agent`` with the real agent's paths, unit and
control-script actions, so the role under test cannot tell it from the real package. It exists
because the real agent cannot be downloaded in CI. It runs on the test hosts' python3 with the
standard library only (boto3 is not installed there).

What it models:
  * ``amazon-cloudwatch-agent-ctl -a fetch-config|append-config|remove-config|start|stop|status``
    with ``-m``, ``-c default|all|file:PATH`` and ``-s``; ``file:/p/name.json`` is stored as
    ``etc/amazon-cloudwatch-agent.d/file_name.json``.
  * Translation of ``etc/amazon-cloudwatch-agent.json`` plus every stored fragment: a strict schema
    check of the logs part (unknown keys, retention values, one retention per group, conflicting
    ``agent``/``logs`` settings across fragments). A rejected config writes the reasons to
    ``logs/configuration-validation.log``, exits non-zero and leaves the translated TOML - the
    running config - untouched. The rejected fragment stays stored (the worst case a caller must
    handle; the role restores the previous one).
  * The daemon ships every ``collect_list`` file to ``logs.endpoint_override`` (SigV4-signed,
    credentials from common-config.toml's shared credentials file) by the real agent's rules, read
    in its source (github aws/amazon-cloudwatch-agent, plugins/inputs/logfile and
    plugins/outputs/cloudwatchlogs/internal/pusher):
      - event time from the line: ``timestamp_format`` turned into the agent's regex (its
        directive table, ``%f`` cut to milliseconds) and parsed as Go's layout would, in
        ``timezone`` Local or UTC; a line without one takes the last valid time of its stream,
        else the time it is sent; events over 14 days old or 2 h ahead are dropped;
      - multi-line events: ``multi_line_start_pattern`` (default ``^[\S]``; ``{timestamp_format}``
        means the timestamp regex); a pending event is published when the next starts, when its
        file goes away, or about 5 s after it started; ``filters`` apply to whole events;
      - files followed by their open descriptor: after a rename (logrotate ``create``) the rest of
        the old file is read, then the new one from its start; a file that shrinks (``copytruncate``)
        is read again from 0; a glob follows its newest match; new files are read from the start;
      - batches sent per group/stream after ``force_flush_interval`` (default 5 s); failed PutLogEvents are
        retried with the agent's backoff (refused/5xx/throttled: 1-2 s, 2-4 s, then 30-60 s; others
        from 0.1 s doubling) for up to 14 days; ResourceNotFoundException creates the stream, and
        the group first when it is gone, then retries; the offset in the state file moves only past
        events the service accepted, so an outage or a restart loses nothing;
      - ``retention_in_days`` set on a group the agent creates, and on start wherever it differs.
  * ``logs_collected.journald`` (agent 1.300070.0 and later; a build whose ``CWAGENT_VERSION`` is
    older refuses the section as an unknown key, as older translators do): the entries' keys checked
    as the agent's schema defines them (``log_group_name`` required; ``log_stream_name``,
    ``log_group_class``, ``retention_in_days``, ``filters``, ``units``, ``priority`` emerg..debug or
    0..7, ``matches``: nothing else), and read as the agent's journald receiver reads them: one
    ``journalctl --utc --output=json --follow [--unit U]... --priority P [F=V ... + F=V ...]`` per
    entry (priority ``info`` when none is given; the newest ten entries at the first start, as
    ``--follow`` shows them), ``--after-cursor`` the saved cursor after a restart; each entry's
    fields but ``__REALTIME_TIMESTAMP`` become the event text as Go's ``json.Marshal`` writes a map,
    its time ``__REALTIME_TIMESTAMP``; filters match that text (an exclude drops, includes are
    alternatives). The cursor in ``var/state/journald_<index>`` moves only past delivered entries.

Where it still differs from the real agent: Python's ``re`` instead of Go's RE2 (``\p{..}`` classes
and RE2-only syntax are not understood; look-arounds are accepted where RE2 refuses them); one
process polling every 0.25 s instead of goroutines; at most one batch in flight per stream and
no final send at stop (unsent events are re-read at the next start, so nothing is lost, as with
the agent's state files); no ``trim_timestamp``, ``auto_removal``, ``publish_multi_logs``,
``blacklist`` or metrics; the journal cursor is saved past delivered entries (the agent's receiver
saves it as it reads, with a sending queue in front of the exporter), the journald exporter's own
retry policy (5 s .. 30 s for 5 minutes) is the file pipeline's here, and journald events go into
the same per-stream batches as files (the agent batches each collect_list entry on its own);
literal text in ``timestamp_format`` that Go would read as a
layout element is taken literally; of ``%Z`` names only UTC and the local zone's two are known;
instance metadata is the host name. Both lose, as logrotate itself warns, lines written between
copytruncate's copy and its truncation, and a truncation followed within one poll by more writes
than the file held before it is not seen.

The schema is written out here rather than imported from the collection on purpose: this models
the agent, and a shared copy could not catch the role's own mistakes.
"""

from __future__ import annotations

import calendar
import configparser
import contextlib
import datetime
import glob
import grp
import hashlib
import hmac
import http.client
import json
import os
import pwd
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

import tomllib

HOME = Path(os.environ.get("CWAGENT_STANDIN_HOME", "/opt/aws/amazon-cloudwatch-agent"))
ETC = HOME / "etc"
JSON_CONFIG = ETC / "amazon-cloudwatch-agent.json"
JSON_DIR = ETC / "amazon-cloudwatch-agent.d"
TOML = ETC / "amazon-cloudwatch-agent.toml"
COMMON_CONFIG = ETC / "common-config.toml"
LOGS = HOME / "logs"
VALIDATION_LOG = LOGS / "configuration-validation.log"
AGENT_LOG = LOGS / "amazon-cloudwatch-agent.log"
STATE = HOME / "var" / "state"
VERSION_FILE = HOME / "bin" / "CWAGENT_VERSION"
SERVICE = "amazon-cloudwatch-agent.service"

RETENTION = {-1, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922}
RETENTION |= {3288, 3653}
TOP_KEYS = {"agent", "metrics", "logs", "traces"}
AGENT_KEYS = {
    "metrics_collection_interval", "region", "credentials", "debug", "quiet", "logfile",
    "run_as_user", "omit_hostname", "aws_sdk_log_level", "usage_data", "user_agent", "service.name",
    "deployment.environment",
}  # fmt: skip
LOGS_KEYS = {
    "logs_collected", "log_stream_name", "force_flush_interval", "credentials", "endpoint_override",
    "concurrency", "metrics_collected", "service.name", "deployment.environment",
}  # fmt: skip
FILE_KEYS = {
    "file_path", "log_group_name", "log_stream_name", "log_group_class", "retention_in_days",
    "timestamp_format", "timezone", "multi_line_start_pattern", "encoding", "filters",
}  # fmt: skip
# logs_collected.journald.collect_list[] (translator/config/schema.json, logsJournaldDefinition),
# known to the agent from 1.300070.0 on: older translators refuse the section as an unknown key.
JOURNALD_KEYS = {
    "log_group_name", "log_stream_name", "log_group_class", "retention_in_days", "filters", "units",
    "priority", "matches",
}  # fmt: skip
JOURNALD_PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
JOURNALD_SINCE = (1, 300070, 0)
# Settings every fragment must agree on: the real translator refuses different values too. The one
# a fragment sets is the agent's, whichever fragment it is in (force_flush_interval: the batching
# period, which the Molecule scenario shortens in its user's fragment).
SINGLE_VALUED = (
    ("agent", "region"),
    ("agent", "run_as_user"),
    ("logs", "endpoint_override"),
    ("logs", "force_flush_interval"),
)


class Rejected(Exception):
    """The translator refuses the merged configuration; ``reasons`` are its messages."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


# --------------------------------------------------------------------------------------------
# Translation


def _check_entry(entry: Any, where: str) -> list[str]:
    if not isinstance(entry, dict):
        return [f"Under path : {where} | Error : Invalid type. Expected: object"]
    errors = [
        f"Under path : {where} | Error : Additional property {key} is not allowed"
        for key in sorted(set(entry) - FILE_KEYS)
    ]
    path = entry.get("file_path")
    if not isinstance(path, str) or not path:
        errors.append(f"Under path : {where} | Error : file_path is required")
    if "retention_in_days" in entry and entry["retention_in_days"] not in RETENTION:
        errors.append(
            f"Under path : {where}/retention_in_days | Error : retention_in_days must be one of the "
            f"following: {sorted(RETENTION)}"
        )
    if entry.get("log_group_class", "STANDARD") not in ("STANDARD", "INFREQUENT_ACCESS"):
        errors.append(f"Under path : {where}/log_group_class | Error : must be STANDARD or INFREQUENT_ACCESS")
    if entry.get("timezone", "Local") not in ("Local", "UTC"):
        errors.append(f"Under path : {where}/timezone | Error : must be Local or UTC")
    fmt = entry.get("timestamp_format")
    if fmt is not None:
        try:
            re.compile(timestamp_regex(str(fmt)))
        except re.error:
            message = f"Timestamp format {fmt} is invalid"
            errors.append(f"Under path : {where}/timestamp_format | Error : {message}")
    pattern = entry.get("multi_line_start_pattern")
    if pattern not in (None, "{timestamp_format}"):
        try:
            re.compile(str(pattern))
        except re.error as exc:
            errors.append(f"Under path : {where}/multi_line_start_pattern | Error : {exc}")
    return errors


def agent_version() -> tuple[int, ...]:
    """This build's version (bin/CWAGENT_VERSION) as numbers; unknown counts as the newest."""
    try:
        found = re.match(r"(\d+)\.(\d+)\.(\d+)", VERSION_FILE.read_text().strip())
    except OSError:
        found = None
    return tuple(int(part) for part in found.groups()) if found else (99, 0, 0)


def _string_list(value: Any, where: str, key: str, max_length: int | None = None) -> list[str]:
    if not isinstance(value, list) or not value:
        return [f"Under path : {where}/{key} | Error : Array must have at least 1 items"]
    errors = []
    if any(not isinstance(item, str) or (max_length and len(item) > max_length) for item in value):
        errors.append(f"Under path : {where}/{key} | Error : Invalid type. Expected: string")
    if len({json.dumps(item, sort_keys=True) for item in value}) != len(value):
        errors.append(f"Under path : {where}/{key} | Error : array items must be unique")
    return errors


def _check_journald_entry(entry: Any, where: str) -> list[str]:
    """One journald collect_list entry against the agent's schema (logsJournaldDefinition)."""
    if not isinstance(entry, dict):
        return [f"Under path : {where} | Error : Invalid type. Expected: object"]
    errors = [
        f"Under path : {where} | Error : Additional property {key} is not allowed"
        for key in sorted(set(entry) - JOURNALD_KEYS)
    ]
    group = entry.get("log_group_name")
    if not isinstance(group, str) or not 1 <= len(group) <= 512:
        errors.append(f"Under path : {where} | Error : log_group_name is required")
    if "retention_in_days" in entry and entry["retention_in_days"] not in RETENTION:
        errors.append(f"Under path : {where}/retention_in_days | Error : must be one of {sorted(RETENTION)}")
    priority = entry.get("priority")
    if priority is not None and priority not in (*JOURNALD_PRIORITIES, *"01234567"):
        errors.append(
            f"Under path : {where}/priority | Error : must be one of the following: {JOURNALD_PRIORITIES}"
        )
    if "units" in entry:
        errors += _string_list(entry["units"], where, "units", 256)
    if "matches" in entry:
        matches = entry["matches"]
        if not isinstance(matches, list) or not matches:
            errors.append(f"Under path : {where}/matches | Error : Array must have at least 1 items")
        elif any(not isinstance(m, dict) or any(not isinstance(v, str) for v in m.values()) for m in matches):
            errors.append(f"Under path : {where}/matches | Error : Invalid type. Expected: object of strings")
    for index, rule in enumerate(entry.get("filters") or []):
        if not isinstance(rule, dict) or rule.get("type") not in ("include", "exclude"):
            errors.append(f"Under path : {where}/filters/{index}/type | Error : must be include or exclude")
    return errors


def _check_logs_collected(collected: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(collected, dict) or "journald" not in collected:
        return errors
    where = "/logs/logs_collected/journald"
    if agent_version() < JOURNALD_SINCE:
        return ["Under path : /logs/logs_collected | Error : Additional property journald is not allowed"]
    section = collected["journald"]
    entries = section.get("collect_list") if isinstance(section, dict) else None
    if not isinstance(entries, list) or not entries:
        return [f"Under path : {where} | Error : collect_list is required"]
    errors += [
        f"Under path : {where} | Error : Additional property {k} is not allowed"
        for k in sorted(set(section) - {"collect_list"})
    ]
    for index, entry in enumerate(entries):
        errors += _check_journald_entry(entry, f"{where}/collect_list/{index}")
    return errors


def _check_fragment(name: str, cfg: Any) -> list[str]:
    if not isinstance(cfg, dict):
        return [f"{name}: Under path : / | Error : Invalid type. Expected: object"]
    errors = [
        f"Under path : / | Error : Additional property {k} is not allowed"
        for k in sorted(set(cfg) - TOP_KEYS)
    ]
    agent = cfg.get("agent", {})
    if isinstance(agent, dict):
        errors += [
            f"Under path : /agent | Error : Additional property {k} is not allowed"
            for k in sorted(set(agent) - AGENT_KEYS)
        ]
    logs = cfg.get("logs", {})
    if not isinstance(logs, dict):
        errors.append("Under path : /logs | Error : Invalid type. Expected: object")
        return [f"{name}: {e}" for e in errors]
    errors += [
        f"Under path : /logs | Error : Additional property {k} is not allowed"
        for k in sorted(set(logs) - LOGS_KEYS)
    ]
    files = ((logs.get("logs_collected") or {}).get("files") or {}).get("collect_list", [])
    if not isinstance(files, list):
        errors.append(
            "Under path : /logs/logs_collected/files/collect_list | Error : Invalid type. Expected: array"
        )
        files = []
    for index, entry in enumerate(files):
        errors += _check_entry(entry, f"/logs/logs_collected/files/collect_list/{index}")
    errors += _check_logs_collected(logs.get("logs_collected"))
    return [f"{name}: {e}" for e in errors]


def merge(configs: dict[str, dict]) -> dict:
    """Merge fragments the way the agent does: lists concatenate, single settings must agree."""
    errors: list[str] = []
    for name, cfg in configs.items():
        errors += _check_fragment(name, cfg)
    if errors:
        raise Rejected(errors)
    merged: dict[str, Any] = {
        "agent": {},
        "logs": {"logs_collected": {"files": {"collect_list": []}, "journald": {"collect_list": []}}},
    }
    owners: dict[tuple[str, str], tuple[str, Any]] = {}
    for name, cfg in sorted(configs.items()):
        for section, key in SINGLE_VALUED:
            value = (cfg.get(section) or {}).get(key)
            if value is None:
                continue
            if (section, key) in owners and owners[(section, key)][1] != value:
                errors.append(
                    f"Under path : /{section}/{key} | Error : Different values are specified for {key} "
                    f"({owners[(section, key)][0]}: {owners[(section, key)][1]!r}, {name}: {value!r})"
                )
            owners[(section, key)] = (name, value)
            merged[section][key] = value
        collected = (cfg.get("logs") or {}).get("logs_collected") or {}
        for section in ("files", "journald"):
            merged["logs"]["logs_collected"][section]["collect_list"] += (collected.get(section) or {}).get(
                "collect_list", []
            )
    retention: dict[str, tuple[int, str]] = {}
    conflicts: set[str] = set()
    collected = merged["logs"]["logs_collected"]
    for entry in collected["files"]["collect_list"] + collected["journald"]["collect_list"]:
        group, days = entry.get("log_group_name"), entry.get("retention_in_days", -1)
        if group and days != -1:
            if group in retention and retention[group][0] != days and group not in conflicts:
                conflicts.add(group)
                errors.append(
                    "Under path : /logs/logs_collected/files/collect_list | Error : Different "
                    f"retention_in_days values can't be set for the same log group: {group} "
                    f"({retention[group][0]} and {days})"
                )
            retention.setdefault(group, (days, entry.get("file_path", "journald")))
    if errors:
        raise Rejected(errors)
    return merged


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise Rejected([f"{path.name}: Invalid Json input: {exc}"]) from exc


def translate(mode: str) -> dict:
    """Validate every JSON config and write the TOML; the old TOML stays when anything is rejected."""
    configs: dict[str, dict] = {}
    if JSON_CONFIG.exists():
        configs[JSON_CONFIG.name] = _read_json(JSON_CONFIG)
    for path in sorted(JSON_DIR.glob("*")):
        if path.is_file() and not path.name.endswith(".tmp"):
            configs[path.name] = _read_json(path)
    merged = merge(configs)
    merged["mode"] = mode
    body = json.dumps(merged, indent=2, sort_keys=True)
    tmp = TOML.with_suffix(".toml.new")
    tmp.write_text(
        f"# Translated by the test stand-in of the CloudWatch agent.\n[standin]\nconfig = '''\n{body}\n'''\n"
    )
    tmp.replace(TOML)
    return merged


def _log_validation(lines: list[str]) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y/%m/%d %H:%M:%S")
    with VALIDATION_LOG.open("a") as log:
        for line in lines:
            log.write(f"{stamp} {line}\n")


# --------------------------------------------------------------------------------------------
# Control script


def stored_name(location: str) -> str:
    base = os.path.basename(location)
    for char in ("/", " ", ":"):
        base = base.replace(char, "_")
    return f"file_{base}"


def _systemctl(*args: str) -> int:
    return subprocess.call(["systemctl", *args])


def config_action(action: str, location: str, mode: str, restart: bool) -> int:
    JSON_DIR.mkdir(parents=True, exist_ok=True)
    for stale in JSON_DIR.glob("*.tmp"):
        stale.unlink()
    if action == "remove-config":
        if location == "all":
            for path in JSON_DIR.glob("*"):
                path.unlink()
        else:
            target = JSON_DIR / stored_name(location.split(":", 1)[1])
            if target.exists():
                target.unlink()
    else:
        if not location.startswith("file:"):
            print(f"E! location {location} is not supported by the stand-in", file=sys.stderr)
            return 1
        source = Path(location.split(":", 1)[1])
        if not source.is_file():
            print(f"E! fail to fetch the config: {source} does not exist", file=sys.stderr)
            return 1
        name = stored_name(str(source))
        if action == "fetch-config":
            for path in JSON_DIR.glob("*"):
                if path.name != name:
                    path.unlink()
        (JSON_DIR / name).write_text(source.read_text())
        print(f"Successfully fetched the config and saved in {JSON_DIR / name}")
    print("Start configuration validation...")
    try:
        translate(mode)
    except Rejected as exc:
        lines = [
            "E! Invalid Json input schema.",
            *exc.reasons,
            "Configuration validation first phase failed.",
        ]
        _log_validation(lines)
        for line in lines:
            print(line)
        return 1
    _log_validation(["I! Valid Json input schema.", "Configuration validation first phase succeeded"])
    print("Configuration validation first phase succeeded")
    print("Configuration validation second phase succeeded")
    if restart:
        return start()
    return 0


def start() -> int:
    if _systemctl("enable", SERVICE) != 0:
        return 1
    return _systemctl("restart", SERVICE)


def status() -> dict[str, str]:
    out = subprocess.run(
        ["systemctl", "show", SERVICE, "-p", "ActiveState", "-p", "ActiveEnterTimestamp"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    running = props.get("ActiveState") == "active"
    start_time = ""
    if running and props.get("ActiveEnterTimestamp"):
        parsed = subprocess.run(
            ["date", "-d", props["ActiveEnterTimestamp"], "+%Y-%m-%dT%H:%M:%S%z"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        start_time = parsed
    return {
        "status": "running" if running else "stopped",
        "starttime": start_time,
        "configstatus": "configured" if TOML.exists() else "not configured",
        "version": VERSION_FILE.read_text().strip() if VERSION_FILE.exists() else "unknown",
    }


def ctl_main(argv: list[str]) -> int:
    action, mode, location, restart = "", "ec2", "default", False
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "-a" and args:
            action = args.pop(0)
        elif arg == "-m" and args:
            mode = args.pop(0)
        elif arg == "-c" and args:
            location = args.pop(0)
        elif arg == "-s":
            restart = True
        else:
            print(f"usage: amazon-cloudwatch-agent-ctl -a ACTION [-m MODE] [-c CONFIG] [-s] (bad: {arg})")
            return 1
    if mode not in ("ec2", "onPremise", "onprem", "auto"):
        print(f"E! mode {mode} is not supported")
        return 1
    if os.geteuid() != 0:
        print("E! amazon-cloudwatch-agent-ctl must run as root")
        return 1
    if action in ("fetch-config", "append-config", "remove-config"):
        return config_action(action, location, mode, restart)
    if action == "start":
        return start()
    if action == "stop":
        return _systemctl("stop", SERVICE)
    if action == "status":
        print(json.dumps(status(), indent=2))
        return 0
    print(f"E! action {action!r} is not supported")
    return 1


# --------------------------------------------------------------------------------------------
# Daemon


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = f"{stamp} {message}\n"
    try:
        with AGENT_LOG.open("a") as log:
            log.write(line)
    except OSError:
        sys.stderr.write(line)


def load_translated() -> dict:
    text = TOML.read_text()
    return json.loads(tomllib.loads(text)["standin"]["config"])


def load_credentials() -> tuple[str, str, str | None]:
    """Keys from common-config.toml's shared credentials file/profile, else the environment."""
    creds: dict[str, str] = {}
    if COMMON_CONFIG.exists():
        creds = tomllib.loads(COMMON_CONFIG.read_text()).get("credentials", {})
    cred_file = creds.get("shared_credential_file") or os.path.expanduser("~/.aws/credentials")
    profile = creds.get("shared_credential_profile") or "default"
    parser = configparser.ConfigParser()
    parser.read(cred_file)
    if parser.has_section(profile):
        section = parser[profile]
        return (
            section["aws_access_key_id"],
            section["aws_secret_access_key"],
            section.get("aws_session_token"),
        )
    return (
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN"),
    )


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(
    endpoint: str,
    region: str,
    target: str,
    body: bytes,
    creds: tuple[str, str, str | None],
    now: datetime.datetime,
) -> dict[str, str]:
    """Headers of a SigV4-signed CloudWatch Logs JSON request (service ``logs``)."""
    access_key, secret_key, token = creds
    host = urllib.request.urlparse(endpoint).netloc
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    headers = {
        "content-type": "application/x-amz-json-1.1",
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-target": f"Logs_20140328.{target}",
    }
    if token:
        headers["x-amz-security-token"] = token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/logs/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(_sign(_sign(_sign(f"AWS4{secret_key}".encode(), day), region), "logs"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


class LogsClient:
    """CloudWatch Logs' JSON API over SigV4; an error answer raises AwsError with its code."""

    def __init__(self, endpoint: str, region: str, creds: tuple[str, str, str | None]) -> None:
        self.endpoint, self.region, self.creds = endpoint.rstrip("/"), region, creds

    def call(self, target: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        now = datetime.datetime.now(datetime.timezone.utc)
        headers = sigv4_headers(self.endpoint, self.region, target, body, self.creds, now)
        request = urllib.request.Request(self.endpoint + "/", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                answer = json.loads(raw or b"{}")
            except ValueError:
                answer = {}
            code = str(answer.get("__type", f"HTTP{exc.code}")).rsplit("#", 1)[-1]
            message = answer.get("message") or answer.get("Message") or raw[:200].decode(errors="replace")
            raise AwsError(code, exc.code, message) from exc


def stream_name(template: str) -> str:
    host = socket.gethostname()
    # No instance metadata in a container: the host name stands in for the instance id.
    for placeholder in ("{instance_id}", "{hostname}", "{local_hostname}"):
        template = template.replace(placeholder, host)
    return template.replace("{ip_address}", "127.0.0.1")


# --------------------------------------------------------------------------------------------
# Event times, as the agent derives them. The format -> regex table and the %f handling follow
# internal/util/timestamp/timestamp.go (BuildRegex) and the translator's timestamp rules; the
# parsing follows plugins/inputs/logfile/fileconfig.go (timestampFromLogLine), which hands the
# matched text to Go's time.ParseInLocation with the format turned into a Go layout.

FORMAT_REGEX = {
    "%B": r"\w{7}", "%b": r"\w{3}", "%-m": r"\s{0,1}\d{1,2}", "%m": r"\s{0,1}\d{1,2}",
    "%A": r"\w{6,9}", "%a": r"\w{3}", "%-d": r"\s{0,1}\d{1,2}", "%d": r"\s{0,1}\d{1,2}",
    "%H": r"\d{2}", "%-I": r"\d{1,2}", "%I": r"\d{2}", "%-M": r"\d{1,2}", "%M": r"\d{2}",
    "%-S": r"\d{1,2}", "%S": r"\d{2}", "%Y": r"\d{4}", "%y": r"\d{2}", "%p": r"\w{2}",
    "%Z": r"\w{3}", "%z": r"[+-]\d{4}", "%f": r"(\d{1,9})",
}  # fmt: skip
DIRECTIVE = re.compile(r"%-[mdIMS]|%[BbmAadHIMSYypZzf]")
# The agent escapes only these characters of the format before substituting the directives.
REGEX_SPECIAL = frozenset("^.*?+|[](){}$")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")  # fmt: skip
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
DIGITS = frozenset("0123456789")
MAX_FUTURE_DAYS = 30  # a year-less stamp further ahead than this belongs to last year
# The pusher drops events the service would refuse: older than 14 days or 2 hours ahead.
MAX_AGE_MS, MAX_AHEAD_MS = 14 * 24 * 3600 * 1000, 2 * 3600 * 1000


def format_tokens(fmt: str) -> list[tuple[bool, str]]:
    """``fmt`` split into (is_directive, text) pieces; unknown %-sequences stay literal text."""
    tokens: list[tuple[bool, str]] = []
    at = 0
    for match in DIRECTIVE.finditer(fmt):
        if match.start() > at:
            tokens.append((False, fmt[at : match.start()]))
        tokens.append((True, match.group()))
        at = match.end()
    if at < len(fmt):
        tokens.append((False, fmt[at:]))
    return tokens


def timestamp_regex(fmt: str) -> str:
    """The ``timestamp_regex`` the translator writes for ``timestamp_format`` (BuildRegex, in a group)."""
    body = "".join(
        FORMAT_REGEX[text] if directive else "".join("\\" + c if c in REGEX_SPECIAL else c for c in text)
        for directive, text in format_tokens(fmt)
    )
    return "(" + body.removeprefix(r"\s{0,1}") + ")"


def _digit(value: str, index: int) -> bool:
    return len(value) > index and value[index] in DIGITS


def _number(value: str, fixed: bool) -> tuple[int, str]:
    """Go's getnum: one or two digits; exactly two when ``fixed``."""
    if not _digit(value, 0):
        raise ValueError("expected a digit")
    if not _digit(value, 1):
        if fixed:
            raise ValueError("expected two digits")
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _name(value: str, names: tuple[str, ...], short: bool) -> tuple[int, str]:
    for index, name in enumerate(names):
        name = name[:3] if short else name
        if value[: len(name)].lower() == name.lower():
            return index, value[len(name) :]
    raise ValueError("unknown name")


def _skip(value: str, literal: str) -> str:
    """Go's skip: a run of spaces in the layout matches a run of spaces in the value."""
    while literal:
        if literal[0] == " ":
            if value and value[0] != " ":
                raise ValueError("expected a space")
            literal, value = literal.lstrip(" "), value.lstrip(" ")
            continue
        if not value or value[0] != literal[0]:
            raise ValueError(f"expected {literal[0]!r}")
        literal, value = literal[1:], value[1:]
    return value


class _Fields:
    def __init__(self) -> None:
        self.year: int | None = None
        self.month, self.day, self.hour, self.minute, self.second, self.ms = 1, 1, 0, 0, 0, 0
        self.pm: bool | None = None
        self.offset: int | None = None  # seconds east of UTC, from %z or a known %Z
        self.zone = ""


def _parse_directive(directive: str, value: str, f: _Fields, next_is_fraction: bool) -> str:
    """Consume one directive the way Go's layout element for it parses (time/format.go)."""
    if directive == "%Y":
        if len(value) < 4 or not all(c in DIGITS for c in value[:4]):
            raise ValueError("bad year")
        f.year, value = int(value[:4]), value[4:]
    elif directive == "%y":
        year, value = _number(value, True)
        f.year = year + (1900 if year >= 69 else 2000)
    elif directive in ("%m", "%-m"):  # the translator emits both "01" and "1" layouts
        f.month, value = _number(value, False)
        if not 1 <= f.month <= 12:
            raise ValueError("month out of range")
    elif directive in ("%b", "%B"):
        index, value = _name(value, MONTHS, directive == "%b")
        f.month = index + 1
    elif directive in ("%a", "%A"):  # parsed, then ignored, as Go does
        value = _name(value, WEEKDAYS, directive == "%a")[1]
    elif directive in ("%d", "%-d"):  # layout "_2"
        f.day, value = _number(value[1:] if value[:1] == " " else value, False)
    elif directive == "%H":
        f.hour, value = _number(value, False)
        if f.hour > 23:
            raise ValueError("hour out of range")
    elif directive in ("%I", "%-I"):
        f.hour, value = _number(value, directive == "%I")
        if f.hour > 12:
            raise ValueError("hour out of range")
    elif directive in ("%M", "%-M"):
        f.minute, value = _number(value, directive == "%M")
        if f.minute > 59:
            raise ValueError("minute out of range")
    elif directive in ("%S", "%-S"):
        f.second, value = _number(value, directive == "%S")
        if f.second > 59:
            raise ValueError("second out of range")
        # Go reads a fraction after the seconds even when the layout has none.
        if not next_is_fraction and len(value) >= 2 and value[0] in ".," and _digit(value, 1):
            end = 2
            while _digit(value, end):
                end += 1
            f.ms, value = int((value[1:end] + "000")[:3]), value[end:]
    elif directive == "%f":  # layout ".000": the agent rewrote the digits to exactly three
        if len(value) < 4 or value[0] not in ".," or not all(c in DIGITS for c in value[1:4]):
            raise ValueError("bad fraction")
        f.ms, value = int(value[1:4]), value[4:]
    elif directive == "%p":
        if value[:2] not in ("AM", "PM"):
            raise ValueError("bad AM/PM")
        f.pm, value = value[:2] == "PM", value[2:]
    elif directive == "%z":
        if len(value) < 5 or value[0] not in "+-" or not all(c in DIGITS for c in value[1:5]):
            raise ValueError("bad offset")
        seconds = int(value[1:3]) * 3600 + int(value[3:5]) * 60
        f.offset, value = (-seconds if value[0] == "-" else seconds), value[5:]
    elif directive == "%Z":
        zone = value[:3]
        if len(zone) < 3 or not all("A" <= c <= "Z" for c in zone):
            raise ValueError("bad zone name")
        f.zone, value = zone, value[3:]
    return value


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _epoch(f: _Fields, year: int, utc: bool) -> float:
    """Seconds since the epoch; an overflowing day (29 Feb in a common year) rolls over as AddDate does."""
    parts = (year, f.month, f.day, f.hour, f.minute, f.second)
    if f.offset is not None:
        return calendar.timegm((*parts, 0, 0, 0)) - f.offset
    if utc:
        return calendar.timegm((*parts, 0, 0, 0))
    return time.mktime((*parts, 0, 0, -1))


def parse_timestamp(tokens: list[tuple[bool, str]], value: str, utc: bool, now: float) -> int | None:
    """Milliseconds since the epoch of ``value`` read with the format's layout, or None (Go's error)."""
    f = _Fields()
    directives = [text for directive, text in tokens if directive]
    try:
        seen = 0
        for directive, text in tokens:
            if not directive:
                value = _skip(value, text)
                continue
            seen += 1
            following = directives[seen] if seen < len(directives) else ""
            value = _parse_directive(text, value, f, following == "%f")
        if value:
            raise ValueError("extra text")
    except ValueError:
        return None
    if f.pm is True and f.hour < 12:
        f.hour += 12
    elif f.pm is False and f.hour == 12:
        f.hour = 0
    if f.day < 1 or f.day > _days_in(f.month, 0 if f.year is None else f.year):
        return None
    if f.zone == "UTC":
        f.offset = 0
    elif f.zone:
        # A name the local zone uses means its offset; any other name means offset 0 (Go).
        names = dict(zip(time.tzname, (-time.timezone, -time.altzone), strict=True))
        f.offset = 0 if utc else names.get(f.zone, 0)
    if f.year is not None:
        seconds = _epoch(f, f.year, utc)
    else:  # no year in the line: this year, or last year when that puts it over a month ahead
        this_year = time.localtime(now).tm_year
        seconds = _epoch(f, this_year, utc)
        if seconds - now > MAX_FUTURE_DAYS * 86400:
            seconds = _epoch(f, this_year - 1, utc)
    return int(seconds) * 1000 + f.ms


class LineFormat:
    """What one collect_list entry says about its lines: time stamps, event starts, filters."""

    def __init__(self, entry: dict) -> None:
        fmt = entry.get("timestamp_format")
        self.tokens = format_tokens(fmt) if fmt else []
        self.regex = re.compile(timestamp_regex(fmt), re.ASCII) if fmt else None
        self.utc = entry.get("timezone") == "UTC"
        # No pattern means "^[\S]": lines starting with white space continue the event before.
        pattern = entry.get("multi_line_start_pattern") or r"^[\S]"
        if pattern in ("{timestamp_format}", "{timestamp_regex}"):
            self.start = self.regex  # None without a timestamp_format: nothing starts an event
        else:
            self.start = re.compile(pattern, re.ASCII)
        self.filters = [
            (f.get("type") == "include", re.compile(f.get("expression", ""), re.ASCII))
            for f in entry.get("filters") or []
        ]

    def is_start(self, line: str) -> bool:
        return bool(self.start and self.start.search(line))

    def publishes(self, message: str) -> bool:
        return all(bool(regex.search(message)) == include for include, regex in self.filters)

    def timestamp(self, message: str, now: float) -> int | None:
        """The event's time from its text (the first match anywhere in it), or None."""
        if self.regex is None:
            return None
        match = self.regex.search(message)
        if not match:
            return None
        content = match.group(1)
        if self.regex.groups >= 2 and match.start(2) >= 0:
            # %f: keep three digits (padded), written as ".ddd" to fit the layout's ".000".
            start, end = match.start(2) - match.start(1), match.end(2) - match.start(1)
            content = content[:start] + "." + (content[start:end] + "000")[:3] + content[end:]
        return parse_timestamp(self.tokens, content, self.utc, now)


# --------------------------------------------------------------------------------------------
# Reading files: plugins/inputs/logfile (logfile.go, tailersrc.go, tail/tail.go).

POLL_SECONDS = 0.25  # the tailer's polling watcher
SCAN_SECONDS = 1.0  # how often the agent looks for (new) files matching each file_path
MULTILINE_WAIT_SECONDS = 5.0  # an unfinished event is published after five 1 s ticks
MAX_EVENT_BYTES = 1024 * 1024 - 200
READ_CHUNK = 4 * 1024 * 1024
COMPRESSED = (".tar", ".zst", ".gz", ".zip", ".bz2", ".rar")


class Assembler:
    """Lines -> events with the multi-line start pattern (tailersrc.go's runTail).

    A line that matches the start pattern (or any line while nothing is pending) starts an
    event; other lines continue the pending one. The pending event is published when the next
    one starts, when the file goes away, or about five seconds after it started.
    """

    def __init__(self, fmt: LineFormat) -> None:
        self.fmt = fmt
        self.parts: list[str] = []
        self.size = 0  # length of the pending event's text; 0 means nothing is pending (Go's msgBuf)
        self.end = 0  # file offset just past the last line the pending event holds (or skipped)
        self.started = 0.0
        self.ignoring = False

    def add(self, text: str, end: int, now: float) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        if self.fmt.is_start(text) or (not self.ignoring and self.size == 0):
            out = self.flush()
            self.parts, self.size, self.started, self.ignoring = [text], len(text), now, False
        elif self.ignoring or self.size >= MAX_EVENT_BYTES:
            self.ignoring = True  # an event over the size limit drops lines until the next start
        else:
            self.parts.append(text)
            self.size += len(text) + 1
        self.end = end
        return out

    def due(self, now: float) -> list[tuple[str, int]]:
        return self.flush() if self.size and now - self.started >= MULTILINE_WAIT_SECONDS else []

    def flush(self) -> list[tuple[str, int]]:
        message = "\n".join(self.parts)
        self.parts, self.size = [], 0
        return [(message, self.end)] if message else []


def _state_path(path: str) -> Path:
    return STATE / re.sub(r"[^A-Za-z0-9]", "_", path)


class FileTail:
    """One file being followed by its open descriptor, from the offset its state file names.

    The state file holds the offset up to which events were *delivered* (PutLogEvents
    succeeded), so a restart re-reads what was read but not yet sent. Rotation by rename (create
    mode) is seen when the path names another file: the rest of this one is read to its end and
    the tail ends; the new file is then found by the scan and read from its start. Truncation in
    place (copytruncate) is seen when the file shrinks: reading restarts at 0.
    """

    def __init__(self, path: str, fmt: LineFormat, encoding: str | None) -> None:
        self.path, self.fmt = path, fmt
        self.handle = open(path, "rb")  # noqa: SIM115 - held open across polls on purpose
        stat = os.fstat(self.handle.fileno())
        self.identity = (stat.st_dev, stat.st_ino)
        self.offset = self._restore()
        if stat.st_size < self.offset:  # the file the state was about was replaced or truncated
            self.offset = 0
        self.last_size = self.offset
        self.generation = 0
        self.pending: deque[list] = deque()  # [generation, end offset, delivered] in reading order
        self.assembler = Assembler(fmt)
        self.encoding = encoding
        self.ended = False

    def _restore(self) -> int:
        try:
            return int(_state_path(self.path).read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return 0  # from_beginning: a file without state is read from its start

    def _save(self, offset: int) -> None:
        if not self.ended:
            _state_path(self.path).write_text(f"{offset}\n{self.path}\n")

    def _replaced(self) -> bool:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) != self.identity

    def _decode(self, raw: bytes) -> str:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode(self.encoding or "utf-8", errors="replace")

    def _lines(self) -> list[tuple[str, int]]:
        """Complete lines from the current offset; a partial last line waits for its newline.

        A line longer than the largest event is cut into pieces of that size, as the tailer's
        reader does when its buffer fills, even before its newline arrives.
        """
        self.handle.seek(self.offset)
        data = self.handle.read(READ_CHUNK)
        lines: list[tuple[str, int]] = []
        at = 0
        while at < len(data):
            newline = data.find(b"\n", at, at + MAX_EVENT_BYTES + 1)
            if newline < 0:
                if len(data) - at < MAX_EVENT_BYTES:
                    break
                end = next_at = at + MAX_EVENT_BYTES
            else:
                end, next_at = newline, newline + 1
            lines.append((self._decode(data[at:end]), self.offset + next_at))
            at = next_at
        self.offset += at
        return lines

    def read(self) -> tuple[list[tuple[str, int]], bool]:
        """New lines, and whether this tail has ended (its file was renamed away or deleted)."""
        if self._replaced():
            lines: list[tuple[str, int]] = []
            while more := self._lines():  # the rest of the old file; an unfinished last line is lost
                lines += more
            self.ended = True
            _state_path(self.path).unlink(missing_ok=True)
            self.handle.close()
            return lines, True
        size = os.fstat(self.handle.fileno()).st_size
        if size < self.last_size:
            _log(f"I! {self.path} was truncated, reading it again from the start")
            self.offset, self.generation = 0, self.generation + 1
            self._save(0)
        self.last_size = size
        return self._lines(), False

    def track(self, end: int) -> list:
        record = [self.generation, end, False]
        self.pending.append(record)
        return record

    def delivered(self, record: list) -> None:
        """The event is in CloudWatch (or was dropped for good): move the saved offset past it."""
        record[2] = True
        offset = None
        while self.pending and self.pending[0][2]:
            generation, end = self.pending.popleft()[:2]
            if generation == self.generation:
                offset = end
        if offset is not None:
            self._save(offset)


# --------------------------------------------------------------------------------------------
# Sending: plugins/outputs/cloudwatchlogs/internal/pusher (queue.go, batch.go, sender.go,
# retry.go, target.go, convert.go).

BATCH_EVENTS = 10000
BATCH_BYTES = 1024 * 1024
EVENT_OVERHEAD = 200
BATCH_SPAN_MS = 24 * 3600 * 1000
MAX_RETRY_SECONDS = 14 * 24 * 3600 + 600
BACKLOG_EVENTS = 2 * BATCH_EVENTS  # past this a target's files are not read (the tailer blocks)
UNRETRYABLE = ("InvalidParameterException", "DataAlreadyAcceptedException")
NETWORK_ERRORS = (OSError, urllib.error.URLError, http.client.HTTPException)
LONG_WAIT_CODES = ("ServiceUnavailableException", "ThrottlingException", "RequestTimeout")


class AwsError(Exception):
    """An error answer of the service: its code (``__type``), HTTP status and message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code, self.status = code, status


def retry_wait(error: Exception, short: int, long: int) -> tuple[float, bool]:
    """(seconds to wait, whether the long strategy applies) after a failed PutLogEvents (retry.go)."""
    is_long = not isinstance(error, AwsError) or error.code in LONG_WAIT_CODES or error.status in (500, 503)
    base, backoffs, count = (2.0, 2, long) if is_long else (0.2, 5, short)
    ceiling = base * (1 << count) if count < backoffs else 60.0
    return random.uniform(ceiling / 2, ceiling), is_long


CALL_ERRORS = (AwsError, *NETWORK_ERRORS)


class Event:
    def __init__(self, message: str, timestamp: int, done: Any) -> None:
        self.message, self.timestamp, self.done = message, timestamp, done
        self.size = len(message.encode()) + EVENT_OVERHEAD


class Batch:
    def __init__(self, now: float) -> None:
        self.events: list[Event] = []
        self.size = 0
        self.opened = now
        self.closed = False

    def fits(self, event: Event) -> bool:
        if not self.events:
            return True
        stamps = [e.timestamp for e in self.events]
        span = max(*stamps, event.timestamp) - min(*stamps, event.timestamp)
        room = len(self.events) < BATCH_EVENTS and self.size + event.size <= BATCH_BYTES
        return room and span <= BATCH_SPAN_MS


class Target:
    """One log group/stream: its batches, the one being sent, and its retry schedule."""

    def __init__(self, client: Any, entry: dict, flush: float) -> None:
        self.client = client
        self.group = entry.get("log_group_name") or os.path.splitext(entry["file_path"])[0]
        self.stream = stream_name(entry.get("log_stream_name") or "{instance_id}")
        self.klass = entry.get("log_group_class", "")
        self.retention, self.flush_seconds = int(entry.get("retention_in_days", -1)), flush
        self.batches: list[Batch] = []
        self.last_valid: int | None = None
        self.last_sent = 0.0
        self.retry_at = 0.0
        self.first_try = 0.0
        self.short = self.long = 0

    def backlog(self) -> int:
        return sum(len(b.events) for b in self.batches)

    def add(self, message: str, timestamp: int | None, done: Any, now: float) -> None:
        """Queue an event; without a time of its own it takes the last one seen, else now (convert.go)."""
        if timestamp is None:
            timestamp = self.last_valid if self.last_valid is not None else int(now * 1000)
        else:
            self.last_valid = timestamp
        event = Event(message, timestamp, done)
        if not self.batches or self.batches[-1].closed or not self.batches[-1].fits(event):
            if self.batches:
                self.batches[-1].closed = True
            self.batches.append(Batch(now))
        batch = self.batches[-1]
        batch.events.append(event)
        batch.size += event.size

    def _due(self, now: float) -> bool:
        batch = self.batches[0]
        if self.first_try:  # being retried
            return now >= self.retry_at
        if batch.closed:
            return True
        return now - batch.opened >= self.flush_seconds and now - self.last_sent >= self.flush_seconds

    def pump(self, now: float) -> None:
        """Send the oldest batch when it is due; keep it (and everything after it) on failure."""
        if not self.batches or not self._due(now):
            return
        batch = self.batches[0]
        batch.closed = True
        if not self.first_try:
            self.first_try = now
        events = sorted(batch.events, key=lambda e: e.timestamp)
        payload = {
            "logGroupName": self.group,
            "logStreamName": self.stream,
            "logEvents": [{"timestamp": e.timestamp, "message": e.message} for e in events],
        }
        try:
            self.client.call("PutLogEvents", payload)
        except AwsError as exc:
            if exc.code in UNRETRYABLE:
                _log(f"E! {self.group}/{self.stream}: {exc}, will not retry the request")
                self._finish(now, sent=False)
                return
            if exc.code == "ResourceNotFoundException":
                self.init_target()
            self._schedule(exc, now)
            return
        except NETWORK_ERRORS as exc:
            self._schedule(exc, now)
            return
        self._finish(now, sent=True)

    def _schedule(self, error: Exception, now: float) -> None:
        wait, is_long = retry_wait(error, self.short, self.long)
        if is_long:
            self.long += 1
        else:
            self.short += 1
        if now - self.first_try + wait > MAX_RETRY_SECONDS:
            _log(f"E! All retries to {self.group}/{self.stream} failed for PutLogEvents, request dropped.")
            self._finish(now, sent=False)
            return
        retries = self.short + self.long
        _log(
            f"W! PutLogEvents to {self.group}/{self.stream} failed ({error}); retry {retries} in {wait:.1f}s"
        )
        self.retry_at = now + wait

    def _finish(self, now: float, sent: bool) -> None:
        batch = self.batches.pop(0)
        for event in batch.events:
            event.done()
        if sent:
            self.last_sent = now
        self.first_try = self.retry_at = 0.0
        self.short = self.long = 0

    def _create(self, operation: str, payload: dict) -> bool:
        """True when the resource exists afterwards; raises the error otherwise."""
        try:
            self.client.call(operation, payload)
        except AwsError as exc:
            if exc.code != "ResourceAlreadyExistsException":
                raise
        return True

    def init_target(self) -> None:
        """Create the stream, and the group first when it is missing (target.go); errors are logged."""
        stream = {"logGroupName": self.group, "logStreamName": self.stream}
        try:
            try:
                self._create("CreateLogStream", stream)
                return
            except AwsError as exc:
                if exc.code != "ResourceNotFoundException":
                    raise
            group = {"logGroupName": self.group}
            if self.klass:
                group["logGroupClass"] = self.klass
            self._create("CreateLogGroup", group)
            _log(f"I! created log group {self.group}")
            self._create("CreateLogStream", stream)
            if self.retention > 0:
                self._put_retention()
        except CALL_ERRORS as exc:
            _log(f"E! Unable to create log stream {self.group}/{self.stream}: {exc}")

    def _put_retention(self) -> None:
        self.client.call(
            "PutRetentionPolicy", {"logGroupName": self.group, "retentionInDays": self.retention}
        )

    def check_retention(self) -> None:
        """At start, set retention_in_days on an existing group whose retention differs (target.go)."""
        if self.retention <= 0:
            return
        try:
            answer = self.client.call("DescribeLogGroups", {"logGroupNamePrefix": self.group})
            current = [
                g.get("retentionInDays")
                for g in answer.get("logGroups", [])
                if g["logGroupName"] == self.group
            ]
            if current and current[0] != self.retention:
                self._put_retention()
        except CALL_ERRORS as exc:
            _log(f"E! failed to describe log group retention for {self.group}: {exc}")


# --------------------------------------------------------------------------------------------
# Reading the journal: the agent's journald receiver (translator/translate/otel/receiver/journald
# with OpenTelemetry's stanza journald input, pkg/stanza/operator/input/journald): one journalctl
# per collect_list entry, its JSON lines become events, the cursor is kept in the state directory.

JOURNALCTL = os.environ.get("CWAGENT_STANDIN_JOURNALCTL", "journalctl")
JOURNAL_RESTART_SECONDS = 1.0  # the input starts journalctl again a second after it ended


def journalctl_args(entry: dict) -> list[str]:
    """The receiver's journalctl command line for one entry (without the cursor).

    ``--follow`` without ``--no-tail`` (start_at: end) shows the newest ten entries first, as
    journalctl does; ``priority`` defaults to info; ``matches`` are alternatives joined by ``+``,
    each one's fields sorted.
    """
    args = ["--utc", "--output=json", "--follow"]
    for unit in entry.get("units") or []:
        args += ["--unit", unit]
    args += ["--priority", str(entry.get("priority") or "info")]
    for index, match in enumerate(entry.get("matches") or []):
        if index:
            args.append("+")
        args += [f"{key}={match[key]}" for key in sorted(match)]
    return args


def journal_body(fields: dict) -> str:
    """The event text: the entry's fields without __REALTIME_TIMESTAMP, as Go's json.Marshal writes a
    map (keys sorted, compact, <, > and & escaped). The agent's filters match this text."""
    body = {k: v for k, v in fields.items() if k != "__REALTIME_TIMESTAMP"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def journal_publishes(filters: list[dict], text: str) -> bool:
    """The journald filter processor: any exclude match drops; with includes, one must match."""
    includes = [f["expression"] for f in filters if f.get("type") == "include"]
    if any(re.search(f["expression"], text) for f in filters if f.get("type") == "exclude"):
        return False
    return not includes or any(re.search(expression, text) for expression in includes)


class JournalTail:
    """One journald entry: a running journalctl, read without blocking, and the saved cursor.

    The cursor in the state file is that of the last entry CloudWatch accepted (the file tails'
    rule), so a restart passes ``--after-cursor`` and neither repeats nor loses entries.
    """

    def __init__(self, index: int, entry: dict) -> None:
        self.entry, self.args = entry, journalctl_args(entry)
        self.state = STATE / f"journald_{index}"
        self.filters = entry.get("filters") or []
        self.process: subprocess.Popen | None = None
        self.buffer = b""
        self.pending: deque[list] = deque()  # [cursor, delivered] in reading order
        self.restart_at = 0.0
        self.warned = False

    def cursor(self) -> str | None:
        try:
            return self.state.read_text().strip() or None
        except OSError:
            return None

    def start(self, now: float) -> None:
        if now < self.restart_at:
            return
        args = [JOURNALCTL, *self.args]
        saved = self.cursor()
        if saved:
            args += ["--after-cursor", saved]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream in (self.process.stdout, self.process.stderr):
            os.set_blocking(stream.fileno(), False)
        self.buffer, self.restart_at = b"", now + JOURNAL_RESTART_SECONDS
        _log(f"I! reading the journal: {' '.join(args)}")

    def _stderr(self) -> None:
        try:
            text = (self.process.stderr.read() or b"").decode(errors="replace").strip()
        except OSError:
            return
        if text and not self.warned:  # e.g. not in systemd-journal: only the user's own entries
            _log(f"W! journalctl: {text}")
            self.warned = True

    def read(self, now: float) -> list[dict]:
        """Complete JSON entries journalctl printed since the last poll."""
        if self.process is None or self.process.poll() is not None:
            if self.process is not None:
                self._stderr()
            self.start(now)
            if self.process is None:
                return []
        self._stderr()
        try:
            chunk = self.process.stdout.read() or b""
        except OSError:
            chunk = b""
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                _log(f"E! journalctl printed what is not JSON: {line[:200]!r}")
        return entries

    def track(self, cursor: str) -> list:
        record = [cursor, False]
        self.pending.append(record)
        return record

    def delivered(self, record: list) -> None:
        record[1] = True
        cursor = None
        while self.pending and self.pending[0][1]:
            cursor = self.pending.popleft()[0]
        if cursor:
            self.state.write_text(cursor + "\n")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=2)


class Agent:
    """The logs pipeline: files -> events -> batches -> PutLogEvents. ``step()`` is one poll."""

    def __init__(self, config: dict, client: Any, clock: Any = time.time) -> None:
        self.client, self.clock = client, clock
        self.entries = [
            (entry, LineFormat(entry)) for entry in config["logs"]["logs_collected"]["files"]["collect_list"]
        ]
        self.flush_seconds = float(config["logs"].get("force_flush_interval") or 5)
        self.tails: dict[tuple[int, str], FileTail] = {}
        self.targets: dict[Any, Target] = {}
        journald = (config["logs"]["logs_collected"].get("journald") or {}).get("collect_list") or []
        self.journals = [JournalTail(index, entry) for index, entry in enumerate(journald)]
        self.denied: set[str] = set()
        self.next_scan = 0.0

    def target_of(self, index: Any, entry: dict | None = None) -> Target:
        """The target of an entry; entries naming the same group and stream share it (one pusher)."""
        if index not in self.targets:
            target = Target(self.client, entry or self.entries[index][0], self.flush_seconds)
            same = [t for t in self.targets.values() if (t.group, t.stream) == (target.group, target.stream)]
            if same:
                target = same[0]
            else:
                target.check_retention()
            self.targets[index] = target
        return self.targets[index]

    def newest_match(self, pattern: str) -> str | None:
        """The file a file_path names: the most recently modified match of the glob (logfile.go)."""
        newest: tuple[float, str] | None = None
        for path in glob.glob(pattern):
            if path.endswith(COMPRESSED) or path.startswith(str(STATE)) or os.path.isdir(path):
                continue
            with contextlib.suppress(OSError):
                mtime = os.stat(path).st_mtime
                if newest is None or mtime > newest[0]:
                    newest = (mtime, path)
        return newest[1] if newest else None

    def scan(self) -> None:
        for index, (entry, fmt) in enumerate(self.entries):
            path = self.newest_match(entry["file_path"])
            if path is None or (index, path) in self.tails:
                continue
            try:
                self.tails[(index, path)] = FileTail(path, fmt, entry.get("encoding"))
                self.denied.discard(path)
            except PermissionError as exc:
                if path not in self.denied:
                    _log(f"E! cannot read {path}: {exc}")
                self.denied.add(path)
                continue
            except OSError:
                continue
            self.target_of(index)

    def publish(self, index: int, tail: FileTail, message: str, end: int, now: float) -> None:
        record = tail.track(end)
        if not tail.fmt.publishes(message):
            tail.delivered(record)
            return
        timestamp = tail.fmt.timestamp(message, now)
        if timestamp is not None and not -MAX_AHEAD_MS <= now * 1000 - timestamp <= MAX_AGE_MS:
            _log(f"E! The log entry in {tail.path} with timestamp {timestamp} is out of the accepted range.")
            tail.delivered(record)
            return
        self.target_of(index).add(message, timestamp, lambda: tail.delivered(record), now)

    def poll(self, key: tuple[int, str], tail: FileTail, now: float) -> None:
        index = key[0]
        if self.target_of(index).backlog() >= BACKLOG_EVENTS:
            return
        try:
            lines, ended = tail.read()
        except OSError as exc:
            _log(f"E! cannot read {tail.path}: {exc}")
            return
        for text, end in lines:
            for message, offset in tail.assembler.add(text, end, now):
                self.publish(index, tail, message, offset, now)
        pending = tail.assembler.flush() if ended else tail.assembler.due(now)
        for message, offset in pending:
            self.publish(index, tail, message, offset, now)
        if ended:
            _log(f"I! {tail.path} was moved or deleted; read to its end")
            del self.tails[key]

    def poll_journal(self, index: int, journal: JournalTail, now: float) -> None:
        target = self.target_of(("journald", index), journal.entry)
        if target.backlog() >= BACKLOG_EVENTS:
            return
        for fields in journal.read(now):
            record = journal.track(str(fields.get("__CURSOR", "")))
            text = journal_body(fields)
            if not journal_publishes(journal.filters, text):
                journal.delivered(record)
                continue
            try:
                timestamp = int(fields["__REALTIME_TIMESTAMP"]) // 1000
            except (KeyError, ValueError):
                timestamp = None
            target.add(text, timestamp, lambda record=record: journal.delivered(record), now)

    def step(self) -> None:
        now = self.clock()
        for key, tail in list(self.tails.items()):
            self.poll(key, tail, now)
        for index, journal in enumerate(self.journals):
            self.poll_journal(index, journal, now)
        if now >= self.next_scan:
            self.next_scan = now + SCAN_SECONDS
            self.scan()
        for target in {id(t): t for t in self.targets.values()}.values():
            target.pump(now)


def drop_privileges(user: str) -> None:
    """Become ``agent.run_as_user`` with its supplementary groups, as the real agent does."""
    if not user or user == "root":
        return
    entry = pwd.getpwnam(user)
    for directory in (LOGS, STATE):
        directory.mkdir(parents=True, exist_ok=True)
        for path in [directory, *directory.iterdir()]:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    os.setgroups(os.getgrouplist(user, entry.pw_gid))
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    _log(f"I! running as {user} (groups: {', '.join(grp.getgrgid(g).gr_name for g in os.getgroups())})")


def daemon_main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    STATE.mkdir(parents=True, exist_ok=True)
    if not TOML.exists():
        _log("E! not configured: no translated config")
        return 1
    config = load_translated()
    drop_privileges(config.get("agent", {}).get("run_as_user", ""))
    endpoint = config.get("logs", {}).get("endpoint_override")
    region = config.get("agent", {}).get("region") or os.environ.get("AWS_REGION", "us-east-1")
    if endpoint and not endpoint.startswith("http"):
        endpoint = "https://" + endpoint
    endpoint = endpoint or f"https://logs.{region}.amazonaws.com"
    agent = Agent(config, LogsClient(endpoint, region, load_credentials()))
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    _log(
        f"I! started, {len(agent.entries)} files, {len(agent.journals)} journal entries, endpoint {endpoint}"
    )
    # Events read but not yet delivered are not in the state files: the next start reads them again.
    while not stop:
        agent.step()
        time.sleep(POLL_SECONDS)
    for journal in agent.journals:
        journal.stop()
    _log("I! stopped")
    return 0


def main() -> int:
    name = os.path.basename(sys.argv[0])
    if name == "start-amazon-cloudwatch-agent":
        return daemon_main()
    return ctl_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
