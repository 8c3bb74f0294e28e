"""Unit tests of the Linux fragment filter: distribution paths, detection, formats, validation."""

from __future__ import annotations

import re

import pytest
import tomllib
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter import cwagent_linux as cl
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

DEBIAN12 = {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12"}
UBUNTU = {"os_family": "Debian", "distribution": "Ubuntu", "distribution_major_version": "22"}
ROCKY = {"os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": "9"}


def options(**overrides: object) -> dict:
    base = {
        "system_logs": ["auth", "syslog", "audit"],
        "extra_files": [],
        "log_formats": {},
        "prefix": "/gdpr/prod",
        "retention_days": "365",
        "log_group_class": "STANDARD",
        "stream": "{instance_id}",
        "endpoint_override": "",
        "region": "",
        "run_as_user": "",
    }
    base.update(overrides)
    return base


def entries(frag: dict) -> dict[str, dict]:
    return {e["file_path"]: e for e in frag["logs"]["logs_collected"]["files"]["collect_list"]}


def host(base: dict, *present: str) -> dict:
    return {**base, "present_paths": list(present)}


def test_debian_apache_and_present_system_logs_only() -> None:
    frag = cl.cwagent_linux_fragment(["apache"], options(), host(DEBIAN12, "/var/log/auth.log"))
    got = {path: e["log_group_name"] for path, e in entries(frag).items()}
    assert got == {
        "/var/log/apache2/access.log": "/gdpr/prod/apache/access",
        "/var/log/apache2/other_vhosts_access.log": "/gdpr/prod/apache/access",
        "/var/log/apache2/error.log": "/gdpr/prod/apache/error",
        "/var/log/auth.log": "/gdpr/prod/system/auth",
    }
    assert {e["log_stream_name"] for e in entries(frag).values()} == {"{instance_id}"}
    # run_as_user left empty: the family's default user (cwagent on Debian), from the OS data
    assert frag["agent"] == {"run_as_user": "cwagent"} and "endpoint_override" not in frag["logs"]


def test_redhat_paths_for_httpd_nginx_secure_messages_audit() -> None:
    present = ("/var/log/secure", "/var/log/messages", "/var/log/audit/audit.log")
    frag = cl.cwagent_linux_fragment(["apache", "nginx"], options(), host(ROCKY, *present))
    got = {path: e["log_group_name"].removeprefix("/gdpr/prod/") for path, e in entries(frag).items()}
    assert got == {
        "/var/log/httpd/access_log": "apache/access",
        "/var/log/httpd/ssl_access_log": "apache/access",
        "/var/log/httpd/error_log": "apache/error",
        "/var/log/httpd/ssl_error_log": "apache/error",
        "/var/log/nginx/access.log": "nginx/access",
        "/var/log/nginx/error.log": "nginx/error",
        "/var/log/secure": "system/auth",
        "/var/log/messages": "system/syslog",
        "/var/log/audit/audit.log": "system/audit",
    }


def test_formats_per_log_type_and_distribution() -> None:
    deb = entries(
        cl.cwagent_linux_fragment(["apache", "nginx"], options(), host(DEBIAN12, "/var/log/syslog"))
    )
    assert deb["/var/log/apache2/access.log"]["timestamp_format"] == "%d/%b/%Y:%H:%M:%S %z"
    assert "multi_line_start_pattern" not in deb["/var/log/nginx/access.log"]
    assert deb["/var/log/nginx/error.log"]["timestamp_format"] == "%Y/%m/%d %H:%M:%S"
    apache_error = deb["/var/log/apache2/error.log"]["multi_line_start_pattern"]
    assert re.match(apache_error, "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1] x")
    assert not re.match(apache_error, "  continuation of a stack trace")
    assert deb["/var/log/syslog"]["timestamp_format"] == "%Y-%m-%dT%H:%M:%S.%f"  # Debian 12 rsyslog
    ubuntu = entries(cl.cwagent_linux_fragment([], options(), host(UBUNTU, "/var/log/syslog")))
    assert ubuntu["/var/log/syslog"]["timestamp_format"] == "%b %d %H:%M:%S"
    rocky = entries(cl.cwagent_linux_fragment([], options(), host(ROCKY, "/var/log/audit/audit.log")))
    assert "timestamp_format" not in rocky["/var/log/audit/audit.log"]  # epoch stamps


def test_format_override_and_bad_override() -> None:
    opts = options(log_formats={"system/syslog": {"timestamp_format": "%b %d %H:%M:%S"}})
    frag = cl.cwagent_linux_fragment([], opts, host(DEBIAN12, "/var/log/syslog"))
    assert entries(frag)["/var/log/syslog"]["timestamp_format"] == "%b %d %H:%M:%S"
    with pytest.raises(AnsibleFilterError, match=r"cloudwatch_agent_linux_log_formats\['system/syslog'\]"):
        cl.cwagent_linux_fragment([], options(log_formats={"system/syslog": {"colour": "red"}}), DEBIAN12)


def test_extra_vhost_file_joins_apache_access_with_its_format() -> None:
    extra = [{"file_path": "/var/log/apache2/shop_access.log", "source": "apache/access"}]
    frag = cl.cwagent_linux_fragment(["apache"], options(extra_files=extra), host(DEBIAN12))
    entry = entries(frag)["/var/log/apache2/shop_access.log"]
    assert entry["log_group_name"] == "/gdpr/prod/apache/access"
    assert entry["timestamp_format"] == "%d/%b/%Y:%H:%M:%S %z"


def test_extra_file_own_source_and_format() -> None:
    extra = [
        {"file_path": "/srv/shop/app.log", "source": "shop/app", "timestamp_format": "%Y-%m-%d %H:%M:%S"}
    ]
    frag = cl.cwagent_linux_fragment([], options(extra_files=extra), host(DEBIAN12))
    assert entries(frag)["/srv/shop/app.log"] == {
        "file_path": "/srv/shop/app.log",
        "log_group_name": "/gdpr/prod/shop/app",
        "log_stream_name": "{instance_id}",
        "log_group_class": "STANDARD",
        "timestamp_format": "%Y-%m-%d %H:%M:%S",
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"file_path": "var/log/x.log", "source": "x/y"},
            r"extra_files\[0\]\.file_path: 'var/log/x.log' is not an absolute",
        ),
        ({"file_path": "/var/log/x.log"}, r"extra_files\[0\]\.source"),
        ({"file_path": "/var/log/x.log", "source": "Bad Source"}, r"^\w+_extra_files\[0\]\.source"),
        (
            {"file_path": "/var/log/x.log", "source": "x/y", "group": "z"},
            r"extra_files\[0\]: unknown keys group",
        ),
    ],
)
def test_bad_extra_files_name_the_variable(extra: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        cl.cwagent_linux_fragment([], options(extra_files=[extra]), None)


def test_bad_names_and_retention_name_the_variable() -> None:
    with pytest.raises(AnsibleFilterError, match="cloudwatch_agent_linux_web_servers: unknown iis"):
        cl.cwagent_linux_fragment(["iis"], options(), None)
    with pytest.raises(AnsibleFilterError, match="cloudwatch_agent_linux_system_logs: unknown kern"):
        cl.cwagent_linux_fragment([], options(system_logs=["kern"]), None)
    with pytest.raises(AnsibleFilterError, match="cloudwatch_agent_linux_retention_days: 42"):
        cl.cwagent_linux_fragment([], options(retention_days=42), None)
    with pytest.raises(AnsibleFilterError, match="not supported"):
        cl.cwagent_linux_fragment([], options(), {"os_family": "Suse"})


def test_plan_without_host_names_every_configured_group() -> None:
    extra = [{"file_path": "/srv/shop/app.log", "source": "shop/app"}]
    groups = cl.cwagent_linux_log_groups(["apache", "nginx"], options(extra_files=extra, retention_days=731))
    assert [g["name"] for g in groups] == [
        "/gdpr/prod/apache/access",
        "/gdpr/prod/apache/error",
        "/gdpr/prod/nginx/access",
        "/gdpr/prod/nginx/error",
        "/gdpr/prod/shop/app",
        "/gdpr/prod/system/audit",
        "/gdpr/prod/system/auth",
        "/gdpr/prod/system/syslog",
    ]
    assert {g["retention_in_days"] for g in groups} == {731}


def test_plan_groups_equal_host_groups_when_everything_is_present() -> None:
    """Single source of truth: on a host with every file, the fragment's groups are the plan's."""
    every = [p for paths in cl.PATHS["RedHat"].values() for p in paths]
    on_host = cl.cwagent_linux_fragment(["apache", "nginx"], options(), host(ROCKY, *every))
    planned = cl.cwagent_linux_fragment(["apache", "nginx"], options())
    assert cwagent.log_groups_from_fragment(on_host) == cwagent.log_groups_from_fragment(planned)


def test_agent_and_endpoint_settings() -> None:
    opts = options(region="eu-west-1", run_as_user="cwagent", endpoint_override="https://vpce.example")
    frag = cl.cwagent_linux_fragment([], opts, host(DEBIAN12))
    assert frag["agent"] == {"region": "eu-west-1", "run_as_user": "cwagent"}
    assert frag["logs"]["endpoint_override"] == "https://vpce.example"


def test_same_file_twice_is_collected_once() -> None:
    extra = [{"file_path": "/var/log/nginx/access.log", "source": "nginx/access"}]
    frag = cl.cwagent_linux_fragment(["nginx"], options(extra_files=extra), host(DEBIAN12))
    paths = [e["file_path"] for e in frag["logs"]["logs_collected"]["files"]["collect_list"]]
    assert paths.count("/var/log/nginx/access.log") == 1


def test_detect_web_servers_from_packages() -> None:
    assert cl.cwagent_linux_detect(["apache", "nginx"], {"apache2": "2.4", "nginx-core": "1.22"}) == [
        "apache",
        "nginx",
    ]
    assert cl.cwagent_linux_detect(["apache", "nginx"], {"httpd": "2.4"}) == ["apache"]
    assert cl.cwagent_linux_detect(["apache", "nginx"], {"apache2-bin": "2.4"}) == []


def test_system_log_candidates() -> None:
    assert cl.cwagent_linux_system_log_paths(["auth", "audit"], "Debian") == [
        "/var/log/auth.log",
        "/var/log/audit/audit.log",
    ]
    assert cl.cwagent_linux_system_log_paths(["syslog"], "RedHat") == ["/var/log/messages"]


@pytest.mark.parametrize(
    ("path", "stored"),
    [
        (
            "/opt/aws/amazon-cloudwatch-agent/etc/gdpr_aws_monitoring_linux.json",
            "file_gdpr_aws_monitoring_linux.json",
        ),
        ("/etc/my config:v2.json", "file_my_config_v2.json"),
    ],
)
def test_stored_name_like_the_agent(path: str, stored: str) -> None:
    assert cl.cwagent_linux_stored_name(path) == stored


def test_system_log_counts_when_its_daemon_is_installed() -> None:
    """A fresh Debian host has no auth.log until the first auth event; rsyslog will write it."""
    fresh = {**DEBIAN12, "present_paths": ["/var/log/syslog"], "installed_packages": ["rsyslog"]}
    got = set(entries(cl.cwagent_linux_fragment([], options(), fresh)))
    assert got == {"/var/log/auth.log", "/var/log/syslog"}
    with_auditd = {**fresh, "installed_packages": ["rsyslog", "auditd"]}
    assert "/var/log/audit/audit.log" in entries(cl.cwagent_linux_fragment([], options(), with_auditd))
    # Without a syslog daemon the auth and system messages come from the journal (issue 15; this
    # fragment had no auth source at all before), audit.log from its file.
    journald_only = {**ROCKY, "present_paths": [], "installed_packages": []}
    collected = cl.cwagent_linux_fragment([], options(), journald_only)["logs"]["logs_collected"]
    assert set(collected) == {"journald"}
    assert [e["log_group_name"] for e in collected["journald"]["collect_list"]] == [
        "/gdpr/prod/system/auth",
        "/gdpr/prod/system/syslog",
    ]


# --- Checks up front (issue 18): each names the variable before any change ----------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"file_path": "/var/log/shop.log", "source": "Shop App"},
            r"cloudwatch_agent_linux_extra_files\[0\]\.source",
        ),
        (
            {"file_path": "/var/log/shop.log", "source": "shop/app", "timezone": "Europe/Paris"},
            r"cloudwatch_agent_linux_extra_files\[0\]\.timezone: 'Europe/Paris'",
        ),
        (
            {"file_path": "/var/log/shop.log", "source": "shop/app", "multi_line_start_pattern": "^(["},
            r"extra_files\[0\]\.multi_line_start_pattern: .* not a valid regular expression",
        ),
        (
            {"file_path": "/var/log/shop.log", "source": "shop/app", "multi_line_start_pattern": r"^(?=\d)"},
            r"extra_files\[0\]\.multi_line_start_pattern: .*Go RE2",
        ),
        (
            {
                "file_path": "/l.log",
                "source": "a/b",
                "filters": [{"type": "exclude", "expression": r"(a)\1"}],
            },
            r"extra_files\[0\]\.filters\[0\]\.expression: .*Go RE2",
        ),
        (
            {"file_path": "/l.log", "source": "a/b", "filters": [{"type": "drop", "expression": "x"}]},
            r"extra_files\[0\]\.filters\[0\]\.type",
        ),
        (
            {"file_path": "/l.log", "source": "a/b", "filters": [{"type": "include", "expression": "[x"}]},
            r"extra_files\[0\]\.filters\[0\]\.expression: .* not a valid regular expression",
        ),
    ],
)
def test_extra_file_checks_name_the_item(extra: dict, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match=message):
        cl.cwagent_linux_fragment([], options(extra_files=[extra]))


