# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the flow_logs role.

No DOCUMENTATION string on purpose: a filter file holding several filters must not have one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def host_vpcs(hostvars: Mapping[str, Any], hosts: list[str]) -> dict[str, list[str]]:
    """``{region: [vpc ids]}`` of the monitored instances among ``hosts``, from the aws_ec2 inventory
    plugin's hostvars (``vpc_id``, ``placement.region``). Hosts without both (on-premises servers,
    localhost) have no VPC to log and are left out."""
    vpcs: dict[str, set[str]] = {}
    for host in hosts or []:
        host_vars = hostvars.get(host) or {}
        placement = host_vars.get("placement") or {}
        region = placement.get("region") if isinstance(placement, Mapping) else None
        vpc_id = host_vars.get("vpc_id")
        if region and vpc_id:
            vpcs.setdefault(str(region), set()).add(str(vpc_id))
    return {region: sorted(ids) for region, ids in sorted(vpcs.items())}


def flow_logs_groups(
    regions: list[str], name: str, retention: Any, tags: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The log_groups role's ``log_groups_extra`` entries: the flow log group in each region."""
    return [
        {"name": name, "region": region, "retention_in_days": retention, "tags": dict(tags or {})}
        for region in sorted(set(regions or []))
    ]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"flow_logs_host_vpcs": host_vpcs, "flow_logs_groups": flow_logs_groups}
