"""Unit tests of the Windows fragment filter: IIS inheritance, expansion, formats, validation."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter import cwagent_windows as cw
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

ENV = {"SystemDrive": "C:"}
DEFAULT_DIR = r"%SystemDrive%\inetpub\logs\LogFiles"


def site(site_id: str, name: str, protocols: list[str] | None = None, **log_file: str) -> dict:
    return {"id": site_id, "name": name, "protocols": protocols or ["http"], "log_file": log_file}


def discovery(*sites: dict, defaults: dict | None = None, environment: dict | None = None, **extra) -> dict:
    return {
        "iis_installed": True,
        "site_defaults": defaults
        if defaults is not None
        else {"directory": r"%SystemDrive%\inetpub\logs\LogFiles"},
        "central_log": extra.pop("central_log", {}),
        "sites": list(sites),
        "environment": ENV if environment is None else environment,
        **extra,
    }


def paths(sources: list[dict]) -> list[str]:
    return [s["file_path"] for s in sources]


def test_default_site_uses_site_defaults_directory():
    sources = cw.iis_log_sources(discovery(site("1", "Default Web Site")))
    assert sources == [
        {
            "site": "Default Web Site",
            "stream_suffix": "W3SVC1",
            "file_path": r"C:\inetpub\logs\LogFiles\W3SVC1\*.log",
            "log_format": "W3C",
        }
    ]


def test_iis_schema_default_applies_when_config_omits_directory():
    sources = cw.iis_log_sources(discovery(site("2", "b"), defaults={}, environment={"systemdrive": "D:"}))
    assert paths(sources) == [r"D:\inetpub\logs\LogFiles\W3SVC2\*.log"]


def test_site_directory_overrides_defaults_and_env_vars_expand_case_insensitively():
    sources = cw.iis_log_sources(
        discovery(
            site("3", "shop", directory=r"%LOGROOT%\iis\\"),
            site("1", "Default Web Site"),
            environment={"SystemDrive": "C:", "LogRoot": r"E:\Logs"},
        )
    )
    # sorted by site id, trailing separators dropped
    assert paths(sources) == [r"C:\inetpub\logs\LogFiles\W3SVC1\*.log", r"E:\Logs\iis\W3SVC3\*.log"]


def test_unknown_environment_variable_names_site_and_variable():
    with pytest.raises(cwagent.ConventionError, match=r"IIS site 'shop'.*%NOPE%"):
        cw.iis_log_sources(discovery(site("3", "shop", directory=r"%NOPE%\logs")))


@pytest.mark.parametrize(
    ("log_file", "protocols"),
    [
        ({"enabled": "false"}, ["http"]),
        ({"logFormat": "Custom"}, ["http"]),
        ({"logTargetW3C": "ETW"}, ["http"]),
        ({}, ["ftp"]),
    ],
    ids=["logging-off", "custom-module", "etw-only", "ftp-only"],
)
def test_sites_without_text_logs_are_skipped(log_file, protocols):
    assert cw.iis_log_sources(discovery(site("4", "x", protocols, **log_file))) == []


def test_defaults_can_switch_logging_off_and_a_site_back_on():
    sources = cw.iis_log_sources(
        discovery(site("1", "a"), site("2", "b", enabled="true"), defaults={"enabled": "false"})
    )
    assert [s["stream_suffix"] for s in sources] == ["W3SVC2"]


def test_file_and_etw_target_still_writes_files_and_ncsa_is_collected_without_timestamp():
    frag = cw.windows_fragment(
        discovery(site("1", "a", logTargetW3C="File,ETW"), site("2", "b", logFormat="NCSA")), {}
    )
    entries = frag["logs"]["logs_collected"]["files"]["collect_list"]
    assert entries[0]["timestamp_format"] == "%Y-%m-%d %H:%M:%S"
    assert entries[0]["timezone"] == "UTC"
    assert "timestamp_format" not in entries[1]
    assert "timezone" not in entries[1]


def test_central_w3c_logging_is_one_source_and_central_binary_none():
    central = {"mode": "CentralW3C", "directory": r"%SystemDrive%\central"}
    sources = cw.iis_log_sources(discovery(site("1", "a"), central_log=central))
    assert paths(sources) == [r"C:\central\W3SVC\*.log"]
    assert cw.iis_log_sources(discovery(site("1", "a"), central_log={"mode": "CentralBinary"})) == []


def test_non_numeric_site_id_is_rejected():
    with pytest.raises(cwagent.ConventionError, match="not a number"):
        cw.iis_log_sources(discovery(site("x1", "a")))


ABSENT_ON_D = {"iis_installed": False, "sites": [], "environment": {"SystemDrive": "D:"}}
UNREADABLE = {"iis_installed": True, "config_error": r"\\files\iis\applicationHost.config: access denied",
              "sites": [], "environment": {"SystemDrive": "E:"}}  # fmt: skip


@pytest.mark.parametrize(
    ("absent", "path"),
    [
        # plan (no host): the path is not written anywhere, the variable stays
        (None, r"%SystemDrive%\inetpub\logs\LogFiles\W3SVC*\*.log"),
        ({}, r"%SystemDrive%\inetpub\logs\LogFiles\W3SVC*\*.log"),
        # a host: its own system drive, not C: (issue 17 item 7)
        (ABSENT_ON_D, r"D:\inetpub\logs\LogFiles\W3SVC*\*.log"),
        # IIS there but its configuration unreadable: the fallback, as the README promises (item 10)
        (UNREADABLE, r"E:\inetpub\logs\LogFiles\W3SVC*\*.log"),
    ],
    ids=["none", "empty", "absent_on_d", "unreadable_config"],
)
def test_iis_absent_uses_fallback_glob_on_the_hosts_system_drive(absent, path):
    files = cw.windows_fragment(absent, {"log_group_prefix": "/p"})["logs"]["logs_collected"]["files"]
    assert files["collect_list"] == [
        {
            "file_path": path,
            "log_group_name": "/p/iis/access",
            "log_stream_name": "{instance_id}",
            "timestamp_format": "%Y-%m-%d %H:%M:%S",
            "timezone": "UTC",
            "log_group_class": "STANDARD",
            "filters": [{"type": "exclude", "expression": "^#"}],
            # every site's files, not only the newest file of all (the agent's glob rule)
            "publish_multi_logs": True,
        }
    ]


def test_iis_installed_without_loggable_sites_collects_no_iis_file():
    frag = cw.windows_fragment(discovery(site("1", "a", enabled="false")), {})
    assert "files" not in frag["logs"]["logs_collected"]


def test_stream_per_site_can_be_switched_off():
    both = discovery(site("1", "a"), site("2", "b"))
    per_site = cw.windows_fragment(both, {})["logs"]["logs_collected"]["files"]["collect_list"]
    shared = cw.windows_fragment(both, {"iis_stream_per_site": False})["logs"]["logs_collected"]["files"]
    assert [e["log_stream_name"] for e in per_site] == ["{instance_id}/W3SVC1", "{instance_id}/W3SVC2"]
    assert {e["log_stream_name"] for e in shared["collect_list"]} == {"{instance_id}"}


def test_event_logs_levels_and_switching_one_off():
    frag = cw.windows_fragment(None, {"iis_logs": False, "application_event_levels": []})
    events = frag["logs"]["logs_collected"]["windows_events"]["collect_list"]
    assert "files" not in frag["logs"]["logs_collected"]
    assert [(e["event_name"], e["log_group_name"]) for e in events] == [
        ("Security", "/gdpr/prod/windows/security"),
        ("System", "/gdpr/prod/windows/system"),
    ]
    assert "INFORMATION" in events[0]["event_levels"]
    assert "INFORMATION" not in events[1]["event_levels"]


def test_extra_event_log_and_file_get_their_own_groups_and_retention():
    settings = (
        {
            "log_group_prefix": "/acme/stage",
            "retention_days": 90,
            "extra_event_logs": [
                {"name": "Microsoft-Windows-PowerShell/Operational", "source": "windows/powershell",
                 "event_ids": [4104, "4103", 4104], "retention_days": 400},
            ],
            "extra_files": [
                {"path": r"D:\app\audit*.log", "source": "app/audit", "timezone": "Local",
                 "timestamp_format": "%d.%m.%Y %H:%M:%S"},
            ],
        }
    )  # fmt: skip
    frag = cw.windows_fragment(None, settings)
    planned = cw.windows_log_groups(None, settings)
    groups = {g["name"]: g["retention_in_days"] for g in planned}
    assert groups == {
        "/acme/stage/iis/access": 90,
        "/acme/stage/windows/security": 90,
        "/acme/stage/windows/system": 90,
        "/acme/stage/windows/application": 90,
        "/acme/stage/windows/powershell": 400,
        "/acme/stage/app/audit": 90,
    }
    ps = frag["logs"]["logs_collected"]["windows_events"]["collect_list"][-1]
    assert ps["event_ids"] == [4104, 4103]
    assert "event_levels" not in ps


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"retention_days": 42}, "cloudwatch_agent_windows_retention_days"),
        ({"log_group_class": "COLD"}, "cloudwatch_agent_windows_log_group_class"),
        ({"event_format": "json"}, "cloudwatch_agent_windows_event_format"),
        ({"security_event_levels": ["LOUD"]}, "cloudwatch_agent_windows_security_event_levels"),
        ({"log_group_prefix": "/bad prefix"}, "cloudwatch_agent_windows_log_group_prefix"),
        ({"extra_files": [{"path": "C:\\x.log", "source": "Bad Source"}]}, r"extra_files\[0\]\.source"),
        ({"extra_files": [{"file_path": "C:\\x.log", "source": "a"}]}, r"\[0\]: unknown keys file_path"),
        ({"extra_files": [{"path": "C:\\x.log", "source": "a", "retention_days": 2}]}, r"extra_files\[0\]"),
        ({"extra_event_logs": [{"name": "X", "source": "x"}]}, r"event_logs\[0\].*event_levels, event_ids"),
        ({"extra_event_logs": [{"name": "X", "source": "x", "event_ids": [70000]}]}, "outside 0-65535"),
        ({"retention_days": 30, "extra_files": [{"path": "C:\\a", "source": "iis/access"}]}, None),
        ({"extra_files": [{"path": "C:\\a", "source": "iis/access", "retention_days": 7}]}, "different"),
        ({"typo_setting": 1}, "unknown settings: typo_setting"),
    ],
)  # fmt: skip
def test_bad_settings_fail_naming_the_variable(settings, message):
    if message is None:  # same group, same retention: allowed
        cw.windows_fragment(None, settings)
        return
    with pytest.raises(cwagent.ConventionError, match=message):
        cw.windows_fragment(None, settings)


def test_duplicate_entries_are_refused_before_the_agent_sees_them():
    extra = {"path": r"C:\inetpub\logs\LogFiles\W3SVC*\*.log", "source": "iis/access"}
    settings = {"iis_skip_comment_lines": False, "extra_files": [extra]}
    # differs from the IIS entry (no timestamp) so it is allowed ...
    cw.windows_fragment(None, settings)
    # ... but the same file twice is not
    with pytest.raises(cwagent.ConventionError, match="configured twice"):
        cw.windows_fragment(None, {"extra_files": [extra, extra]})


def test_filter_plugin_wraps_convention_errors():
    filters = cw.FilterModule().filters()
    assert set(filters) == {
        "cwagent_windows_fragment",
        "cwagent_windows_iis_sources",
        "cwagent_windows_log_groups",
    }
    with pytest.raises(AnsibleFilterError, match="retention"):
        filters["cwagent_windows_fragment"]({}, {"retention_days": 2})


def _keys(value: object) -> set[str]:
    """Every key at any depth of a rendered fragment."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


