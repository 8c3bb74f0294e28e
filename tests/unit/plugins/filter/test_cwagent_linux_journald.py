"""Journal collection (issue 15): which hosts read auth/syslog from the journal, the entries the
agent gets for it, the minimum agent version, and the schema checks of ``cwagent.journald_entry``."""

from __future__ import annotations

import json
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter import cwagent_linux as cl
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

AL2023 = {
    "name": "web-1",
    "os_family": "RedHat",
    "distribution": "Amazon",
    "distribution_major_version": "2023",
    "present_paths": [],
    "installed_packages": ["audit"],
    "active_services": [],
}
DEBIAN_RSYSLOG = {
    "os_family": "Debian",
    "distribution": "Debian",
    "distribution_major_version": "12",
    "present_paths": ["/var/log/auth.log", "/var/log/syslog"],
    "installed_packages": ["rsyslog"],
    "active_services": ["rsyslog.service"],
}


def options(**overrides: object) -> dict:
    base = {
        "system_logs": ["auth", "syslog", "audit"],
        "prefix": "/gdpr/prod",
        "retention_days": 365,
        "log_group_class": "STANDARD",
        "stream": "{instance_id}",
        "journald": "auto",
        "journald_priority": "info",
    }
    base.update(overrides)
    return base


def journal(frag: dict) -> dict[str, dict]:
    entries = frag["logs"]["logs_collected"].get("journald", {}).get("collect_list", [])
    return {e["log_group_name"].removeprefix("/gdpr/prod/"): e for e in entries}


def files(frag: dict) -> set[str]:
    return {e["file_path"] for e in frag["logs"]["logs_collected"].get("files", {}).get("collect_list", [])}


@pytest.mark.parametrize(
    ("host", "writes"),
    [
        (DEBIAN_RSYSLOG, True),
        ({**DEBIAN_RSYSLOG, "active_services": ["syslog.service"]}, True),  # the enabled daemon's alias
        ({**DEBIAN_RSYSLOG, "active_services": []}, False),  # installed, not running
        ({**DEBIAN_RSYSLOG, "installed_packages": []}, False),  # removed; old files left
        (
            {**DEBIAN_RSYSLOG, "installed_packages": ["syslog-ng"], "active_services": ["syslog-ng.service"]},
            True,
        ),
        ({k: v for k, v in DEBIAN_RSYSLOG.items() if k != "active_services"}, True),  # packages' word
        ({k: v for k, v in AL2023.items() if k != "installed_packages"}, True),  # undescribed: files decide
        (AL2023, False),
    ],
)
def test_syslog_daemon_detection(host: dict, writes: bool) -> None:
    assert cl.syslog_writes(host) is writes


def test_journald_only_host_gets_auth_and_syslog_entries_and_audit_file() -> None:
    frag = cl.cwagent_linux_fragment([], options(), {**AL2023, "present_paths": ["/var/log/audit/audit.log"]})
    got = journal(frag)
    assert set(got) == {"system/auth", "system/syslog"}
    assert got["system/auth"] == {
        "log_group_name": "/gdpr/prod/system/auth",
        "log_stream_name": "{instance_id}",
        "log_group_class": "STANDARD",
        "priority": "debug",
        "matches": [{"SYSLOG_FACILITY": "4"}, {"SYSLOG_FACILITY": "10"}],
    }
    assert got["system/syslog"]["priority"] == "info"
    assert files(frag) == {"/var/log/audit/audit.log"}


def test_the_syslog_filter_drops_exactly_the_auth_entries_as_the_agent_sees_them() -> None:
    """The agent matches filters against the entry's fields as compact JSON with sorted keys."""
    frag = cl.cwagent_linux_fragment([], options(), AL2023)
    (rule,) = journal(frag)["system/syslog"]["filters"]
    assert rule["type"] == "exclude"
    pattern = re.compile(rule["expression"])

    def body(**fields: str) -> str:
        return json.dumps({"MESSAGE": "x", "PRIORITY": "5", **fields}, sort_keys=True, separators=(",", ":"))

    assert pattern.search(body(SYSLOG_FACILITY="4"))
    assert pattern.search(body(SYSLOG_FACILITY="10"))
    for other in ("0", "1", "3", "40", "100", "14"):
        assert not pattern.search(body(SYSLOG_FACILITY=other)), other
    assert not pattern.search(body(_TRANSPORT="kernel"))


@pytest.mark.parametrize("mode", ["auto", "always", "never"])
def test_an_event_is_collected_once_whatever_the_mode(mode: str) -> None:
    for host in (AL2023, DEBIAN_RSYSLOG):
        frag = cl.cwagent_linux_fragment([], options(journald=mode), host)
        sources = [
            e["log_group_name"]
            for e in frag["logs"]["logs_collected"].get("journald", {}).get("collect_list", [])
        ]
        sources += [
            e["log_group_name"]
            for e in frag["logs"]["logs_collected"].get("files", {}).get("collect_list", [])
        ]
        assert len(sources) == len(set(sources)), (mode, host["os_family"], sources)


def test_modes() -> None:
    assert set(journal(cl.cwagent_linux_fragment([], options(journald="always"), DEBIAN_RSYSLOG))) == {
        "system/auth",
        "system/syslog",
    }
    assert files(cl.cwagent_linux_fragment([], options(journald="always"), DEBIAN_RSYSLOG)) == set()
    assert journal(cl.cwagent_linux_fragment([], options(journald="never"), AL2023)) == {}
    assert journal(cl.cwagent_linux_fragment([], options(), DEBIAN_RSYSLOG)) == {}
    only_auth = cl.cwagent_linux_fragment([], options(system_logs=["auth"]), AL2023)
    assert set(journal(only_auth)) == {"system/auth"}
    with pytest.raises(AnsibleFilterError, match="cloudwatch_agent_linux_journald"):
        cl.cwagent_linux_fragment([], options(journald="sometimes"), AL2023)


