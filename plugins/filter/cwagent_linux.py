# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Linux agent knowledge: where each distribution writes its logs and how their lines look.

The role ``cloudwatch_agent_linux`` builds its agent fragment only through these filters, and so does
its ``tasks/plan.yml``: the log groups the log_groups role creates and the groups the agent writes to
come from one function and cannot drift apart. Naming, retention and the entry schema are the shared
conventions of ``module_utils/cwagent.py``.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import tomllib
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

ROLE = "cloudwatch_agent_linux"
WEB_SERVERS: dict[str, tuple[str, ...]] = {
    "apache": ("apache/access", "apache/error"),
    "nginx": ("nginx/access", "nginx/error"),
}
# Package names that mean "this web server is installed" (Debian splits nginx into flavours).
WEB_SERVER_PACKAGES: dict[str, tuple[str, ...]] = {
    "apache": ("apache2", "httpd"),
    "nginx": ("nginx", "nginx-core", "nginx-full", "nginx-light", "nginx-extras", "nginx-mainline"),
}
SYSTEM_LOGS: dict[str, str] = {"auth": "system/auth", "syslog": "system/syslog", "audit": "system/audit"}
# A system log counts as present when its file exists or the daemon that writes it is installed: on a
# fresh host rsyslog creates auth.log only with the first auth event (installing the agent is one),
# and the agent waits for files that do not exist yet.
_SYSLOG_DAEMONS = ("rsyslog", "syslog-ng", "sysklogd", "inetutils-syslogd")
SYSTEM_LOG_PRODUCERS: dict[str, tuple[str, ...]] = {
    "system/auth": _SYSLOG_DAEMONS,
    "system/syslog": _SYSLOG_DAEMONS,
    "system/audit": ("auditd", "audit"),
}
OS_FAMILIES: tuple[str, ...] = ("Debian", "RedHat")
# What each family's packages do by default (checked against the distributions' layouts in
# tests/unit/plugins/filter/test_cwagent_linux_os_data.py). Debian/Ubuntu give the adm group read
# access to apache, nginx, auth.log and syslog, so the agent runs as the package's cwagent user in
# adm. The RedHat family (RHEL, Rocky, Alma, Amazon Linux) keeps /var/log/secure, messages and
# httpd's directory root-only (0600/0700) with no reader group: the agent runs as root there.
OS_DEFAULTS: dict[str, dict[str, Any]] = {
    "Debian": {
        "run_as_user": "cwagent",
        "log_reader_groups": ["adm"],
        "package_format": "deb",
        "gpg_package": "gpg",
    },
    "RedHat": {
        "run_as_user": "root",
        "log_reader_groups": [],
        "package_format": "rpm",
        "gpg_package": "gnupg2",
    },
}

# The official download layout, <bucket>/<os>/<arch>/latest/amazon-cloudwatch-agent.<deb|rpm>
# (CloudWatch user guide, "Download the CloudWatch agent package using the command line"): the <os>
# directory of each distribution (facts.distribution), else of its family; <arch> by
# facts.architecture. A regional bucket serves the same files from inside the region.
DOWNLOAD_OS: dict[str, str] = {
    "Debian": "debian",
    "Ubuntu": "ubuntu",
    "Amazon": "amazon_linux",
    "CentOS": "centos",
    "RedHat": "redhat",
    "Rocky": "redhat",
    "AlmaLinux": "redhat",
    "OracleLinux": "redhat",
}
DOWNLOAD_FAMILY_OS: dict[str, str] = {"Debian": "debian", "RedHat": "redhat"}
DOWNLOAD_ARCH: dict[str, str] = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
DOWNLOAD_BUCKET = "https://amazoncloudwatch-agent.s3.amazonaws.com"
DOWNLOAD_REGIONAL_BUCKET = "https://amazoncloudwatch-agent-{region}.s3.{region}.amazonaws.com"

