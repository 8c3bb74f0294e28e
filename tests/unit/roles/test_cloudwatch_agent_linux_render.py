"""The Linux agent role's public render entry point (``tasks_from: render``), run by ansible-playbook.

One ansible-playbook run on localhost renders described hosts (no host is contacted) and the
``plan`` entry point; the tests check each fragment against the agent's own schema for the parts
the role writes (files and journald collect_lists, from the agent's translator/config/schema.json)
and against what each host needs: an Amazon Linux 2023 host (no syslog daemon) gets its auth and
system messages from the journal into the same groups a Debian host with rsyslog fills from files.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
from controller_play import ansible_playbook, write_playbook

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

PREFIX = "/gdpr/test"
NEW_AGENT, OLD_AGENT = "1.300070.0b1234", "1.300049.1b929"

HOSTS: dict[str, dict] = {
    # Amazon Linux 2023: no rsyslog, no /var/log/secure or messages; nginx and auditd installed.
    "al2023": {
        "name": "al2023.example",
        "os_family": "RedHat",
        "distribution": "Amazon",
        "distribution_major_version": "2023",
        "present_paths": ["/var/log/audit/audit.log"],
        "installed_packages": ["nginx", "audit"],
        "active_services": [],
        "version": NEW_AGENT,
    },
    # Debian 12 with rsyslog running: files, as before.
    "debian_rsyslog": {
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_major_version": "12",
        "present_paths": ["/var/log/auth.log", "/var/log/syslog"],
        "installed_packages": ["rsyslog", "apache2"],
        "active_services": ["rsyslog.service", "syslog.service"],
        "version": NEW_AGENT,
    },
    # rsyslog installed but stopped, old auth.log left behind: nothing writes it any more.
    "debian_rsyslog_stopped": {
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_major_version": "12",
        "present_paths": ["/var/log/auth.log", "/var/log/syslog"],
        "installed_packages": ["rsyslog"],
        "active_services": [],
        "version": "",
    },
}
EXTRA_VARS = {"al2023_never": {"cloudwatch_agent_linux_journald": "never"}}
SITE_VARS = {"gdpr_monitoring_environment": "test", "gdpr_monitoring_retention_days": 400}

_NAME = {"type": "string", "minLength": 1, "maxLength": 512}
_FILTERS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"type": {"enum": ["include", "exclude"]}, "expression": {"type": "string"}},
        "additionalProperties": False,
    },
}
# The agent's logsJournaldDefinition (translator/config/schema.json), minus retention (never written).
JOURNALD_SCHEMA = {
    "type": "object",
    "required": ["collect_list"],
    "additionalProperties": False,
    "properties": {
        "collect_list": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {
                "type": "object",
                "required": ["log_group_name"],
                "additionalProperties": False,
                "properties": {
                    "log_group_name": _NAME,
                    "log_stream_name": _NAME,
                    "log_group_class": _NAME,
                    "filters": _FILTERS,
                    "units": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"type": "string"},
                    },
                    "priority": {"enum": [*cwagent.JOURNALD_PRIORITIES, *"01234567"]},
                    "matches": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            },
        }
    },
}


def render_task(key: str, host: dict, extra: dict | None = None) -> list[dict]:
    return [
        {
            "name": f"Render {key}",
            "ansible.builtin.include_role": {
                "name": "gdpr.aws_monitoring.cloudwatch_agent_linux",
                "tasks_from": "render",
            },
            "vars": {"cloudwatch_agent_linux_host": host, **(extra or {})},
        },
        {
            "name": f"Keep {key}",
            "ansible.builtin.set_fact": {
                "test_results": (
                    "{{ test_results | default({}) | combine({"
                    f"{key!r}: {{'fragment': cloudwatch_agent_linux_fragment, "
                    "'json': cloudwatch_agent_linux_fragment_json}}) }}"
                )
            },
        },
    ]


def run(plays: list[dict], workdir: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(
        write_playbook(plays, workdir / "playbook.yml"),
        *("-i", "localhost,", "-c", "local"),
        cwd=workdir,
        timeout=300,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every described host's fragment and the plan, from one ansible-playbook run."""
    out = tmp_path_factory.mktemp("cwagent_linux_render")
    tasks: list[dict] = []
    for key, host in HOSTS.items():
        tasks += render_task(key, host)
    tasks += render_task("al2023_never", HOSTS["al2023"], EXTRA_VARS["al2023_never"])
    tasks += render_task(
        "old_upgraded",
        {**HOSTS["al2023"], "version": OLD_AGENT},
        {"cloudwatch_agent_linux_upgrade_for_journald": "true"},
    )
    tasks.append(
        {
            "name": "Render for an agent too old for the journal",
            "block": render_task("old", {**HOSTS["al2023"], "version": OLD_AGENT})[:1],
            "rescue": [
                {
                    "name": "Keep the refusal",
                    "ansible.builtin.set_fact": {
                        "test_results": (
                            "{{ test_results | combine({'old_refused': ansible_failed_result.msg}) }}"
                        )
                    },
                }
            ],
        }
    )
    tasks += [
        {
            "name": "Plan",
            "ansible.builtin.include_role": {
                "name": "gdpr.aws_monitoring.cloudwatch_agent_linux",
                "tasks_from": "plan",
            },
        },
        {
            "name": "Write the results",
            "ansible.builtin.copy": {
                "content": (
                    "{{ test_results | combine({'plan': cloudwatch_agent_linux_log_groups}) | to_json }}"
                ),
                "dest": str(out / "results.json"),
                "mode": "0644",
            },
        },
    ]
    play = {"name": "Render", "hosts": "localhost", "gather_facts": False, "vars": SITE_VARS, "tasks": tasks}
    result = run([play], out)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return json.loads((out / "results.json").read_text())