def test_bad_prefix_still_names_the_prefix() -> None:
    extra = {"file_path": "/var/log/shop.log", "source": "shop/app"}
    with pytest.raises(AnsibleFilterError, match="cloudwatch_agent_linux_log_group_prefix"):
        cl.cwagent_linux_fragment([], options(prefix="/gdpr/pr od", system_logs=[], extra_files=[extra]))


def test_good_extra_file_checks_pass() -> None:
    extra = {
        "file_path": "/var/log/shop.log",
        "source": "shop/app",
        "timezone": "UTC",
        "multi_line_start_pattern": r"^\d{4}-\d{2}-\d{2}",
        "filters": [{"type": "exclude", "expression": "healthcheck"}],
    }
    entry = entries(cl.cwagent_linux_fragment([], options(system_logs=[], extra_files=[extra])))[
        "/var/log/shop.log"
    ]
    assert entry["timezone"] == "UTC"
    assert entry["filters"] == [{"type": "exclude", "expression": "healthcheck"}]


def test_log_formats_for_unknown_sources_fail() -> None:
    with pytest.raises(
        AnsibleFilterError, match="cloudwatch_agent_linux_log_formats: no log source named nginx/acces"
    ):
        cl.cwagent_linux_fragment(["nginx"], options(log_formats={"nginx/acces": {"timezone": "UTC"}}))
    with pytest.raises(AnsibleFilterError, match=r"log_formats\['nginx/access'\]\.timezone"):
        cl.cwagent_linux_fragment(["nginx"], options(log_formats={"nginx/access": {"timezone": "CET"}}))
    with pytest.raises(AnsibleFilterError, match=r"log_formats\['system/auth'\]\.multi_line_start_pattern"):
        cl.cwagent_linux_fragment([], options(log_formats={"system/auth": {"multi_line_start_pattern": "("}}))


