"""Unit tests of cloudwatch_agent_linux_info: the one-call host probe of the Linux agent role."""

from __future__ import annotations

import getpass
import grp
import json
import os
from pathlib import Path

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.gdpr.aws_monitoring.plugins.modules import cloudwatch_agent_linux_info as info


class Exit(Exception):
    pass


def run(monkeypatch: pytest.MonkeyPatch, commands: dict[str, tuple[int, str]], **params: object) -> dict:
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": params})))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    result: dict = {}

    def exit_json(self: basic.AnsibleModule, **kwargs: object) -> None:
        result.update(kwargs)
        raise Exit

    def run_command(self: basic.AnsibleModule, args: list[str], **_kw: object) -> tuple[int, str, str]:
        key = f"systemctl {args[1]}" if args[0] == "systemctl" else args[0]
        rc, out = commands.get(key, (1, ""))
        return rc, out, ""

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(
        basic.AnsibleModule,
        "get_bin_path",
        lambda self, name, *a, **k: name if name in commands or name == "systemctl" else None,
    )
    with pytest.raises(Exit):
        info.main()
    return result


def test_dpkg_packages_only_installed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    out = "amazon-cloudwatch-agent\tinstalled\t1.3\napache2\tinstalled\t2.4.68\nhttpd\tnot-installed\t\n"
    result = run(
        monkeypatch, {"dpkg-query": (1, out)}, packages=["amazon-cloudwatch-agent", "apache2", "httpd"]
    )
    assert result["packages"] == {"amazon-cloudwatch-agent": "1.3", "apache2": "2.4.68"}
    assert result["changed"] is False


def test_rpm_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    out = "httpd\t2.4.57-5.el9\npackage nginx is not installed\n"
    result = run(monkeypatch, {"rpm": (1, out)}, packages=["httpd", "nginx"])
    assert result["packages"] == {"httpd": "2.4.57-5.el9"}


def test_paths_files_user_and_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    present = tmp_path / "auth.log"
    present.write_text("x")
    stored = tmp_path / "file_mine.json"
    stored.write_text('{"logs": {}}\n')
    me = getpass.getuser()
    commands = {"dpkg-query": (0, ""), "systemctl is-enabled": (0, ""), "systemctl is-active": (3, "")}
    result = run(
        monkeypatch,
        commands,
        paths=[str(present), str(tmp_path / "secure")],
        read=[str(stored), str(tmp_path / "missing.json")],
        user=me,
        service="amazon-cloudwatch-agent",
    )
    assert result["paths"] == [str(present)]
    assert result["files"] == {str(stored): '{"logs": {}}\n'}
    assert result["user_groups"][0] == grp.getgrgid(os.getgid()).gr_name
    assert result["service"] == {"enabled": True, "active": False}


def test_unknown_user(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(monkeypatch, {"dpkg-query": (0, "")}, user="no-such-user-cwagent-test")
    assert result["user_groups"] is None


def test_existing_groups_and_systemd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mine = grp.getgrgid(os.getgid()).gr_name
    result = run(monkeypatch, {"dpkg-query": (0, "")}, groups=[mine, "no-such-group-cwagent-test"])
    assert result["groups"] == [mine]
    assert result["systemd"] == os.path.isdir("/run/systemd/system")
    assert info.systemd_booted(str(tmp_path)) is True
    assert info.systemd_booted(str(tmp_path / "missing")) is False


def test_active_units_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """systemctl is-active prints one state per unit, in the order asked (rc 3 when one is not active)."""
    units = ["rsyslog.service", "syslog-ng.service", "syslog.service"]
    out = "active\ninactive\nactive\n"
    result = run(monkeypatch, {"dpkg-query": (0, ""), "systemctl is-active": (3, out)}, active=units)
    assert result["active_services"] == ["rsyslog.service", "syslog.service"]
    none_running = run(
        monkeypatch, {"dpkg-query": (0, ""), "systemctl is-active": (3, "inactive\n" * 3)}, active=units
    )
    assert none_running["active_services"] == []
    assert run(monkeypatch, {"dpkg-query": (0, "")})["active_services"] == []