def collected(rendered: dict, key: str) -> dict:
    return rendered[key]["fragment"]["logs"]["logs_collected"]


def test_amazon_linux_2023_reads_auth_and_syslog_from_the_journal(rendered: dict) -> None:
    logs = collected(rendered, "al2023")
    jsonschema.validate(logs["journald"], JOURNALD_SCHEMA)
    by_group = {e["log_group_name"]: e for e in logs["journald"]["collect_list"]}
    assert set(by_group) == {f"{PREFIX}/system/auth", f"{PREFIX}/system/syslog"}
    auth, syslog = by_group[f"{PREFIX}/system/auth"], by_group[f"{PREFIX}/system/syslog"]
    # auth and authpriv at every priority (the agent reads info and above when none is given)
    assert auth["matches"] == [{"SYSLOG_FACILITY": "4"}, {"SYSLOG_FACILITY": "10"}]
    assert auth["priority"] == "debug"
    # system messages from info up, without the auth entries the other group already has
    assert syslog["priority"] == "info"
    assert syslog["filters"] == [{"type": "exclude", "expression": '"SYSLOG_FACILITY":"(4|10)"'}]
    assert all("retention_in_days" not in e for e in logs["journald"]["collect_list"])
    # files: nginx and audit.log only, RedHat paths; no /var/log/secure or messages
    files = {e["file_path"]: e["log_group_name"] for e in logs["files"]["collect_list"]}
    assert files == {
        "/var/log/nginx/access.log": f"{PREFIX}/nginx/access",
        "/var/log/nginx/error.log": f"{PREFIX}/nginx/error",
        "/var/log/audit/audit.log": f"{PREFIX}/system/audit",
    }
    # the RedHat family's default agent user (root-only logs there)
    assert rendered["al2023"]["fragment"]["agent"] == {"run_as_user": "root"}


def test_json_is_the_text_written_to_the_host(rendered: dict) -> None:
    for key in HOSTS:
        assert rendered[key]["json"] == json.dumps(rendered[key]["fragment"], indent=2, sort_keys=True) + "\n"


def test_debian_with_a_running_syslog_daemon_keeps_its_files(rendered: dict) -> None:
    logs = collected(rendered, "debian_rsyslog")
    assert "journald" not in logs
    files = {e["file_path"]: e["log_group_name"] for e in logs["files"]["collect_list"]}
    assert files["/var/log/auth.log"] == f"{PREFIX}/system/auth"
    assert files["/var/log/syslog"] == f"{PREFIX}/system/syslog"
    assert set(files) >= {"/var/log/apache2/access.log", "/var/log/apache2/error.log"}  # detected
    assert not any("nginx" in path for path in files)  # not installed: not collected
    assert rendered["debian_rsyslog"]["fragment"]["agent"] == {"run_as_user": "cwagent"}


def test_a_stopped_daemons_old_files_give_way_to_the_journal(rendered: dict) -> None:
    logs = collected(rendered, "debian_rsyslog_stopped")
    files = [e["file_path"] for e in logs.get("files", {}).get("collect_list", [])]
    assert "/var/log/auth.log" not in files and "/var/log/syslog" not in files  # never sent twice
    assert [e["log_group_name"] for e in logs["journald"]["collect_list"]] == [
        f"{PREFIX}/system/auth",
        f"{PREFIX}/system/syslog",
    ]


def test_journald_never_keeps_the_files_only(rendered: dict) -> None:
    assert "journald" not in collected(rendered, "al2023_never")


def test_plan_names_the_journal_groups_with_retention(rendered: dict) -> None:
    planned = {g["name"]: g for g in rendered["plan"]}
    for key in HOSTS:
        for group in cwagent.log_groups_from_fragment(rendered[key]["fragment"]):
            assert planned[group["name"]]["retention_in_days"] == 400
            assert planned[group["name"]]["log_group_class"] == group["log_group_class"]


def test_an_old_agent_is_refused_naming_host_version_and_variables(rendered: dict) -> None:
    message = rendered["old_refused"]
    for needle in (
        "al2023.example",
        OLD_AGENT,
        cwagent.JOURNALD_MIN_VERSION,
        "cloudwatch_agent_linux_package_state",
        "cloudwatch_agent_linux_upgrade_for_journald",
    ):
        assert needle in message, message
    assert "old" not in rendered  # nothing rendered for it
    # the role may upgrade it (-e cloudwatch_agent_linux_upgrade_for_journald=true): the fragment for after
    assert rendered["old_upgraded"]["fragment"] == rendered["al2023"]["fragment"]
