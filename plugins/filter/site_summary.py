# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fold what each role reported into one per-region, per-host account of a site run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _regions_from_guardduty(guardduty: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    regions: dict[str, dict[str, Any]] = {}
    for det in (guardduty or {}).get("detectors") or []:
        regions.setdefault(det["region"], {})["guardduty"] = {
            "detector_id": det.get("detector_id"),
            "status": det.get("status"),
            "features": {f.get("name"): f.get("status") for f in det.get("features") or []},
            "changed": det.get("changed", False),
        }
    for skipped in (guardduty or {}).get("skipped_regions") or []:
        name = skipped.get("region") if isinstance(skipped, Mapping) else skipped
        regions.setdefault(name, {})["guardduty"] = {"skipped": skipped}
    return regions


def _add_log_groups(regions: dict[str, dict[str, Any]], log_groups: Mapping[str, Any] | None) -> None:
    for region, groups in (log_groups or {}).items():
        regions.setdefault(region, {})["log_groups"] = [
            {
                "name": g.get("name"),
                "retention_in_days": g.get("retention_in_days"),
                "encrypted": bool(g.get("kms_key_id")),
                "data_protection": g.get("data_protection", False),
                "actions": g.get("actions", []),
            }
            for g in groups
        ]


def _hosts(
    hostvars: Mapping[str, Any], hosts: list[str], attachments: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    by_instance = {i.get("instance_id"): i for i in (attachments or {}).get("instances") or []}
    report: dict[str, dict[str, Any]] = {}
    for host in hosts:
        hv = hostvars.get(host) or {}
        instance_id = hv.get("instance_id", host)
        attachment = by_instance.get(instance_id) or {}
        agent = hv.get("cloudwatch_agent_linux_status") or hv.get("cloudwatch_agent_windows_status") or {}
        report[host] = {
            "instance_id": instance_id,
            "region": (hv.get("placement") or {}).get("region"),
            "instance_profile": attachment.get("after"),
            "iam_action": attachment.get("action", "not run"),
            "agent": agent.get("status", "not run"),
            "agent_config": agent.get("configstatus"),
            "log_groups": agent.get("log_groups", []),
        }
    return report


def site_summary(
    hostvars: Mapping[str, Any],
    hosts: list[str],
    guardduty: Mapping[str, Any] | None = None,
    log_groups: Mapping[str, Any] | None = None,
    attachments: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{'regions': {region: {guardduty, log_groups}}, 'hosts': {host: {...}}}`` sorted by name."""
    regions = _regions_from_guardduty(guardduty)
    _add_log_groups(regions, log_groups)
    return {
        "regions": dict(sorted(regions.items())),
        "hosts": dict(sorted(_hosts(hostvars, hosts, attachments).items())),
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"site_summary": site_summary}