EVERY_SOURCE = {
    "retention_days": 3653,
    "extra_event_logs": [{"name": "Microsoft-Windows-PowerShell/Operational", "source": "windows/powershell",
                          "event_ids": [4104], "retention_days": 400}],
    "extra_files": [{"path": r"D:\app\audit*.log", "source": "app/audit", "retention_days": 731}],
}  # fmt: skip


@pytest.mark.parametrize("found", [None, discovery(site("1", "a"), site("2", "b"))], ids=["no_iis", "iis"])
def test_no_fragment_carries_retention_the_agent_would_force_on_its_groups(found):
    """The agent calls PutRetentionPolicy whenever a group's retention differs from an entry's
    retention_in_days, at every start: a 3653-day group would be cut to the entry's value."""
    frag = cw.windows_fragment(found, EVERY_SOURCE)
    collected = frag["logs"]["logs_collected"]
    assert len(collected["files"]["collect_list"]) >= 2
    assert len(collected["windows_events"]["collect_list"]) == 4
    assert "retention_in_days" not in _keys(frag)
    # the retention lives in the plan only, per group
    planned = {g["name"]: g["retention_in_days"] for g in cw.windows_log_groups(found, EVERY_SOURCE)}
    assert planned["/gdpr/prod/windows/powershell"] == 400
    assert planned["/gdpr/prod/app/audit"] == 731
    assert planned["/gdpr/prod/iis/access"] == 3653
    assert {g["name"] for g in cwagent.log_groups_from_fragment(frag)} == set(planned)