def test_log_formats_for_builtin_sources_not_collected_and_extra_sources_pass() -> None:
    extra = {"file_path": "/var/log/shop.log", "source": "shop/app"}
    formats = {"apache/error": {"timezone": "UTC"}, "shop/app": {"timestamp_format": "%Y-%m-%d %H:%M:%S"}}
    frag = cl.cwagent_linux_fragment(["nginx"], options(extra_files=[extra], log_formats=formats))
    assert entries(frag)["/var/log/shop.log"]["timestamp_format"] == "%Y-%m-%d %H:%M:%S"


@pytest.mark.parametrize(
    "path",
    [
        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
        "/opt/aws/amazon-cloudwatch-agent/etc/./amazon-cloudwatch-agent.json",
        "/opt/aws/amazon-cloudwatch-agent/bin/../etc/amazon-cloudwatch-agent.json",
        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.toml",
        "/opt/aws/amazon-cloudwatch-agent/etc/common-config.toml",
        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d",
        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/",
        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/file_user.json",
    ],
)
def test_fragment_path_refuses_the_agents_own_files(path: str) -> None:
    assert cl.cwagent_linux_fragment_path_problem(path).startswith("cloudwatch_agent_linux_fragment_path: ")


@pytest.mark.parametrize(
    "path",
    [
        "/opt/aws/amazon-cloudwatch-agent/etc/gdpr_aws_monitoring_linux.json",
        "/etc/gdpr/cwagent.json",
        "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d.json",
    ],
)
def test_fragment_path_of_our_own(path: str) -> None:
    assert cl.cwagent_linux_fragment_path_problem(path) == ""


