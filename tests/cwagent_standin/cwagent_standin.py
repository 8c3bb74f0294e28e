#!/usr/bin/env python
"""Test stand-in for the Amazon CloudWatch agent (Linux): control script, translator and daemon.

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
  * The daemon tails every ``collect_list`` file and sends new lines with PutLogEvents to
    ``logs.endpoint_override`` (SigV4-signed, credentials from common-config.toml's shared
    credentials file), creating groups with their retention, streams named after the host.

The schema is written out here rather than imported from the collection on purpose: this models
the agent, and a shared copy could not catch the role's own mistakes.
"""

from __future__ import annotations

import configparser
import datetime
import glob
import grp
import hashlib
import hmac
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
# Settings every fragment must agree on: the real translator refuses different values too.
SINGLE_VALUED = (("agent", "region"), ("agent", "run_as_user"), ("logs", "endpoint_override"))


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
    pattern = entry.get("multi_line_start_pattern")
    if pattern not in (None, "{timestamp_format}"):
        try:
            re.compile(str(pattern))
        except re.error as exc:
            errors.append(f"Under path : {where}/multi_line_start_pattern | Error : {exc}")
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
    return [f"{name}: {e}" for e in errors]


def merge(configs: dict[str, dict]) -> dict:
    """Merge fragments the way the agent does: lists concatenate, single settings must agree."""
    errors: list[str] = []
    for name, cfg in configs.items():
        errors += _check_fragment(name, cfg)
    if errors:
        raise Rejected(errors)
    merged: dict[str, Any] = {"agent": {}, "logs": {"logs_collected": {"files": {"collect_list": []}}}}
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
        files = ((cfg.get("logs") or {}).get("logs_collected") or {}).get("files") or {}
        merged["logs"]["logs_collected"]["files"]["collect_list"] += files.get("collect_list", [])
    retention: dict[str, tuple[int, str]] = {}
    conflicts: set[str] = set()
    for entry in merged["logs"]["logs_collected"]["files"]["collect_list"]:
        group, days = entry.get("log_group_name"), entry.get("retention_in_days", -1)
        if group and days != -1:
            if group in retention and retention[group][0] != days and group not in conflicts:
                conflicts.add(group)
                errors.append(
                    "Under path : /logs/logs_collected/files/collect_list | Error : Different "
                    f"retention_in_days values can't be set for the same log group: {group} "
                    f"({retention[group][0]} and {days})"
                )
            retention.setdefault(group, (days, entry["file_path"]))
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
    def __init__(self, endpoint: str, region: str, creds: tuple[str, str, str | None]) -> None:
        self.endpoint, self.region, self.creds = endpoint.rstrip("/"), region, creds

    def call(self, target: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        now = datetime.datetime.now(datetime.timezone.utc)
        headers = sigv4_headers(self.endpoint, self.region, target, body, self.creds, now)
        request = urllib.request.Request(self.endpoint + "/", data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def ensure(self, target: str, payload: dict) -> None:
        try:
            self.call(target, payload)
        except urllib.error.HTTPError as exc:
            if b"ResourceAlreadyExists" not in exc.read():
                raise


def stream_name(template: str) -> str:
    host = socket.gethostname()
    # No instance metadata in a container: the host name stands in for the instance id.
    for placeholder in ("{instance_id}", "{hostname}", "{local_hostname}"):
        template = template.replace(placeholder, host)
    return template.replace("{ip_address}", "127.0.0.1")


class Tail:
    """New complete lines of one file, resuming at the offset kept in ``var/state``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.state = STATE / re.sub(r"[^A-Za-z0-9]", "_", path)
        self.offset = int(self.state.read_text()) if self.state.exists() else 0
        self.denied = False

    def read(self) -> list[str]:
        try:
            size = os.path.getsize(self.path)
            if size < self.offset:  # rotated or truncated
                self.offset = 0
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except PermissionError as exc:
            if not self.denied:
                _log(f"E! cannot read {self.path}: {exc}")
            self.denied = True
            return []
        except OSError:
            return []
        self.denied = False
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        self.state.write_text(str(self.offset))
        return [line for line in data[: end + 1].decode(errors="replace").splitlines() if line]


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
    client = LogsClient(endpoint, region, load_credentials())
    entries = config["logs"]["logs_collected"]["files"]["collect_list"]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    tails: dict[str, Tail] = {}
    ready: set[tuple[str, str]] = set()
    _log(f"I! started, {len(entries)} files, endpoint {endpoint}")
    while not stop:
        for entry in entries:
            for path in sorted(glob.glob(entry["file_path"])):
                tail = tails.setdefault(path, Tail(path))
                lines = tail.read()
                if not lines:
                    continue
                group = entry.get("log_group_name") or path
                stream = stream_name(entry.get("log_stream_name") or "{instance_id}")
                try:
                    if (group, stream) not in ready:
                        client.ensure("CreateLogGroup", {"logGroupName": group})
                        if entry.get("retention_in_days", -1) > 0:
                            client.call(
                                "PutRetentionPolicy",
                                {"logGroupName": group, "retentionInDays": entry["retention_in_days"]},
                            )
                        client.ensure("CreateLogStream", {"logGroupName": group, "logStreamName": stream})
                        ready.add((group, stream))
                    now = int(time.time() * 1000)
                    events = [{"timestamp": now, "message": line} for line in lines]
                    client.call(
                        "PutLogEvents", {"logGroupName": group, "logStreamName": stream, "logEvents": events}
                    )
                except (OSError, urllib.error.URLError) as exc:
                    _log(f"E! {group}: {exc}")
        time.sleep(1)
    _log("I! stopped")
    return 0


def main() -> int:
    name = os.path.basename(sys.argv[0])
    if name == "start-amazon-cloudwatch-agent":
        return daemon_main()
    return ctl_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