# --- Issue 17 item 6: the encoding IIS really writes --------------------------------------------
def _iis_files(found: dict, **settings) -> list[dict]:
    frag = cw.windows_fragment(found, {"log_group_prefix": "/p", **settings})
    return frag["logs"]["logs_collected"]["files"]["collect_list"]


@pytest.mark.parametrize(
    ("code_page", "encoding"), [("1252", "windows-1252"), ("932", "shift_jis"), ("1251", "windows-1251")]
)
def test_ansi_iis_logs_get_the_hosts_code_page_as_encoding(code_page, encoding):
    found = discovery(site("1", "a"), site("2", "b"), log_in_utf8="false", ansi_code_page=code_page)
    assert [e.get("encoding") for e in _iis_files(found)] == [encoding, encoding]


@pytest.mark.parametrize("utf8", ["true", "", None])
def test_utf8_iis_logs_keep_the_agents_default_encoding(utf8):
    found = discovery(site("1", "a"), log_in_utf8=utf8, ansi_code_page="1252")
    assert "encoding" not in _iis_files(found)[0]


def test_unknown_ansi_code_page_is_refused_naming_the_variable_and_the_setting_overrides():
    found = discovery(site("1", "a"), log_in_utf8="false", ansi_code_page="20127")
    with pytest.raises(cwagent.ConventionError, match="cloudwatch_agent_windows_iis_encoding"):
        _iis_files(found)
    assert _iis_files(found, iis_encoding="us-ascii")[0]["encoding"] == "us-ascii"


# --- Issue 10 item 5: booleans given as -e x=false arrive as strings -----------------------------
@pytest.mark.parametrize("value", ["false", "False", "no", "0", False])
def test_false_strings_switch_iis_collection_off(value):
    frag = cw.windows_fragment(discovery(site("1", "a")), {"iis_logs": value})
    assert "files" not in frag["logs"]["logs_collected"]


@pytest.mark.parametrize("value", ["false", False])
def test_false_strings_give_one_stream_and_keep_header_lines(value):
    entry = _iis_files(discovery(site("1", "a")), iis_stream_per_site=value, iis_skip_comment_lines=value)[0]
    assert entry["log_stream_name"] == "{instance_id}"
    assert "filters" not in entry


def test_a_non_boolean_is_refused_naming_the_variable():
    with pytest.raises(cwagent.ConventionError, match="cloudwatch_agent_windows_iis_stream_per_site"):
        cw.windows_fragment(None, {"iis_stream_per_site": "maybe"})
