# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fold what each role reported into one per-region, per-host account of a site run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.hosts import host_region


def _enabled(det: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        sorted(str(f.get("name")) for f in det.get("features") or [] if f.get("status") == "ENABLED")
    )


def _table(rows: list[list[str]]) -> list[str]:
    """Rows as lines with aligned columns (a terminal reads a table faster than a nested dump)."""
    widths = [
        max(len(r[i]) for r in rows if i < len(r)) for i in range(max((len(r) for r in rows), default=0))
    ]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]


def _guardduty_lines(guardduty: Mapping[str, Any] | None) -> list[str]:
    """One line per region. The protection plans most regions share are said once, first; a region
    whose plans differ from those names its own."""
    detectors = list((guardduty or {}).get("detectors") or [])
    skipped = list((guardduty or {}).get("skipped_regions") or [])
    if not detectors and not skipped:
        return []
    common = Counter(_enabled(d) for d in detectors).most_common(1)[0][0] if detectors else ()
    rows = []
    for det in detectors:
        cells = [det["region"], str(det.get("status")), str(det.get("detector_id"))]
        cells.append(", ".join(det.get("actions") or []) or "unchanged")
        if _enabled(det) != common:
            cells.append("features: " + (", ".join(_enabled(det)) or "none"))
        rows.append(cells)
    rows += [[s["region"], "skipped", "-", f"not opted in: {s.get('reason')}"] for s in skipped]
    every = "every region" if all(_enabled(d) == common for d in detectors) else "most regions"
    header = [f"features in {every}: {', '.join(common) or 'none'}"] if detectors else []
    return header + _table(sorted(rows))


def _log_group_lines(log_groups: Mapping[str, Any] | None) -> list[str]:
    """One line per group: region, name, retention, KMS, masking, what the run did."""
    rows = []
    for region, groups in sorted((log_groups or {}).items()):
        for group in groups:
            retention = group.get("retention_in_days")
            rows.append(
                [
                    region,
                    str(group.get("name", "?")),
                    f"{retention} days" if retention else "never expires",
                    "KMS" if group.get("kms_key_id") else "no KMS",
                    "masked" if group.get("data_protection") else "not masked",
                    f"({', '.join(group.get('actions') or []) or 'unchanged'})",
                ]
            )
    return _table(rows)


def _counts_line(counts: Mapping[str, Any]) -> str:
    return (
        f"{counts.get('done', 0)} done, {counts.get('refused', 0)} refused (not opted in), "
        f"{counts.get('failed', 0)} failed"
    )


def _region_counts(
    guardduty: Mapping[str, Any] | None,
    log_groups: Mapping[str, Any] | None,
    attachments: Mapping[str, Any] | None,
) -> dict[str, str]:
    """How many regions each controller role did, skipped as refused, and failed (roles that ran)."""
    lines: dict[str, str] = {}
    if guardduty:
        counts = guardduty.get("region_counts") or {
            "done": len(guardduty.get("detectors") or []),
            "refused": len(guardduty.get("skipped_regions") or []),
        }
        lines["guardduty"] = _counts_line(counts)
    if log_groups:
        # The log_groups role fails on any region's error, so a result it left is every region done.
        lines["log_groups"] = _counts_line({"done": len(log_groups)})
    if attachments and attachments.get("region_counts"):
        lines["agent_iam"] = _counts_line(attachments["region_counts"])
    return lines


def _host_line(hv: Mapping[str, Any], attachment: Mapping[str, Any]) -> str:
    agent = hv.get("cloudwatch_agent_linux_status") or hv.get("cloudwatch_agent_windows_status") or {}
    profile = (attachment.get("after") or "none").rsplit("/", 1)[-1]
    state = (
        f"agent {agent.get('status', 'not run')}, config {agent.get('configstatus', 'unknown')}"
        if agent
        else "agent not run"
    )
    groups = len(agent.get("log_groups") or [])
    region = host_region(hv)
    action = attachment.get("action", "not run")
    return f"{region}; profile {profile} ({action}); {state}; {groups} log group{'' if groups == 1 else 's'}"


def _alerts_line(alerts: Mapping[str, Any]) -> str:
    """Where findings go (guardduty_response.alerts): the topic, its subscriptions, the rules' reach."""
    topic = alerts.get("topic") or {}
    subs = topic.get("subscriptions") or {}
    regions = len(alerts.get("regions") or [])
    return (
        f"severity >= {alerts.get('threshold', '?'):g} in {regions} region{'' if regions == 1 else 's'} -> "
        f"{topic.get('arn', '?')}: {subs.get('confirmed', 0)} confirmed, {subs.get('pending', 0)} pending "
        "subscription(s)"
    )


def _alerts_warnings(alerts: Mapping[str, Any] | None) -> list[str]:
    subs = ((alerts or {}).get("topic") or {}).get("subscriptions")
    if not alerts or subs is None or subs.get("confirmed", 0) > 0:
        return []
    return [
        "guardduty alerts: no confirmed subscription on the topic: findings alert nobody "
        "(set guardduty_alert_subscriptions; email owners must click AWS's confirmation link)"
    ]


def site_summary(
    hostvars: Mapping[str, Any],
    hosts: list[str],
    guardduty: Mapping[str, Any] | None = None,
    log_groups: Mapping[str, Any] | None = None,
    attachments: Mapping[str, Any] | None = None,
    alerts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Per controller role how many regions were done, refused and failed; then one line per region's
    detector, per log group and per host, sorted (a run over every region stays a screenful)."""
    by_instance = {i.get("instance_id"): i for i in (attachments or {}).get("instances") or []}
    hosts_report = {}
    for host in sorted(hosts):
        hv = hostvars.get(host) or {}
        hosts_report[host] = _host_line(hv, by_instance.get(hv.get("instance_id", host)) or {})
    summary: dict[str, Any] = {
        "region_counts": _region_counts(guardduty, log_groups, attachments),
        "guardduty": _guardduty_lines(guardduty),
        "log_groups": _log_group_lines(log_groups),
        "hosts": hosts_report,
    }
    if alerts:
        summary["guardduty_alerts"] = _alerts_line(alerts)
        summary["region_counts"]["guardduty_alerts"] = _counts_line(alerts.get("region_counts") or {})
    # What the roles did not do although nothing failed (e.g. agent_iam: no instance matched):
    # a run that did less than asked says so where the user looks last.
    warnings = [f"agent_iam: {w}" for w in (attachments or {}).get("warnings") or []]
    warnings += _alerts_warnings(alerts)
    if warnings:
        summary["warnings"] = warnings
    return summary


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"site_summary": site_summary}
