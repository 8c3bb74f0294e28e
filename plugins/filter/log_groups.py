# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the log_groups role: the group list derived from the agent roles' plans, and its summary.

No DOCUMENTATION string on purpose: a filter file holding several filters must not have one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.hosts import host_region

# The contract with the agent roles (docs/architecture.md): their `tasks_from: plan` sets these facts
# on each host, a list of {name, retention_in_days, log_group_class[, region]}; a group's own region
# (the agent's configured region) wins over the host's.
AGENT_PLAN_FACTS: tuple[str, ...] = (
    "cloudwatch_agent_linux_log_groups",
    "cloudwatch_agent_windows_log_groups",
)


def _group(item: Mapping[str, Any], region: str, default_retention: Any, what: str) -> dict[str, Any]:
    name = cwagent.validate_log_group_name(item.get("name"), f"{what}: name")
    retention = item.get("retention_in_days")
    retention = default_retention if retention in (None, "") else retention
    group_class = item.get("log_group_class") or "STANDARD"
    if group_class not in cwagent.LOG_GROUP_CLASSES:
        raise cwagent.ConventionError(
            f"{what}: log_group_class {group_class!r} not in {cwagent.LOG_GROUP_CLASSES}"
        )
    return {
        "name": name,
        "region": region,
        "retention_in_days": cwagent.validate_retention(retention, f"{what}: retention_in_days"),
        "log_group_class": group_class,
        "tags": dict(item.get("tags") or {}),
    }


def log_groups_plan(
    hostvars: Mapping[str, Any],
    hosts: list[str],
    default_region: str,
    extra: list[dict[str, Any]] | None = None,
    default_retention: Any = 365,
    tags: dict[str, Any] | None = None,
    kms_keys: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every log group to create: the agents' plans of ``hosts`` (by each host's region) plus ``extra``.

    The same name asked with different retention or class in one region is an error (the agent would
    fail on it too). Returned sorted by region and name, with common ``tags`` and the region's key.
    """
    try:
        by_region: dict[str, dict[str, dict[str, Any]]] = {}
        # Extras first: where an extra repeats an agent group it brings its tags along.
        for index, item in enumerate(extra or []):
            region = item.get("region") or default_region
            cwagent.merge_group(
                by_region.setdefault(region, {}),
                _group(item, region, default_retention, f"log_groups_extra[{index}]"),
            )
        for host in hosts or []:
            host_vars = hostvars[host]
            region = host_region(host_vars, default_region)
            for fact in AGENT_PLAN_FACTS:
                for item in host_vars.get(fact) or []:
                    group = _group(item, item.get("region") or region, default_retention, f"{fact} of {host}")
                    group["tags"] = {}
                    wanted = by_region.setdefault(group["region"], {})
                    have = wanted.get(group["name"])
                    if have is not None:
                        group["tags"] = have["tags"]
                    cwagent.merge_group(wanted, group)
    except cwagent.ConventionError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    result = []
    for region in sorted(by_region):
        for name in sorted(by_region[region]):
            group = dict(by_region[region][name])
            group["tags"] = {**{str(k): str(v) for k, v in (tags or {}).items()}, **group["tags"]}
            key = (kms_keys or {}).get(region)
            if key:
                group["kms_key_id"] = key
            result.append(group)
    return result


def log_groups_pending(
    groups: list[dict[str, Any]], applied: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """The ``groups`` that ``applied`` (a ``log_groups_result`` of this run) does not already show
    with the same retention and class: what ``tasks_from: ensure`` still has to apply."""
    done = {
        (region, g.get("name")): (g.get("retention_in_days"), g.get("log_group_class") or "STANDARD")
        for region, region_groups in (applied or {}).items()
        for g in region_groups or []
    }
    return [
        g
        for g in groups
        if done.get((g["region"], g["name"])) != (g["retention_in_days"], g["log_group_class"])
    ]


def log_groups_regions(groups: list[dict[str, Any]]) -> list[str]:
    return sorted({g["region"] for g in groups})


def log_groups_refs(groups: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Only name and region of each group (what log_group_data_protection takes)."""
    return [{"name": g["name"], "region": g["region"]} for g in groups]


def log_groups_summary(
    groups_result: Mapping[str, Any], data_protection_result: Mapping[str, Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Per region: each group with retention, class, key and data protection, for the site summary."""
    policies = {}
    for item in (data_protection_result or {}).get("log_groups") or []:
        policies[(item["region"], item["name"])] = item.get("policy")
    summary: dict[str, list[dict[str, Any]]] = {}
    for group in groups_result.get("log_groups") or []:
        policy = policies.get((group["region"], group["name"]))
        identifiers = []
        if policy:
            identifiers = sorted(
                {i for s in policy.get("Statement", []) for i in s.get("DataIdentifier", [])}
            )
        summary.setdefault(group["region"], []).append(
            {
                "name": group["name"],
                "arn": group.get("arn"),
                "retention_in_days": group.get("retention_in_days"),
                "log_group_class": group.get("log_group_class"),
                "kms_key_id": group.get("kms_key_id"),
                "data_protection": bool(policy),
                "data_protection_identifiers": identifiers,
                "actions": group.get("actions", []),
                "warnings": group.get("warnings", []),
            }
        )
    return summary


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "log_groups_pending": log_groups_pending,
            "log_groups_plan": log_groups_plan,
            "log_groups_refs": log_groups_refs,
            "log_groups_regions": log_groups_regions,
            "log_groups_summary": log_groups_summary,
        }
