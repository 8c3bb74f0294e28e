"""Unit tests of the CloudWatch agent stand-in used by the Linux Molecule scenario.

The stand-in is test infrastructure, but the scenario's claims rest on it rejecting what the real
translator rejects, keeping the running config on rejection, and signing requests correctly.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import sys
from pathlib import Path

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


def test_tail_resumes_and_handles_rotation(agent, tmp_path: Path) -> None:
    agent.STATE.mkdir(parents=True)
    log = tmp_path / "access.log"
    log.write_text("one\ntwo\npart")
    tail = agent.Tail(str(log))
    assert tail.read() == ["one", "two"]
    with log.open("a") as handle:
        handle.write("ial\n")
    assert agent.Tail(str(log)).read() == ["partial"]  # a new Tail resumes from the saved offset
    log.write_text("new\n")  # truncated by rotation
    assert tail.read() == ["new"]