# --- The journal ------------------------------------------------------------------------------
# Hosts without a syslog daemon (Amazon Linux 2023, minimal Debian/Ubuntu images) keep sshd, sudo,
# su and login events only in the journal. The agent reads it from 1.300070.0 on
# (logs_collected.journald, cwagent.JOURNALD_MIN_VERSION) as the user it runs as, which needs the
# systemd-journal group unless it is root.
JOURNALD_MODES: tuple[str, ...] = ("auto", "always", "never")
JOURNAL_GROUP = "systemd-journal"
JOURNAL_SOURCES: tuple[str, ...] = ("system/auth", "system/syslog")
# The syslog daemons' units; syslog.service is the alias the enabled daemon installs. A daemon
# counts as writing auth.log/secure when its package is installed and one of these is active.
SYSLOG_UNITS: tuple[str, ...] = ("rsyslog.service", "syslog-ng.service", "syslog.service")
# auth (4) and authpriv (10): the facilities auth.log (Debian: auth,authpriv.*) and secure
# (RedHat: authpriv.*) hold. sshd, sudo, su, login, systemd-logind and PAM log there.
AUTH_FACILITIES: tuple[str, ...] = ("4", "10")
# The agent ships each journal entry as the JSON object of its fields (journalctl --output=json,
# compact, keys sorted) and its filters match that text: this keeps auth entries out of the syslog
# group, as rsyslog's "auth,authpriv.none" does for /var/log/syslog, so no entry is sent twice.
_NOT_AUTH = {"type": "exclude", "expression": '"SYSLOG_FACILITY":"(4|10)"'}

# The files each distribution's packages log to by default. Explicit names, no globs: with a glob
# the agent follows only the most recently written match, and rotated copies (access.log.1) must
# not be shipped twice.
PATHS: dict[str, dict[str, tuple[str, ...]]] = {
    "Debian": {
        "apache/access": ("/var/log/apache2/access.log", "/var/log/apache2/other_vhosts_access.log"),
        "apache/error": ("/var/log/apache2/error.log",),
        "nginx/access": ("/var/log/nginx/access.log",),
        "nginx/error": ("/var/log/nginx/error.log",),
        "system/auth": ("/var/log/auth.log",),
        "system/syslog": ("/var/log/syslog",),
        "system/audit": ("/var/log/audit/audit.log",),
    },
    "RedHat": {
        "apache/access": ("/var/log/httpd/access_log", "/var/log/httpd/ssl_access_log"),
        "apache/error": ("/var/log/httpd/error_log", "/var/log/httpd/ssl_error_log"),
        "nginx/access": ("/var/log/nginx/access.log",),
        "nginx/error": ("/var/log/nginx/error.log",),
        "system/auth": ("/var/log/secure",),
        "system/syslog": ("/var/log/messages",),
        "system/audit": ("/var/log/audit/audit.log",),
    },
}

# Line formats. Access logs (combined format) carry "[10/Oct/2000:13:55:36 -0700]" with an offset;
# error logs and syslog are in local time, which is the agent's default timezone. Continuation
# lines (stack traces, multi-line messages) belong to the event that starts with a timestamp.
_ACCESS = {"timestamp_format": "%d/%b/%Y:%H:%M:%S %z"}
_SYSLOG_TRADITIONAL = {"timestamp_format": "%b %d %H:%M:%S", "multi_line_start_pattern": "{timestamp_format}"}
# rsyslog's built-in file format (RFC 3339, "2024-01-15T10:00:00.123456+01:00"): Debian 12 dropped
# the RSYSLOG_TraditionalFileFormat line from rsyslog.conf, so its logs use this one.
_SYSLOG_RFC3339 = {
    "timestamp_format": "%Y-%m-%dT%H:%M:%S.%f",
    "multi_line_start_pattern": "{timestamp_format}",
}
FORMATS: dict[str, dict[str, str]] = {
    "apache/access": _ACCESS,
    "nginx/access": _ACCESS,
    # "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] ..."
    "apache/error": {
        "timestamp_format": "%a %b %d %H:%M:%S.%f %Y",
        "multi_line_start_pattern": r"^\[\w{3} \w{3} +\d{1,2} \d{2}:\d{2}:\d{2}",
    },
    # "2024/01/15 10:00:00 [error] 1234#1234: *1 open() ..."
    "nginx/error": {
        "timestamp_format": "%Y/%m/%d %H:%M:%S",
        "multi_line_start_pattern": "{timestamp_format}",
    },
    "system/auth": _SYSLOG_TRADITIONAL,
    "system/syslog": _SYSLOG_TRADITIONAL,
    # audit.log stamps records as "msg=audit(1364481363.243:24287)" (epoch seconds), which the
    # agent's timestamp_format cannot express: the agent uses the time it reads the line instead.
    "system/audit": {},
}
FORMAT_KEYS: frozenset[str] = frozenset(
    {"timestamp_format", "timezone", "multi_line_start_pattern", "encoding"}
)
EXTRA_FILE_KEYS: frozenset[str] = FORMAT_KEYS | {"file_path", "source", "filters"}
# The only timezones the agent's timestamp parsing knows (its schema's enum).
TIMEZONES: tuple[str, ...] = ("Local", "UTC")
FILTER_TYPES: tuple[str, ...] = ("include", "exclude")
# The agent compiles patterns with Go's RE2, which has no lookaround, atomic groups or backreferences;
# Python's re accepts them, so they are refused by name before any host is touched.
_RE2_UNSUPPORTED = re.compile(r"\(\?(?:[=!>]|<[=!])|\\[1-9]")

