# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared CloudWatch agent conventions: one place for the Linux and Windows roles and log_groups.

The agent's JSON schema is strict (unknown keys fail translation) and CloudWatch accepts only some
retention values, so both are enforced here before anything reaches a host. The log group list that
the log_groups role creates is *derived from the entries the fragment is built from* with
``log_groups_from_entries``: one source of truth, nothing is kept in sync by hand.

Retention is planned per log group but never written into a fragment. The real agent calls
PutRetentionPolicy at every start whenever a group's retention *differs* from its entry's
``retention_in_days`` (longer or never-expiring included; pusher/target.go), so a fragment carrying
it would shorten a group kept longer on purpose and CloudWatch would delete the older events. Only
the log_groups role (module ``cloudwatch_log_groups``, which refuses to shorten) sets retention.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

# Values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
LOG_GROUP_CLASSES: tuple[str, ...] = ("STANDARD", "INFREQUENT_ACCESS")
EVENT_LEVELS: tuple[str, ...] = ("CRITICAL", "ERROR", "WARNING", "INFORMATION", "VERBOSE")
STREAM_PLACEHOLDERS: tuple[str, ...] = ("{instance_id}", "{hostname}", "{local_hostname}", "{ip_address}")

# Keys this collection writes in one entry (the agent fails translation on unknown keys). The agent
# also accepts ``retention_in_days``: left out on purpose, see the module docstring.
FILE_ENTRY_KEYS: frozenset[str] = frozenset(
    {
        "file_path",
        "log_group_name",
        "log_stream_name",
        "log_group_class",
        "timestamp_format",
        "timezone",
        "multi_line_start_pattern",
        "encoding",
        "filters",
    }
)
# logs_collected.journald.collect_list[] (agent 1.300070.0 and later; its schema.json,
# logsJournaldDefinition): log_group_name is required, no other keys than these (and retention).
JOURNALD_ENTRY_KEYS: frozenset[str] = frozenset(
    {"log_group_name", "log_stream_name", "log_group_class", "filters", "units", "priority", "matches"}
)
# journalctl's priorities, most severe first: "info" means info and everything more severe.
JOURNALD_PRIORITIES: tuple[str, ...] = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
# journalctl field names the agent's journald input accepts in a match (stanza: ^[_A-Z]+$).
_JOURNAL_FIELD_RE = re.compile(r"^[_A-Z]+$")
# The first agent release that reads the journal; older ones reject a config with a journald section.
JOURNALD_MIN_VERSION = "1.300070.0"
EVENT_ENTRY_KEYS: frozenset[str] = frozenset(
    {
        "event_name",
        "event_levels",
        "event_ids",
        "filters",
        "event_format",
        "log_group_name",
        "log_stream_name",
        "log_group_class",
    }
)

# CloudWatch Logs naming rule for log groups: 1-512 chars of [.-_/#A-Za-z0-9].
_LOG_GROUP_RE = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
_SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-/]*$")


class ConventionError(ValueError):
    """Input that would make the agent or CloudWatch reject the configuration."""


class PlannedEntry(dict):
    """One collect_list entry exactly as the agent gets it, plus its log group's planned retention.

    The retention is an attribute, not a key: it reaches the log group plan
    (``log_groups_from_entries``) and never the agent (JSON of the entry holds only the dict items).
    """

    def __init__(self, entry: dict[str, Any], retention_in_days: int) -> None:
        super().__init__(entry)
        self.retention_in_days = retention_in_days


def stored_name(path: str) -> str:
    """The file name the agent stores a ``-a append-config -c file:<path>`` fragment under (in
    ``amazon-cloudwatch-agent.d`` on Linux, ``Configs`` on Windows): ``file_`` and the base name,
    with ``/``, space and ``:`` made ``_`` (the agent's own rule, on both systems)."""
    base = str(path).rstrip("/").rsplit("/", 1)[-1]
    for char in ("/", " ", ":"):
        base = base.replace(char, "_")
    return f"file_{base}"


def validate_retention(days: Any, name: str = "retention_in_days") -> int:
    try:
        value = int(days)
    except (TypeError, ValueError) as exc:
        raise ConventionError(f"{name}: {days!r} is not a number of days") from exc
    if value not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise ConventionError(f"{name}: {value} is not a retention CloudWatch accepts ({allowed})")
    return value