def test_priority_is_the_users_and_checked() -> None:
    frag = cl.cwagent_linux_fragment([], options(journald_priority="warning"), AL2023)
    assert journal(frag)["system/syslog"]["priority"] == "warning"
    with pytest.raises(AnsibleFilterError, match="cloudwatch_agent_linux_journald_priority"):
        cl.cwagent_linux_fragment([], options(journald_priority="loud"), AL2023)


def test_plan_without_a_host_names_the_same_groups() -> None:
    planned = {g["name"] for g in cl.cwagent_linux_log_groups([], options())}
    on_host = {
        g["name"] for g in cwagent.log_groups_from_fragment(cl.cwagent_linux_fragment([], options(), AL2023))
    }
    assert on_host <= planned


@pytest.mark.parametrize(
    ("version", "parsed", "supports"),
    [
        ("1.300070.0", (1, 300070, 0), True),
        ("1.300070.0b1234", (1, 300070, 0), True),
        ("1.300099.0", (1, 300099, 0), True),
        ("1.300069.9b99-1", (1, 300069, 9), False),
        ("1.300049.1b929-1", (1, 300049, 1), False),
        ("1.247352.0b251908", (1, 247352, 0), False),
        ("2.0.0", (2, 0, 0), True),
        ("", None, None),
        ("unknown", None, None),
        (None, None, None),
    ],
)
def test_version(version: object, parsed: tuple | None, supports: bool | None) -> None:
    assert cwagent.version_tuple(version) == parsed
    assert cwagent.supports_journald(version) is supports


def test_old_agent_fails_naming_host_version_and_variables() -> None:
    old = {**AL2023, "version": "1.300049.1b929"}
    with pytest.raises(AnsibleFilterError) as err:
        cl.cwagent_linux_fragment([], options(), old)
    variables = ("package_state", "upgrade_for_journald", "journald: never")
    for needle in (
        "web-1",
        "1.300049.1b929",
        "1.300070.0",
        *(f"cloudwatch_agent_linux_{v}" for v in variables),
    ):
        assert needle in str(err.value)
    # an old agent is fine where nothing is read from the journal, and an unknown version is checked later
    assert cl.cwagent_linux_fragment([], options(), {**DEBIAN_RSYSLOG, "version": "1.300049.1b929"})
    assert cl.cwagent_linux_journald_problem({**AL2023, "version": ""}, options()) == ""


@pytest.mark.parametrize(
    ("version", "package_state", "allowed", "upgrade"),
    [
        ("1.300049.1", "present", False, False),
        ("1.300049.1", "latest", False, True),
        ("1.300049.1", "present", True, True),
        ("1.300070.0", "latest", True, False),  # new enough: nothing to do for the journal
        ("", "present", True, False),  # not installed: the install decides
    ],
)
def test_upgrade_decision(version: str, package_state: str, allowed: bool, upgrade: bool) -> None:
    host = {**AL2023, "version": version}
    opts = options(package_state=package_state, upgrade_for_journald=allowed)
    assert cl.cwagent_linux_journald_upgrade(host, opts) is upgrade
    assert cl.cwagent_linux_journald_upgrade({**DEBIAN_RSYSLOG, "version": version}, opts) is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"priority": "loud"}, "priority"),
        ({"matches": [{"syslog_facility": "4"}]}, "matches"),
        ({"matches": [{"SYSLOG_FACILITY": 4}]}, "matches"),
        ({"matches": [{}]}, "matches"),
        ({"file_path": "/var/log/x"}, "keys the agent does not accept"),
        ({"log_group_class": "COLD"}, "log_group_class"),
    ],
)
def test_journald_entry_schema(kwargs: dict, message: str) -> None:
    with pytest.raises(cwagent.ConventionError, match=message):
        cwagent.journald_entry("/gdpr/prod/system/auth", 365, **kwargs)


def test_journald_entry_never_carries_retention_and_is_planned() -> None:
    entry = cwagent.journald_entry("/g/auth", 731, priority="7", units=["sshd.service"])
    assert entry == {"log_group_name": "/g/auth", "log_stream_name": "{instance_id}", "priority": "7",
                     "units": ["sshd.service"]}  # fmt: skip
    assert cwagent.log_groups_from_entries([entry]) == [
        {"name": "/g/auth", "retention_in_days": 731, "log_group_class": "STANDARD"}
    ]
    frag = cwagent.fragment(journald=[entry])
    assert frag["logs"]["logs_collected"] == {"journald": {"collect_list": [dict(entry)]}}
    assert cwagent.log_groups_from_fragment(frag) == [{"name": "/g/auth", "log_group_class": "STANDARD"}]
    with pytest.raises(cwagent.ConventionError, match="retention_in_days"):
        cwagent.fragment(journald=[{**entry, "retention_in_days": 731}])


def test_an_old_agent_the_role_may_upgrade_renders_the_fragment_for_after_the_upgrade() -> None:
    old = {**AL2023, "version": "1.300049.1b929"}
    for allowed in (options(package_state="latest"), options(upgrade_for_journald=True)):
        assert set(journal(cl.cwagent_linux_fragment([], allowed, old))) == {"system/auth", "system/syslog"}
        assert cl.cwagent_linux_journald_problem(old, allowed) == ""
        # ... and the agent installed after the upgrade is asked about as it is
        assert "1.300049.1b929" in cl.cwagent_linux_journald_problem(old, allowed, False)
