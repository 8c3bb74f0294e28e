# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows agent fragment: IIS sites discovered on the host plus the Windows event logs.

The host only reports raw IIS configuration (``files/discover_iis.ps1`` in the
cloudwatch_agent_windows role); every decision -- inheritance from ``siteDefaults``, environment
variable expansion, which sites write text logs, group and stream names -- is made here on the
controller, so it is unit-testable without Windows and identical for ``tasks/plan.yml`` and the
real fragment. Shared naming and schema rules come from ``module_utils/cwagent.py``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.filter.cwagent import convention_filter
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent

VAR_PREFIX = "cloudwatch_agent_windows_"
# IIS schema default for site and central log directories (applicationHost.config omits defaults).
IIS_DEFAULT_LOG_DIRECTORY = r"%SystemDrive%\inetpub\logs\LogFiles"
# Without IIS (or with an unreadable configuration): the IIS default layout on the host's system
# drive, expanded with the host's %SystemDrive% (discover_iis.ps1 always reports it).
IIS_FALLBACK_PATH = r"%SystemDrive%\inetpub\logs\LogFiles\W3SVC*\*.log"
# logInUTF8="false": IIS writes the system ANSI code page. Windows ANSI code pages -> the IANA names
# the agent's file input accepts (golang.org/x/text ianaindex, plugins/inputs/logfile/fileconfig.go).
ANSI_CODE_PAGES = {
    "874": "windows-874",
    "932": "shift_jis",
    "936": "gbk",
    "949": "euc-kr",
    "950": "big5",
    "1250": "windows-1250",
    "1251": "windows-1251",
    "1252": "windows-1252",
    "1253": "windows-1253",
    "1254": "windows-1254",
    "1255": "windows-1255",
    "1256": "windows-1256",
    "1257": "windows-1257",
    "1258": "windows-1258",
}
BOOLEAN_SETTINGS = ("iis_logs", "iis_stream_per_site", "iis_skip_comment_lines")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
# IIS writes W3C date and time fields in UTC, whatever the server's time zone.
W3C_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
# Formats that produce text files; "Custom" hands records to a logging module (e.g. ODBC).
TEXT_LOG_FORMATS = ("W3C", "IIS", "NCSA")
EVENT_FORMATS = ("xml", "text")
STANDARD_EVENT_LOGS: tuple[tuple[str, str, str], ...] = (
    ("Security", "windows/security", "security_event_levels"),
    ("System", "windows/system", "system_event_levels"),
    ("Application", "windows/application", "application_event_levels"),
)
IIS_SOURCE = "iis/access"

SETTINGS_DEFAULTS: dict[str, Any] = {
    "log_group_prefix": "/gdpr/prod",
    "retention_days": 365,
    "log_group_class": "STANDARD",
    "log_stream_name": "{instance_id}",
    "iis_logs": True,
    "iis_fallback_path": IIS_FALLBACK_PATH,
    "iis_stream_per_site": True,
    "iis_skip_comment_lines": True,
    "iis_encoding": "",
    "security_event_levels": ["CRITICAL", "ERROR", "WARNING", "INFORMATION"],
    "system_event_levels": ["CRITICAL", "ERROR", "WARNING"],
    "application_event_levels": ["CRITICAL", "ERROR", "WARNING"],
    "event_format": "xml",
    "extra_event_logs": [],
    "extra_files": [],
}
EXTRA_FILE_KEYS = frozenset(
    {
        "path",
        "source",
        "retention_days",
        "timestamp_format",
        "timezone",
        "multi_line_start_pattern",
        "encoding",
        "filters",
        "log_stream_name",
    }
)
EXTRA_EVENT_KEYS = frozenset(
    {"name", "source", "levels", "event_ids", "filters", "event_format", "retention_days", "log_stream_name"}
)
TIMEZONES = ("Local", "UTC")

_ENV_RE = re.compile(r"%([^%]+)%")
_SITE_ID_RE = re.compile(r"^[0-9]+$")


def _var(key: str) -> str:
    return f"{VAR_PREFIX}{key}"


def _flag(value: Any, default: bool) -> bool:
    """applicationHost.config holds booleans as the strings "true"/"false"."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def to_bool(value: Any, what: str) -> bool:
    """A role boolean as Ansible accepts it: ``-e x=false`` arrives as the string "false"."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise cwagent.ConventionError(f"{what}: {value!r} is not a boolean")


def expand_environment(path: str, environment: Mapping[str, Any], what: str) -> str:
    """Expand ``%NAME%`` with the host's values; names are case-insensitive as on Windows."""
    values = {str(k).lower(): str(v) for k, v in (environment or {}).items() if v is not None}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.lower() not in values:
            raise cwagent.ConventionError(f"{what}: {path!r} uses %{name}%, which is not set on the host")
        return values[name.lower()]

    return _ENV_RE.sub(replace, path)