# The agent's own files under its home: a fragment written over one of them would replace the user's
# main config, the translated config or the credentials file; the agent's config directory holds
# the stored fragments (ours included), which only the control script may write.
AGENT_HOME = "/opt/aws/amazon-cloudwatch-agent"
AGENT_OWN_FILES: tuple[str, ...] = tuple(
    f"{AGENT_HOME}/etc/{name}"
    for name in (
        "amazon-cloudwatch-agent.json",
        "amazon-cloudwatch-agent.toml",
        "common-config.toml",
        "env-config.json",
    )
)
AGENT_CONFIG_DIR = f"{AGENT_HOME}/etc/amazon-cloudwatch-agent.d"
COMMON_CONFIG_MARK = "gdpr.aws_monitoring cloudwatch_agent_linux"
# Variables behind each key the role writes to common-config.toml's [credentials] table.
CREDENTIAL_VARS: dict[str, str] = {
    "shared_credential_profile": f"{ROLE}_credential_profile",
    "shared_credential_file": f"{ROLE}_shared_credential_file",
}


def _fail(message: str) -> AnsibleFilterError:
    return AnsibleFilterError(message)


def _family(os_family: str) -> str:
    if os_family not in OS_FAMILIES:
        raise _fail(f"{ROLE}: OS family {os_family!r} is not supported (supported: {', '.join(OS_FAMILIES)})")
    return os_family


def _uses_rfc3339_syslog(host: Mapping[str, Any]) -> bool:
    try:
        major = int(str(host.get("distribution_major_version", "0")).split(".", maxsplit=1)[0])
    except ValueError:
        return False
    return host.get("distribution") == "Debian" and major >= 12