def validate_log_group_name(name: str, what: str = "log_group_name") -> str:
    if not isinstance(name, str) or not _LOG_GROUP_RE.match(name):
        raise ConventionError(
            f"{what}: {name!r} is not a valid log group name (1-512 of A-Z a-z 0-9 . - _ / #)"
        )
    return name


def log_group_name(prefix: str, source: str) -> str:
    """The collection's naming convention: ``<prefix>/<source>``, e.g. ``/gdpr/prod/nginx/access``."""
    if not _SOURCE_RE.match(source or ""):
        raise ConventionError(f"log source {source!r}: use lower-case letters, digits, '_', '-', '/'")
    return validate_log_group_name(f"{prefix.rstrip('/')}/{source}", "log_group_prefix")


def _clean(entry: dict[str, Any], allowed: frozenset[str], what: str) -> dict[str, Any]:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ConventionError(f"{what}: keys the agent does not accept: {', '.join(unknown)}")
    return {k: v for k, v in entry.items() if v is not None and v != []}


def file_entry(
    file_path: str,
    group: str,
    retention_in_days: int,
    stream: str = "{instance_id}",
    **options: Any,
) -> dict[str, Any]:
    """One ``logs_collected.files.collect_list`` entry, checked against the agent's schema."""
    if not file_path or not isinstance(file_path, str):
        raise ConventionError(f"file_path: {file_path!r} is not a path")
    retention = validate_retention(retention_in_days)
    entry = {
        "file_path": file_path,
        "log_group_name": validate_log_group_name(group),
        "log_stream_name": stream,
        **options,
    }
    if entry.get("log_group_class") not in (None, *LOG_GROUP_CLASSES):
        raise ConventionError(f"log_group_class: {entry['log_group_class']!r} not in {LOG_GROUP_CLASSES}")
    return PlannedEntry(_clean(entry, FILE_ENTRY_KEYS, f"collect_list entry for {file_path}"), retention)


def event_entry(
    event_name: str,
    group: str,
    retention_in_days: int,
    event_levels: Iterable[str] | None = None,
    stream: str = "{instance_id}",
    **options: Any,
) -> dict[str, Any]:
    """One ``logs_collected.windows_events.collect_list`` entry, checked against the agent's schema."""
    levels = [str(lvl).upper() for lvl in (event_levels or [])]
    bad = sorted(set(levels) - set(EVENT_LEVELS))
    if bad:
        raise ConventionError(f"event_levels for {event_name}: {', '.join(bad)} not in {EVENT_LEVELS}")
    retention = validate_retention(retention_in_days)
    entry = {
        "event_name": event_name,
        "event_levels": levels or None,
        "log_group_name": validate_log_group_name(group),
        "log_stream_name": stream,
        **options,
    }
    if not (entry.get("event_levels") or entry.get("event_ids") or entry.get("filters")):
        raise ConventionError(f"{event_name}: give event_levels, event_ids or filters")
    return PlannedEntry(_clean(entry, EVENT_ENTRY_KEYS, f"windows_events entry for {event_name}"), retention)


