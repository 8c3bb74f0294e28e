# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the evidence_report role: its inputs from the inventory, and the report's renderings.

The checks and the renderings live in module_utils/evidence.py (one home); these are thin wrappers so
the role can render on the controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter.log_groups import log_groups_plan
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.hosts import host_region

STATUS_FACTS: tuple[str, ...] = ("cloudwatch_agent_linux_status", "cloudwatch_agent_windows_status")


def evidence_inputs(hostvars: Mapping[str, Any], hosts: list[str], default_region: str) -> dict[str, Any]:
    """The module's ``log_groups`` (the agent plans of ``hosts``, with the hosts each group is
    planned for) and ``instances`` (hosts with an ``instance_id``: region, groups, agent status)."""
    groups: dict[tuple[str, str], list[str]] = {}
    instances = []
    for host in sorted(set(hosts or [])):
        host_vars = hostvars[host]
        planned = log_groups_plan(hostvars, [host], default_region)
        for group in planned:
            groups.setdefault((group["region"], group["name"]), []).append(host)
        instance_id = host_vars.get("instance_id")
        if not instance_id:
            continue
        region = host_region(host_vars, default_region)
        status = next((host_vars[f] for f in STATUS_FACTS if host_vars.get(f)), None)
        # What the agent really writes to (its status fact), else what its role plans.
        names = (status or {}).get("log_groups") or [g["name"] for g in planned if g["region"] == region]
        item: dict[str, Any] = {
            "instance_id": instance_id,
            "region": region,
            "host": host,
            "log_groups": sorted(set(names)),
        }
        # Where there is no instance metadata (on-premise mode) the agent names streams by host name.
        facts = host_vars.get("ansible_facts") or {}
        item["stream_names"] = sorted(
            {n for n in (facts.get("hostname"), host_vars.get("ansible_hostname")) if n}
        )
        if status:
            item["agent_status"] = dict(status)
        instances.append(item)
    return {
        "log_groups": [
            {"name": name, "region": region, "hosts": owners}
            for (region, name), owners in sorted(groups.items())
        ],
        "instances": instances,
    }


def evidence_unknown_checks(ids: list[str]) -> list[str]:
    return ev.unknown_check_ids(ids or [])


def _report(result: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if "rows" not in result or "header" not in result:
        raise AnsibleFilterError("evidence report: give the registered result of gdpr_evidence_info")
    return dict(result["header"]), list(result["rows"])


def evidence_json(result: Mapping[str, Any]) -> str:
    return ev.render_json(*_report(result))


def evidence_csv(result: Mapping[str, Any]) -> str:
    return ev.render_csv(*_report(result))


def evidence_html(result: Mapping[str, Any]) -> str:
    return ev.render_html(*_report(result))


def evidence_failing(result: Mapping[str, Any], statuses: list[str]) -> list[dict[str, Any]]:
    """Rows whose status is in ``statuses`` (evidence_report_fail_on)."""
    wanted = {str(s).upper() for s in statuses or []}
    return [r for r in _report(result)[1] if r["status"] in wanted]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "evidence_inputs": evidence_inputs,
            "evidence_unknown_checks": evidence_unknown_checks,
            "evidence_json": evidence_json,
            "evidence_csv": evidence_csv,
            "evidence_html": evidence_html,
            "evidence_failing": evidence_failing,
        }
