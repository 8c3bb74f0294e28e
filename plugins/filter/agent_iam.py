# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the agent_iam role: which instances the play's hosts are."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def play_targets(
    hosts: list[str], hostvars: Mapping, default_region: str | None = None
) -> list[dict[str, str]]:
    """``[{instance_id, region}]`` of the hosts, from the aws_ec2 inventory's hostvars.

    A host without ``instance_id`` (or without a region) fails the run naming every such host:
    attaching to "all hosts but a few" silently would leave instances without the agent's rights.
    """
    targets: list[dict[str, str]] = []
    no_id: list[str] = []
    no_region: list[str] = []
    for host in hosts:
        hv = hostvars[host]
        instance_id = str(hv.get("instance_id") or "").strip()
        placement = hv.get("placement") or {}
        region = (placement.get("region") if isinstance(placement, Mapping) else None) or default_region
        if not instance_id:
            no_id.append(host)
        elif not region:
            no_region.append(host)
        else:
            targets.append({"instance_id": instance_id, "region": str(region)})
    problems = []
    if no_id:
        problems.append(f"hosts without an instance_id hostvar: {', '.join(no_id)}")
    if no_region:
        problems.append(
            f"hosts without placement.region (and agent_iam_region unset): {', '.join(no_region)}"
        )
    if problems:
        raise AnsibleFilterError(
            "agent_iam: the play's hosts must be EC2 instances from the amazon.aws.aws_ec2 inventory; "
            + "; ".join(problems)
            + ". Choose the targets with agent_iam_instances or agent_iam_instance_filters instead."
        )
    return targets


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"agent_iam_play_targets": play_targets}