def _join(directory: str, *parts: str) -> str:
    return "\\".join([directory.rstrip("\\/"), *parts])


def _log_file(discovered: Mapping[str, Any], defaults: Mapping[str, Any], key: str) -> Any:
    """A site's own logFile attribute wins over siteDefaults (IIS inheritance)."""
    value = discovered.get(key)
    return defaults.get(key) if value in (None, "") else value


def iis_log_sources(discovery: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Text log locations IIS writes to, from the raw configuration the host reported.

    Returns ``[{"site": name, "stream_suffix": "W3SVC<id>", "file_path": ..., "log_format": ...}]``
    sorted by site id; an empty list when IIS is absent or no site writes text log files.
    """
    if not discovery or not _flag(discovery.get("iis_installed"), False):
        return []
    environment = discovery.get("environment") or {}
    central = discovery.get("central_log") or {}
    mode = str(central.get("mode") or "Site")
    if mode == "CentralBinary":
        return []
    if mode == "CentralW3C":
        if not _flag(central.get("enabled"), True):
            return []
        directory = expand_environment(
            str(central.get("directory") or IIS_DEFAULT_LOG_DIRECTORY), environment, "IIS centralW3CLogFile"
        )
        return [
            {
                "site": "central W3C log",
                "stream_suffix": "W3SVC",
                "file_path": _join(directory, "W3SVC", "*.log"),
                "log_format": "W3C",
            }
        ]
    defaults = discovery.get("site_defaults") or {}
    sources = []
    for site in discovery.get("sites") or []:
        source = _site_source(site, defaults, environment)
        if source:
            sources.append(source)
    return sorted(sources, key=lambda s: int(s["stream_suffix"][len("W3SVC") :]))


def _site_source(
    site: Mapping[str, Any], defaults: Mapping[str, Any], environment: Mapping[str, Any]
) -> dict[str, Any] | None:
    site_id = str(site.get("id", "")).strip()
    name = str(site.get("name") or f"site {site_id}")
    if not _SITE_ID_RE.match(site_id):
        raise cwagent.ConventionError(f"IIS site {name!r}: id {site_id!r} is not a number")
    raw = site.get("protocols") or []
    # discover_iis.ps1 sends "http,https"; a list is accepted too
    protocols = {str(p).strip().lower() for p in (raw.split(",") if isinstance(raw, str) else raw)} - {""}
    if protocols and not protocols & {"http", "https"}:
        return None  # e.g. an FTP-only site: it logs to FTPSVC<id>, not W3SVC<id>
    log_file = site.get("log_file") or {}
    if not _flag(_log_file(log_file, defaults, "enabled"), True):
        return None
    log_format = str(_log_file(log_file, defaults, "logFormat") or "W3C")
    if log_format not in TEXT_LOG_FORMATS:
        return None
    targets = str(_log_file(log_file, defaults, "logTargetW3C") or "File")
    if log_format == "W3C" and "file" not in targets.lower():
        return None  # ETW only: nothing on disk
    directory = str(_log_file(log_file, defaults, "directory") or IIS_DEFAULT_LOG_DIRECTORY)
    directory = expand_environment(directory, environment, f"IIS site {name!r} logFile.directory")
    return {
        "site": name,
        "stream_suffix": f"W3SVC{site_id}",
        "file_path": _join(directory, f"W3SVC{site_id}", "*.log"),
        "log_format": log_format,
    }


def _settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    unknown = sorted(set(settings or {}) - set(SETTINGS_DEFAULTS))
    if unknown:
        raise cwagent.ConventionError(f"unknown settings: {', '.join(unknown)}")
    merged = {**SETTINGS_DEFAULTS, **{k: v for k, v in (settings or {}).items() if v is not None}}
    merged["retention_days"] = cwagent.validate_retention(merged["retention_days"], _var("retention_days"))
    for key in BOOLEAN_SETTINGS:
        merged[key] = to_bool(merged[key], _var(key))
    if merged["log_group_class"] not in cwagent.LOG_GROUP_CLASSES:
        raise cwagent.ConventionError(
            f"{_var('log_group_class')}: {merged['log_group_class']!r} not in {cwagent.LOG_GROUP_CLASSES}"
        )
    if merged["event_format"] not in EVENT_FORMATS:
        raise cwagent.ConventionError(
            f"{_var('event_format')}: {merged['event_format']!r} not in {EVENT_FORMATS}"
        )
    return merged


def _group(settings: Mapping[str, Any], source: str, what: str) -> str:
    try:
        return cwagent.log_group_name(str(settings["log_group_prefix"]), source)
    except cwagent.ConventionError as exc:
        raise cwagent.ConventionError(f"{what}: {exc}") from exc


def iis_encoding(discovery: Mapping[str, Any] | None, configured: Any) -> str | None:
    """The agent ``encoding`` for IIS log files: the setting, else what the host's IIS writes."""
    if configured:
        return str(configured)
    discovery = discovery or {}
    if _flag(discovery.get("log_in_utf8"), True):
        return None  # UTF-8, the agent's default
    code_page = str(discovery.get("ansi_code_page") or "").strip()
    if code_page not in ANSI_CODE_PAGES:
        raise cwagent.ConventionError(
            f"IIS writes its logs in the ANSI code page {code_page or '(unknown)'} "
            '(logInUTF8="false"), which this role cannot name for the agent: '
            f"set {_var('iis_encoding')} to its IANA name"
        )
    return ANSI_CODE_PAGES[code_page]


def _fallback_entry(
    discovery: Mapping[str, Any] | None, settings: Mapping[str, Any], group: str, common: dict[str, Any]
) -> dict[str, Any]:
    path = str(settings["iis_fallback_path"])
    environment = (discovery or {}).get("environment")
    if environment:
        path = expand_environment(path, environment, _var("iis_fallback_path"))
    entry = cwagent.file_entry(
        path,
        group,
        settings["retention_days"],
        settings["log_stream_name"],
        timestamp_format=W3C_TIMESTAMP_FORMAT,
        timezone="UTC",
        encoding=settings["iis_encoding"] or None,
        **common,
    )
    # A glob alone makes the agent follow only the newest matching file (plugins/inputs/logfile,
    # logfile.go): every site but the busiest would be lost. publish_multi_logs follows each file, in
    # a stream "<stream>_<file path>" per file. Set here, after the shared schema check, because only
    # this entry needs it (the agent's schema accepts it in files.collect_list).
    entry["publish_multi_logs"] = True
    return entry


def _iis_entries(discovery: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    group = _group(settings, IIS_SOURCE, _var("log_group_prefix"))
    stream = settings["log_stream_name"]
    common = {"log_group_class": settings["log_group_class"]}
    if settings["iis_skip_comment_lines"]:
        # W3C files start with #Software/#Fields header lines that carry no request.
        common["filters"] = [{"type": "exclude", "expression": "^#"}]
    installed = bool(discovery) and _flag((discovery or {}).get("iis_installed"), False)
    if not installed or (discovery or {}).get("config_error"):
        return [_fallback_entry(discovery, settings, group, common)]
    encoding = iis_encoding(discovery, settings["iis_encoding"])
    entries = []
    for source in iis_log_sources(discovery):
        w3c = source["log_format"] == "W3C"
        entries.append(
            cwagent.file_entry(
                source["file_path"],
                group,
                settings["retention_days"],
                f"{stream}/{source['stream_suffix']}" if settings["iis_stream_per_site"] else stream,
                timestamp_format=W3C_TIMESTAMP_FORMAT if w3c else None,
                timezone="UTC" if w3c else None,
                encoding=encoding,
                **common,
            )
        )
    return entries


def _extra_file_entry(index: int, extra: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    what = f"{_var('extra_files')}[{index}]"
    if not isinstance(extra, Mapping):
        raise cwagent.ConventionError(f"{what}: expected a mapping with path and source")
    unknown = sorted(set(extra) - EXTRA_FILE_KEYS)
    if unknown:
        raise cwagent.ConventionError(f"{what}: unknown keys {', '.join(unknown)}")
    if not extra.get("path") or not extra.get("source"):
        raise cwagent.ConventionError(f"{what}: path and source are required")
    timezone = extra.get("timezone")
    if timezone is not None and timezone not in TIMEZONES:
        raise cwagent.ConventionError(f"{what}.timezone: {timezone!r} not in {TIMEZONES}")
    retention = extra.get("retention_days")
    return cwagent.file_entry(
        str(extra["path"]),
        _group(settings, str(extra["source"]), f"{what}.source"),
        settings["retention_days"] if retention is None else cwagent.validate_retention(retention, what),
        extra.get("log_stream_name") or settings["log_stream_name"],
        log_group_class=settings["log_group_class"],
        timestamp_format=extra.get("timestamp_format"),
        timezone=timezone,
        multi_line_start_pattern=extra.get("multi_line_start_pattern"),
        encoding=extra.get("encoding"),
        filters=list(extra.get("filters") or []),
    )


def _event_ids(value: Any, what: str) -> list[int]:
    ids = []
    for item in value or []:
        try:
            number = int(item)
        except (TypeError, ValueError) as exc:
            raise cwagent.ConventionError(f"{what}.event_ids: {item!r} is not a number") from exc
        if not 0 <= number <= 65535:
            raise cwagent.ConventionError(f"{what}.event_ids: {number} is outside 0-65535")
        if number not in ids:
            ids.append(number)
    return ids


def _event_entries(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for name, source, key in STANDARD_EVENT_LOGS:
        levels = list(settings[key] or [])
        if not levels:
            continue  # an empty list switches that log off
        entries.append(
            _checked_event(
                _var(key),
                name,
                _group(settings, source, _var("log_group_prefix")),
                settings["retention_days"],
                levels,
                settings["log_stream_name"],
                event_format=settings["event_format"],
                log_group_class=settings["log_group_class"],
            )
        )
    for index, extra in enumerate(settings["extra_event_logs"] or []):
        entries.append(_extra_event_entry(index, extra, settings))
    return entries


def _extra_event_entry(index: int, extra: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    what = f"{_var('extra_event_logs')}[{index}]"
    if not isinstance(extra, Mapping):
        raise cwagent.ConventionError(f"{what}: expected a mapping with name and source")
    unknown = sorted(set(extra) - EXTRA_EVENT_KEYS)
    if unknown:
        raise cwagent.ConventionError(f"{what}: unknown keys {', '.join(unknown)}")
    if not extra.get("name") or not extra.get("source"):
        raise cwagent.ConventionError(f"{what}: name and source are required")
    event_format = extra.get("event_format") or settings["event_format"]
    if event_format not in EVENT_FORMATS:
        raise cwagent.ConventionError(f"{what}.event_format: {event_format!r} not in {EVENT_FORMATS}")
    retention = extra.get("retention_days")
    return _checked_event(
        what,
        str(extra["name"]),
        _group(settings, str(extra["source"]), f"{what}.source"),
        settings["retention_days"] if retention is None else cwagent.validate_retention(retention, what),
        list(extra.get("levels") or []),
        extra.get("log_stream_name") or settings["log_stream_name"],
        event_ids=_event_ids(extra.get("event_ids"), what),
        filters=list(extra.get("filters") or []),
        event_format=event_format,
        log_group_class=settings["log_group_class"],
    )


def _checked_event(
    what: str,
    name: str,
    group: str,
    retention: int,
    levels: list[Any],
    stream: str,
    **options: Any,
) -> dict[str, Any]:
    try:
        return cwagent.event_entry(name, group, retention, levels, stream, **options)
    except cwagent.ConventionError as exc:
        raise cwagent.ConventionError(f"{what}: {exc}") from exc


def _no_duplicates(entries: list[dict[str, Any]], what: str) -> None:
    """The agent's schema wants unique collect_list items; a repeated one fails its translation."""
    seen = []
    for entry in entries:
        if entry in seen:
            name = entry.get("file_path") or entry.get("event_name")
            raise cwagent.ConventionError(f"the {what} {name!r} is configured twice with the same settings")
        seen.append(entry)


def _planned_entries(
    discovery: Mapping[str, Any] | None, settings: Mapping[str, Any] | None
) -> tuple[list[cwagent.PlannedEntry], list[cwagent.PlannedEntry]]:
    """File and event entries for one host, each with its group's planned retention."""
    merged = _settings(settings)
    files = _iis_entries(discovery, merged) if merged["iis_logs"] else []
    files += [_extra_file_entry(i, extra, merged) for i, extra in enumerate(merged["extra_files"] or [])]
    events = _event_entries(merged)
    _no_duplicates(files, "file")
    _no_duplicates(events, "event log")
    # One retention and class per group, checked on the controller before anything is touched.
    cwagent.log_groups_from_entries([*files, *events])
    return files, events


def windows_fragment(
    discovery: Mapping[str, Any] | None, settings: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The agent fragment for one Windows host (``discovery`` None/{} means "IIS not found").

    No retention in it: the agent would force it on the groups at every start, shortening longer ones.
    """
    files, events = _planned_entries(discovery, settings)
    return cwagent.fragment(files=files, events=events)


def windows_log_groups(
    discovery: Mapping[str, Any] | None, settings: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The role's plan: the log groups the fragment writes to, with planned retention and class."""
    files, events = _planned_entries(discovery, settings)
    return cwagent.log_groups_from_entries([*files, *events])


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "cwagent_windows_fragment": convention_filter(windows_fragment),
            "cwagent_windows_log_groups": convention_filter(windows_log_groups),
            "cwagent_windows_iis_sources": convention_filter(iis_log_sources),
        }