def source_formats(source: str, host: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> dict:
    """Timestamp/multi-line settings for one source: built-in, distribution, then the user's override."""
    formats = dict(FORMATS.get(source, {}))
    if source in ("system/auth", "system/syslog") and host and _uses_rfc3339_syslog(host):
        formats = dict(_SYSLOG_RFC3339)
    override = overrides.get(source) or {}
    if not isinstance(override, Mapping):
        raise _fail(f"{ROLE}_log_formats[{source!r}]: give a dict of {', '.join(sorted(FORMAT_KEYS))}")
    unknown = sorted(set(override) - FORMAT_KEYS)
    if unknown:
        raise _fail(f"{ROLE}_log_formats[{source!r}]: unknown keys {', '.join(unknown)}")
    _check_formats(override, f"{ROLE}_log_formats[{source!r}]")
    formats.update(override)
    return {k: v for k, v in formats.items() if v not in (None, "")}


def _check_regex(pattern: Any, var: str) -> None:
    if not isinstance(pattern, str) or not pattern:
        raise _fail(f"{var}: give a regular expression")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _fail(f"{var}: {pattern!r} is not a valid regular expression: {exc}") from exc
    if _RE2_UNSUPPORTED.search(pattern):
        raise _fail(
            f"{var}: {pattern!r} uses lookaround, an atomic group or a backreference, which the"
            " agent's regular expressions (Go RE2) do not support"
        )


def _check_formats(formats: Mapping[str, Any], var: str) -> None:
    """Timezone, multi-line pattern and filters as the agent accepts them (it fails or ignores otherwise)."""
    timezone = formats.get("timezone")
    if timezone not in (None, "") and timezone not in TIMEZONES:
        raise _fail(f"{var}.timezone: {timezone!r} is not one the agent knows ({', '.join(TIMEZONES)})")
    pattern = formats.get("multi_line_start_pattern")
    if pattern not in (None, "", "{timestamp_format}"):
        _check_regex(pattern, f"{var}.multi_line_start_pattern")
    filters = formats.get("filters")
    if filters in (None, []):
        return
    if not isinstance(filters, list):
        raise _fail(f"{var}.filters: give a list of {{type: include|exclude, expression}}")
    for index, item in enumerate(filters):
        where = f"{var}.filters[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"type", "expression"}:
            raise _fail(f"{where}: give exactly type (include or exclude) and expression")
        if item["type"] not in FILTER_TYPES:
            raise _fail(f"{where}.type: {item['type']!r} is not include or exclude")
        _check_regex(item["expression"], f"{where}.expression")


def _check_log_formats(options: Mapping[str, Any]) -> None:
    """log_formats may name built-in sources (whatever a host runs) and the extra files' sources."""
    overrides = options.get("log_formats") or {}
    if not isinstance(overrides, Mapping):
        raise _fail(f"{ROLE}_log_formats: give a dict of source -> formats")
    known = set(FORMATS)
    known.update(
        extra.get("source") for extra in options.get("extra_files") or [] if isinstance(extra, Mapping)
    )
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise _fail(
            f"{ROLE}_log_formats: no log source named {', '.join(unknown)}"
            f" (sources: {', '.join(sorted(str(k) for k in known))})"
        )


def cwagent_linux_os_defaults(os_family: str) -> dict[str, Any]:
    """The agent user, its log reader groups and the package format of an OS family."""
    return dict(OS_DEFAULTS[_family(os_family)])


def cwagent_linux_download(
    facts: Mapping[str, Any], region: str = "", package_url: str = "", signature_url: str = ""
) -> dict[str, str]:
    """Where a host gets the agent package: ``url``, ``signature_url`` and ``package_format``.

    ``facts``: the host's ``ansible_facts`` (os_family, distribution, architecture). ``package_url``
    and ``signature_url`` are the user's overrides (``cloudwatch_agent_linux_package_url``, ...);
    without ``package_url`` an architecture AWS builds no agent for is refused, naming the variable.
    """
    family = _family(str(facts.get("os_family")))
    package_format = OS_DEFAULTS[family]["package_format"]
    if not package_url:
        architecture = str(facts.get("architecture"))
        if architecture not in DOWNLOAD_ARCH:
            raise _fail(
                f"No CloudWatch agent download for architecture {architecture}: set {ROLE}_package_url"
            )
        os_dir = DOWNLOAD_OS.get(str(facts.get("distribution")), DOWNLOAD_FAMILY_OS[family])
        bucket = DOWNLOAD_REGIONAL_BUCKET.format(region=region) if region else DOWNLOAD_BUCKET
        package_url = (
            f"{bucket}/{os_dir}/{DOWNLOAD_ARCH[architecture]}/latest/amazon-cloudwatch-agent.{package_format}"
        )
    return {
        "url": package_url,
        "signature_url": signature_url or f"{package_url}.sig",
        "package_format": package_format,
    }


def syslog_writes(host: Mapping[str, Any]) -> bool:
    """Whether a syslog daemon writes auth.log/secure and syslog/messages on ``host``.

    Its package must be installed; when the host says which units run (``active_services``), one
    of the syslog units must be among them (an installed but stopped or masked daemon writes
    nothing). A host described without ``active_services`` is taken at its packages' word, one
    described without ``installed_packages`` at its files' (``present_paths``), as before journald.
    """
    packages = host.get("installed_packages")
    if packages is None:
        return True
    if not set(packages).intersection(_SYSLOG_DAEMONS):
        return False
    active = host.get("active_services")
    return active is None or bool(set(active).intersection(SYSLOG_UNITS))


def journal_sources(
    system_sources: Iterable[str], host: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> list[str]:
    """The system sources read from the journal on ``host`` instead of their files.

    ``options.journald``: ``auto`` (where no syslog daemon writes the files), ``always`` or
    ``never``. Without a host (planning) nothing is: the log groups are the same either way.
    """
    mode = options.get("journald") or "auto"
    if mode not in JOURNALD_MODES:
        raise _fail(f"{ROLE}_journald: {mode!r} is not one of {', '.join(JOURNALD_MODES)}")
    if host is None or mode == "never" or (mode == "auto" and syslog_writes(host)):
        return []
    return [source for source in system_sources if source in JOURNAL_SOURCES]


def _upgrade_allowed(options: Mapping[str, Any]) -> bool:
    return options.get("package_state") == "latest" or bool(options.get("upgrade_for_journald"))


def journald_version_problem(
    host: Mapping[str, Any], journal: Iterable[str], upgrade_allowed: bool = False
) -> str:
    """Why the host's agent cannot take the journald section, or ``""``: also when its version is
    unknown (not installed yet: checked after installing) or the role may upgrade it first."""
    version = host.get("version")
    journal = list(journal)
    if not journal or upgrade_allowed or cwagent.supports_journald(version) is not False:
        return ""
    name = host.get("name") or "this host"
    return (
        f"{name}: the CloudWatch agent {version} cannot read the journal, which this host's"
        f" {' and '.join(journal)} logs are only in (no syslog daemon writes them); it needs"
        f" {cwagent.JOURNALD_MIN_VERSION} or later. Let the role upgrade it with"
        f" {ROLE}_package_state: latest or {ROLE}_upgrade_for_journald: true, or set"
        f" {ROLE}_journald: never to leave these logs out"
    )


def _host_journal(host: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    system = _check_names(options.get("system_logs"), SYSTEM_LOGS, f"{ROLE}_system_logs")
    return journal_sources([SYSTEM_LOGS[name] for name in system], host, options)


def cwagent_linux_journal_sources(host: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """The system sources (system/auth, system/syslog) ``host`` has read from the journal."""
    return _host_journal(host, options)


def cwagent_linux_journald_problem(
    host: Mapping[str, Any], options: Mapping[str, Any], upgrade_allowed: bool | None = None
) -> str:
    """Why the agent ``host.version`` cannot take this host's fragment (journald), or ``""``.

    ``upgrade_allowed`` (default: from ``options.package_state``/``upgrade_for_journald``) false
    asks about the agent as installed, e.g. after the role's upgrade.
    """
    allowed = _upgrade_allowed(options) if upgrade_allowed is None else upgrade_allowed
    return journald_version_problem(host, _host_journal(host, options), allowed)


def cwagent_linux_journald_upgrade(host: Mapping[str, Any], options: Mapping[str, Any]) -> bool:
    """Whether the role upgrades the installed agent first: it is too old for the journal this host
    needs and ``options.package_state`` is latest or ``options.upgrade_for_journald`` allows it."""
    return _upgrade_allowed(options) and bool(cwagent_linux_journald_problem(host, options, False))


def _journal_entry(
    source: str, group: str, retention: int, common: dict, options: Mapping[str, Any]
) -> cwagent.PlannedEntry:
    if source == "system/auth":  # every auth event, whatever its priority (auth.log takes auth,authpriv.*)
        settings: dict[str, Any] = {
            "priority": "debug",
            "matches": [{"SYSLOG_FACILITY": f} for f in AUTH_FACILITIES],
        }
    else:
        settings = {"priority": str(options.get("journald_priority") or "info"), "filters": [_NOT_AUTH]}
    try:
        return cwagent.journald_entry(group, retention, **common, **settings)
    except cwagent.ConventionError as exc:
        raise _fail(f"{ROLE}_journald_priority: {exc}") from exc


def cwagent_linux_detect(wanted: Iterable[str], packages: Mapping[str, Any]) -> list[str]:
    """The ``wanted`` web servers whose package is installed (``packages``: name -> version(s))."""
    installed = set(packages or {})
    return [name for name in wanted if installed.intersection(WEB_SERVER_PACKAGES.get(name, ()))]


AGENT_PACKAGE = "amazon-cloudwatch-agent"


def cwagent_linux_probe(
    web_servers: Iterable[str], system_logs: Iterable[str], os_family: str
) -> dict[str, list[str]]:
    """What the role's host probe asks about, from the data above (nothing kept in sync by hand):
    ``packages`` (the agent, the web servers', the log daemons'), ``active`` (syslog daemon units)
    and ``paths`` (the system logs' candidate files on this OS family)."""
    web = _check_names(web_servers, WEB_SERVERS, f"{ROLE}_web_servers")
    system = _check_names(system_logs, SYSTEM_LOGS, f"{ROLE}_system_logs")
    packages = [AGENT_PACKAGE, *(p for name in web for p in WEB_SERVER_PACKAGES[name])]
    for source in dict.fromkeys(SYSTEM_LOG_PRODUCERS[SYSTEM_LOGS[name]] for name in system):
        packages.extend(source)
    return {
        "packages": list(dict.fromkeys(packages)),
        "active": list(SYSLOG_UNITS) if set(system) & {"auth", "syslog"} else [],
        "paths": cwagent_linux_system_log_paths(system, os_family),
    }


def cwagent_linux_system_log_paths(system_logs: Iterable[str], os_family: str) -> list[str]:
    """Candidate files of the wanted system logs on this OS family (the role checks which exist)."""
    paths = PATHS[_family(os_family)]
    return [path for name in system_logs for path in paths[SYSTEM_LOGS[name]]]


def cwagent_linux_stored_name(path: str) -> str:
    """The name the agent stores ``-c file:<path>`` under in ``etc/amazon-cloudwatch-agent.d/``."""
    base = str(path).rstrip("/").rsplit("/", 1)[-1]
    for char in ("/", " ", ":"):
        base = base.replace(char, "_")
    return f"file_{base}"


def _check_names(values: Iterable[str], allowed: Iterable[str], var: str) -> list[str]:
    values = list(values or [])
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise _fail(f"{var}: unknown {', '.join(unknown)} (choose from {', '.join(sorted(allowed))})")
    return values


def _extra_entries(
    extra_files: Iterable[Mapping[str, Any]], host: Mapping[str, Any] | None, options: dict
) -> Iterator[tuple[str, str, dict]]:
    for index, extra in enumerate(extra_files or []):
        var = f"{ROLE}_extra_files[{index}]"
        if not isinstance(extra, Mapping):
            raise _fail(f"{var}: give a dict with file_path and source")
        unknown = sorted(set(extra) - EXTRA_FILE_KEYS)
        if unknown:
            raise _fail(f"{var}: unknown keys {', '.join(unknown)}")
        path = extra.get("file_path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise _fail(f"{var}.file_path: {path!r} is not an absolute path")
        source = extra.get("source")
        if not isinstance(source, str) or not source:
            raise _fail(f"{var}.source: give the log source, e.g. apache/access or myapp/app")
        try:  # the source alone, so that a bad one is blamed on this item, not on the prefix
            cwagent.log_group_name("/", source)
        except cwagent.ConventionError as exc:
            raise _fail(f"{var}.source: {exc}") from exc
        _check_formats(extra, var)
        formats = source_formats(source, host, options.get("log_formats") or {})
        formats.update({k: extra[k] for k in FORMAT_KEYS | {"filters"} if extra.get(k) not in (None, "")})
        yield source, path, formats


def _group(source: str, prefix: str, var: str) -> str:
    try:
        return cwagent.log_group_name(prefix, source)
    except cwagent.ConventionError as exc:
        raise _fail(f"{var}: {exc}") from exc


def _planned_entries(
    web_servers: Iterable[str],
    options: Mapping[str, Any],
    host: Mapping[str, Any] | None = None,
) -> list[cwagent.PlannedEntry]:
    """The role's collect_list entries, each with its group's planned retention.

    ``web_servers``: the web servers to collect (on a host: those detected). ``options``: the role's
    settings (``system_logs``, ``extra_files``, ``prefix``, ``retention_days``, ``log_group_class``,
    ``stream``, ``log_formats``, ``endpoint_override``, ``region``, ``run_as_user``). ``host``: the
    host's ``os_family``, ``distribution``, ``distribution_major_version``, ``present_paths`` and
    ``installed_packages`` (system logs are collected where their file exists or the daemon writing
    it is installed); without it (planning, no host contact) every
    configured source is included with Debian paths, which name the same log groups.
    """
    web = _check_names(web_servers, WEB_SERVERS, f"{ROLE}_web_servers")
    if host is not None and options.get("detect_web_servers"):
        web = cwagent_linux_detect(web, dict.fromkeys(host.get("installed_packages") or []))
    _check_log_formats(options)
    system = _check_names(options.get("system_logs"), SYSTEM_LOGS, f"{ROLE}_system_logs")
    journal = journal_sources([SYSTEM_LOGS[name] for name in system], host, options)
    problem = journald_version_problem(host or {}, journal, _upgrade_allowed(options))
    if problem:
        raise _fail(problem)
    family = _family(host.get("os_family")) if host else "Debian"
    paths = PATHS[family]
    present = None if host is None else set(host.get("present_paths") or [])
    installed = set((host or {}).get("installed_packages") or [])
    prefix = str(options.get("prefix") or "")
    try:
        retention = cwagent.validate_retention(options.get("retention_days"), f"{ROLE}_retention_days")
    except cwagent.ConventionError as exc:
        raise _fail(str(exc)) from exc
    common: dict[str, Any] = {"stream": options.get("stream") or "{instance_id}"}
    if options.get("log_group_class"):
        common["log_group_class"] = options["log_group_class"]

    wanted: list[tuple[str, str, dict]] = []
    for name in web:
        for source in WEB_SERVERS[name]:
            formats = source_formats(source, host, options.get("log_formats") or {})
            wanted.extend((source, path, formats) for path in paths[source])
    for name in system:
        source = SYSTEM_LOGS[name]
        if source in journal:  # the files are not written: the journal entry stands in for them
            continue
        formats = source_formats(source, host, options.get("log_formats") or {})
        produced = bool(installed.intersection(SYSTEM_LOG_PRODUCERS[source]))
        wanted.extend(
            (source, p, formats) for p in paths[source] if present is None or produced or p in present
        )
    wanted.extend(_extra_entries(options.get("extra_files"), host, options))

    entries, seen = [], set()
    for source, path, formats in wanted:
        if path in seen:  # the agent would tail one file twice
            continue
        seen.add(path)
        group = _group(source, prefix, f"{ROLE}_log_group_prefix")
        try:
            entries.append(cwagent.file_entry(path, group, retention, **common, **formats))
        except cwagent.ConventionError as exc:
            raise _fail(f"{ROLE}: {exc}") from exc
    for source in journal:
        group = _group(source, prefix, f"{ROLE}_log_group_prefix")
        entries.append(_journal_entry(source, group, retention, common, options))

    try:
        cwagent.log_groups_from_entries(entries)  # one group, one retention and class
    except cwagent.ConventionError as exc:
        raise _fail(f"{ROLE}: {exc}") from exc
    return entries


def cwagent_linux_fragment(
    web_servers: Iterable[str],
    options: Mapping[str, Any],
    host: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The role's agent fragment (arguments: ``_planned_entries``). It carries no retention: the
    agent would force it on the groups at every start, shortening longer ones."""
    entries = _planned_entries(web_servers, options, host)
    frag = cwagent.fragment(
        files=[e for e in entries if "file_path" in e],
        journald=[e for e in entries if "file_path" not in e],
        endpoint_override=options.get("endpoint_override") or None,
    )
    agent = {k: options[k] for k in ("region", "run_as_user") if options.get(k)}
    if host is not None and not agent.get("run_as_user"):
        agent["run_as_user"] = OS_DEFAULTS[_family(host.get("os_family"))]["run_as_user"]
    if agent:
        frag["agent"] = agent
    return frag


def cwagent_linux_log_groups(
    web_servers: Iterable[str],
    options: Mapping[str, Any],
    host: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The role's plan: the log groups its fragment writes to, with retention and class, and the
    agent's region when the role sets one (``options.region``), which then wins over the host's."""
    groups = cwagent.log_groups_from_entries(_planned_entries(web_servers, options, host))
    region = options.get("region")
    return [{**group, "region": region} if region else group for group in groups]


def cwagent_linux_fragment_path_problem(path: str) -> str:
    """Why ``path`` cannot be the role's fragment file, or ``""``: the agent's own files are not ours."""
    normal = posixpath.normpath(str(path))
    if normal in AGENT_OWN_FILES:
        return f"{ROLE}_fragment_path: {path} is the agent's own file; give a path of this role's own"
    if normal == AGENT_CONFIG_DIR or normal.startswith(AGENT_CONFIG_DIR + "/"):
        return (
            f"{ROLE}_fragment_path: {path} is in the agent's config directory {AGENT_CONFIG_DIR}, "
            "where the agent keeps its stored copies; give a path outside it"
        )
    return ""


def _toml_header(line: str) -> str | None:
    match = re.match(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", line)
    return match.group(1) if match else None


def _parse_toml(text: str, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(f"{what} is not valid TOML ({exc}); fix it first, the role does not guess") from exc


def _without_own_lines(lines: list[str]) -> tuple[list[str], int | None]:
    """The file without what the role wrote before, and where its block was (to put it back there)."""
    begin, end, own = (
        f"# BEGIN {COMMON_CONFIG_MARK}",
        f"# END {COMMON_CONFIG_MARK}",
        f"  # {COMMON_CONFIG_MARK}",
    )
    kept: list[str] = []
    block_at, inside = None, False
    for line in lines:
        if line.rstrip("\n") == begin:
            inside, block_at = True, len(kept)
        elif inside:
            inside = line.rstrip("\n") != end
        elif not line.rstrip("\n").endswith(own):
            kept.append(line)
    return kept, block_at


def cwagent_linux_common_config(
    text: str, settings: Mapping[str, str], path: str = "common-config.toml"
) -> str:
    """``common-config.toml`` with the role's credential settings, the user's own lines kept.

    ``settings``: ``shared_credential_profile`` and ``shared_credential_file``; empty values are not
    set (all empty: only what the role wrote before is taken out). Without a ``[credentials]`` table
    the role appends its own, between markers; a user's table gets the missing keys (each marked),
    and a key the user set to another value fails, naming the variable: the role never overrides it.
    """
    wanted = {k: str(v) for k, v in (settings or {}).items() if v not in (None, "")}
    unknown = sorted(set(wanted) - set(CREDENTIAL_VARS))
    if unknown:
        raise _fail(f"{ROLE}: unknown common-config settings {', '.join(unknown)}")
    lines, block_at = _without_own_lines(str(text or "").splitlines(keepends=True))
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    users = _parse_toml("".join(lines), path).get("credentials")
    if not wanted:
        return "".join(lines)
    if users is None:
        block = [f"# BEGIN {COMMON_CONFIG_MARK}\n", "[credentials]\n"]
        block += [f"{key} = {json.dumps(value)}\n" for key, value in wanted.items()]
        block.append(f"# END {COMMON_CONFIG_MARK}\n")
        at = len(lines) if block_at is None else block_at
        lines[at:at] = block
    else:
        header = next((i for i, line in enumerate(lines) if _toml_header(line) == "credentials"), None)
        if header is None or not isinstance(users, Mapping):
            raise _fail(
                f"{ROLE}_credential_profile/{ROLE}_shared_credential_file: {path} defines its credentials "
                "other than as a [credentials] table; the role cannot edit them: set them there yourself "
                "and leave these variables empty"
            )
        added = []
        for key, value in wanted.items():
            have = users.get(key)
            if have is not None and have != value:
                raise _fail(
                    f"{CREDENTIAL_VARS[key]}: {path} already sets {key} = {json.dumps(have)} in its own"
                    " [credentials] table, which the role does not override: use that value or edit the file"
                )
            if have is None:
                added.append(f"{key} = {json.dumps(value)}  # {COMMON_CONFIG_MARK}\n")
        lines[header + 1 : header + 1] = added
    result = "".join(lines)
    got = _parse_toml(result, f"{path} as the role would write it").get("credentials") or {}
    if any(got.get(key) != value for key, value in wanted.items()):
        raise _fail(f"{ROLE}: could not set the credentials in {path}")
    return result


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "cwagent_linux_detect": cwagent_linux_detect,
            "cwagent_linux_os_defaults": cwagent_linux_os_defaults,
            "cwagent_linux_download": cwagent_linux_download,
            "cwagent_linux_journal_sources": cwagent_linux_journal_sources,
            "cwagent_linux_journald_problem": cwagent_linux_journald_problem,
            "cwagent_linux_journald_upgrade": cwagent_linux_journald_upgrade,
            "cwagent_linux_system_log_paths": cwagent_linux_system_log_paths,
            "cwagent_linux_probe": cwagent_linux_probe,
            "cwagent_linux_stored_name": cwagent_linux_stored_name,
            "cwagent_linux_fragment": cwagent_linux_fragment,
            "cwagent_linux_fragment_path_problem": cwagent_linux_fragment_path_problem,
            "cwagent_linux_common_config": cwagent_linux_common_config,
            "cwagent_linux_log_groups": cwagent_linux_log_groups,
        }