# Signature checks (the pinned key, its primary fingerprint exactly) are the shared gpg_status
# filter's: tests/unit/plugins/filter/test_gpg_status.py.


# --- common-config.toml: the user's [credentials] table is edited, never duplicated ------------

PACKAGED = """# This common-config is used to configure items used for both ssm and cloudwatch access
# [credentials]
#    shared_credential_profile = "{profile_name}"
"""
WANTED = {"shared_credential_profile": "AmazonCloudWatchAgent", "shared_credential_file": "/etc/creds"}


def credentials(text: str) -> dict:
    return tomllib.loads(text)["credentials"]


def test_common_config_without_table_gets_the_marked_block() -> None:
    text = cl.cwagent_linux_common_config(PACKAGED, WANTED)
    assert text == (
        PACKAGED
        + "# BEGIN gdpr.aws_monitoring cloudwatch_agent_linux\n[credentials]\n"
        + 'shared_credential_profile = "AmazonCloudWatchAgent"\nshared_credential_file = "/etc/creds"\n'
        + "# END gdpr.aws_monitoring cloudwatch_agent_linux\n"
    )
    assert credentials(text) == WANTED
    assert cl.cwagent_linux_common_config(text, WANTED) == text  # idempotent
    assert cl.cwagent_linux_common_config(text, {}) == PACKAGED  # and removable