def journald_entry(
    group: str,
    retention_in_days: int,
    stream: str = "{instance_id}",
    priority: str | None = None,
    units: Iterable[str] | None = None,
    matches: Iterable[dict[str, str]] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """One ``logs_collected.journald.collect_list`` entry, checked against the agent's schema.

    ``matches`` are alternatives (journalctl's ``+``); the fields of one match must all hold.
    Without ``priority`` the agent reads ``info`` and more severe only.
    """
    retention = validate_retention(retention_in_days)
    if priority is not None and str(priority) not in (*JOURNALD_PRIORITIES, *"01234567"):
        raise ConventionError(f"priority: {priority!r} not in {JOURNALD_PRIORITIES} or 0..7")
    match_list = [dict(m) for m in matches or []]
    for match in match_list:
        bad = sorted(
            k for k, v in match.items() if not _JOURNAL_FIELD_RE.match(str(k)) or not isinstance(v, str)
        )
        if not match or bad:
            raise ConventionError(f"matches: {match!r}: give journal FIELD (A-Z and _) -> string value")
    entry = {
        "log_group_name": validate_log_group_name(group),
        "log_stream_name": stream,
        "priority": None if priority is None else str(priority),
        "units": list(units or []),
        "matches": match_list,
        **options,
    }
    if entry.get("log_group_class") not in (None, *LOG_GROUP_CLASSES):
        raise ConventionError(f"log_group_class: {entry['log_group_class']!r} not in {LOG_GROUP_CLASSES}")
    return PlannedEntry(_clean(entry, JOURNALD_ENTRY_KEYS, f"journald entry for {group}"), retention)


def version_tuple(version: Any) -> tuple[int, ...] | None:
    """``1.300049.1b929-1`` -> (1, 300049, 1); None when it is not an agent version."""
    parts = re.findall(r"^(\d+)\.(\d+)\.(\d+)", str(version or "").strip())
    return tuple(int(p) for p in parts[0]) if parts else None


def supports_journald(version: Any) -> bool | None:
    """Whether an agent of ``version`` reads a journald section; None when the version is unknown."""
    have = version_tuple(version)
    return None if have is None else have >= version_tuple(JOURNALD_MIN_VERSION)


def _agent_entries(entries: Iterable[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Plain dicts for the agent; an entry carrying retention is a bug here, never sent to a host."""
    result = []
    for entry in entries:
        if "retention_in_days" in entry:
            raise ConventionError(
                f"{what} entry for {entry.get('log_group_name')}: carries retention_in_days"
            )
        result.append(dict(entry))
    return result


def fragment(
    files: Iterable[dict[str, Any]] = (),
    events: Iterable[dict[str, Any]] = (),
    endpoint_override: str | None = None,
    journald: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """An agent config fragment holding only a ``logs`` section (append-config merges it).

    The entries' planned retention stays out of it (see the module docstring); take it from
    ``log_groups_from_entries`` with the same entries.
    """
    collected: dict[str, Any] = {}
    files = _agent_entries(files, "files")
    events = _agent_entries(events, "windows_events")
    journal = _agent_entries(journald, "journald")
    if files:
        collected["files"] = {"collect_list": files}
    if journal:
        collected["journald"] = {"collect_list": journal}
    if events:
        collected["windows_events"] = {"collect_list": events}
    logs: dict[str, Any] = {"logs_collected": collected}
    if endpoint_override:
        logs["endpoint_override"] = endpoint_override
    return {"logs": logs}


def log_groups_from_entries(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log groups the entries write to, with planned retention and class; conflicts fail.

    Two entries giving one group different retentions or classes are refused here, on the
    controller, before any host or log group is touched.
    """
    groups: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name = entry.get("log_group_name")
        if not name:
            continue
        wanted = {
            "name": name,
            "retention_in_days": getattr(entry, "retention_in_days", None),
            "log_group_class": entry.get("log_group_class", "STANDARD"),
        }
        merge_group(groups, wanted)
    return sorted(groups.values(), key=lambda g: g["name"])


def log_groups_from_fragment(frag: dict[str, Any]) -> list[dict[str, Any]]:
    """Name and class of the log groups a rendered fragment writes to (it holds no retention)."""
    collected = (frag.get("logs") or {}).get("logs_collected") or {}
    entries = [
        *((collected.get("files") or {}).get("collect_list") or []),
        *((collected.get("windows_events") or {}).get("collect_list") or []),
        *((collected.get("journald") or {}).get("collect_list") or []),
    ]
    groups = log_groups_from_entries(entries)
    return [{"name": g["name"], "log_group_class": g["log_group_class"]} for g in groups]


def merge_group(groups: dict[str, dict[str, Any]], wanted: dict[str, Any]) -> None:
    """Add ``wanted`` to ``groups`` by name; the same name with other settings is an error."""
    have = groups.get(wanted["name"])
    if have is None:
        groups[wanted["name"]] = copy.deepcopy(wanted)
        return
    for key in ("retention_in_days", "log_group_class"):
        if have.get(key) != wanted.get(key):
            raise ConventionError(
                f"log group {wanted['name']}: two sources ask for different {key} "
                f"({have.get(key)} and {wanted.get(key)})"
            )
