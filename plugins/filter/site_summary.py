# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fold what each role reported into one per-region, per-host account of a site run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _guardduty_line(det: Mapping[str, Any]) -> str:
    enabled = sorted(f.get("name") for f in det.get("features") or [] if f.get("status") == "ENABLED")
    actions = ", ".join(det.get("actions") or []) or "unchanged"
    features = ", ".join(enabled) or "none"
    return f"{det.get('status')} detector {det.get('detector_id')}; features: {features} ({actions})"


def _log_group_line(group: Mapping[str, Any]) -> str:
    retention = group.get("retention_in_days")
    parts = [
        group.get("name", "?"),
        f"{retention} days" if retention else "never expires",
        "KMS-encrypted" if group.get("kms_key_id") else "not encrypted",
        "masked" if group.get("data_protection") else "not masked",
    ]
    return f"{' | '.join(parts)} ({', '.join(group.get('actions') or []) or 'unchanged'})"


def _regions(guardduty: Mapping[str, Any] | None, log_groups: Mapping[str, Any] | None) -> dict[str, Any]:
    regions: dict[str, dict[str, Any]] = {}
    for det in (guardduty or {}).get("detectors") or []:
        regions.setdefault(det["region"], {})["guardduty"] = _guardduty_line(det)
    for skipped in (guardduty or {}).get("skipped_regions") or []:
        regions.setdefault(skipped["region"], {})["guardduty"] = (
            f"skipped, not opted in: {skipped.get('reason')}"
        )
    for region, groups in (log_groups or {}).items():
        regions.setdefault(region, {})["log_groups"] = [_log_group_line(g) for g in groups]
    return dict(sorted(regions.items()))


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


def _host_line(hv: Mapping[str, Any], attachment: Mapping[str, Any]) -> dict[str, Any]:
    agent = hv.get("cloudwatch_agent_linux_status") or hv.get("cloudwatch_agent_windows_status") or {}
    profile = (attachment.get("after") or "none").rsplit("/", 1)[-1]
    return {
        "region": (hv.get("placement") or {}).get("region"),
        "instance_profile": f"{profile} ({attachment.get('action', 'not run')})",
        "agent": f"{agent.get('status', 'not run')}, config {agent.get('configstatus', 'unknown')}"
        if agent
        else "not run",
        "log_groups": agent.get("log_groups", []),
    }


def site_summary(
    hostvars: Mapping[str, Any],
    hosts: list[str],
    guardduty: Mapping[str, Any] | None = None,
    log_groups: Mapping[str, Any] | None = None,
    attachments: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One line per region's detector and log group, one entry per host, sorted by name, and per
    controller role how many regions were done, refused and failed."""
    by_instance = {i.get("instance_id"): i for i in (attachments or {}).get("instances") or []}
    hosts_report = {}
    for host in sorted(hosts):
        hv = hostvars.get(host) or {}
        hosts_report[host] = _host_line(hv, by_instance.get(hv.get("instance_id", host)) or {})
    summary: dict[str, Any] = {
        "region_counts": _region_counts(guardduty, log_groups, attachments),
        "regions": _regions(guardduty, log_groups),
        "hosts": hosts_report,
    }
    # What the roles did not do although nothing failed (e.g. agent_iam: no instance matched):
    # a run that did less than asked says so where the user looks last.
    warnings = [f"agent_iam: {w}" for w in (attachments or {}).get("warnings") or []]
    if warnings:
        summary["warnings"] = warnings
    return summary


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"site_summary": site_summary}