def test_common_config_block_changes_in_place() -> None:
    text = cl.cwagent_linux_common_config(PACKAGED, WANTED) + '[proxy]\nno_proxy = "169.254.169.254"\n'
    changed = cl.cwagent_linux_common_config(text, {**WANTED, "shared_credential_file": "/etc/other"})
    assert changed.endswith('[proxy]\nno_proxy = "169.254.169.254"\n')
    assert credentials(changed)["shared_credential_file"] == "/etc/other"


def test_users_own_table_is_edited_not_duplicated() -> None:
    users = '# mine\n[credentials]\nshared_credential_file = "/etc/creds"\n\n[proxy]\nno_proxy = "x"\n'
    text = cl.cwagent_linux_common_config(users, WANTED)
    assert text.count("[credentials]") == 1
    assert credentials(text) == WANTED
    assert tomllib.loads(text)["proxy"] == {"no_proxy": "x"}
    assert cl.cwagent_linux_common_config(text, WANTED) == text
    assert cl.cwagent_linux_common_config(text, {}) == users  # only the role's key goes


def test_users_own_table_with_another_value_fails_naming_the_variable() -> None:
    users = '[credentials]\nshared_credential_profile = "mine"\n'
    with pytest.raises(AnsibleFilterError, match=r"^cloudwatch_agent_linux_credential_profile: .* \"mine\""):
        cl.cwagent_linux_common_config(users, WANTED)
    inline = 'credentials = {shared_credential_profile = "AmazonCloudWatchAgent"}\n'
    with pytest.raises(AnsibleFilterError, match="cannot edit"):
        cl.cwagent_linux_common_config(inline, WANTED)


def test_invalid_common_config_is_not_touched() -> None:
    broken = "[credentials]\nx = 1\n[credentials]\ny = 2\n"
    with pytest.raises(AnsibleFilterError, match="not valid TOML"):
        cl.cwagent_linux_common_config(broken, WANTED)


def _keys(value: object) -> set[str]:
    """Every key at any depth of a rendered fragment."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


@pytest.mark.parametrize("base", [DEBIAN12, UBUNTU, ROCKY, None], ids=["debian12", "ubuntu", "rocky", "plan"])
def test_no_fragment_carries_retention_the_agent_would_force_on_its_groups(base: dict | None) -> None:
    """The agent calls PutRetentionPolicy whenever a group's retention differs from an entry's
    retention_in_days, at every start: a 3653-day group would be cut to the entry's 365."""
    every = [p for paths in cl.PATHS.values() for ps in paths.values() for p in ps]
    extra = [{"file_path": "/srv/shop/app.log", "source": "shop/app"}]
    on_host = None if base is None else host(base, *every)
    frag = cl.cwagent_linux_fragment(
        ["apache", "nginx"], options(extra_files=extra, retention_days=3653, region="eu-west-1"), on_host
    )
    assert len(entries(frag)) >= 8  # every source (web, system, extra) is in it
    assert "retention_in_days" not in _keys(frag)


def test_plan_carries_retention_class_and_the_agents_region() -> None:
    region = "eu-north-1"
    planned = cl.cwagent_linux_log_groups(
        ["nginx"], options(system_logs=["auth"], retention_days=3653, region=region)
    )
    assert planned == [
        {
            "name": f"/gdpr/prod/{s}",
            "retention_in_days": 3653,
            "log_group_class": "STANDARD",
            "region": region,
        }
        for s in ("nginx/access", "nginx/error", "system/auth")
    ]
    # no region configured: the log_groups role takes the host's
    assert "region" not in cl.cwagent_linux_log_groups(["nginx"], options())[0]


def test_fragment_refuses_an_entry_carrying_retention() -> None:
    entry = {"file_path": "/x.log", "log_group_name": "/g", "retention_in_days": 365}
    with pytest.raises(cwagent.ConventionError, match="carries retention_in_days"):
        cwagent.fragment(files=[entry])
