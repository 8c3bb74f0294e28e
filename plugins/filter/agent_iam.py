# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the agent_iam role: which instances the play's hosts are, whose role a name is, what changes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.hosts import host_region


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
        region = host_region(hv, default_region)
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


def _is_managed(resource: Mapping[str, Any], tag: Mapping[str, str]) -> bool:
    tags = resource.get("tags") or {}
    return all(tags.get(key) == value for key, value in tag.items())


def foreign(
    roles: list[Mapping[str, Any]], profiles: list[Mapping[str, Any]], tag: Mapping[str, str]
) -> list[str]:
    """What of an existing role / instance profile (iam_role_info / iam_instance_profile_info lists)
    lacks the collection's ``tag``: ``["role", "instance profile"]``, either or none."""
    kinds = (("role", roles), ("instance profile", profiles))
    return [kind for kind, found in kinds if found and not _is_managed(found[0], tag)]


def _canonical(document: Any) -> Any:
    """A policy document with one-element lists unwrapped and keys sorted: IAM returns
    ``"Service": "ec2.amazonaws.com"`` for what was sent as ``["ec2.amazonaws.com"]``."""
    if isinstance(document, str):
        try:
            return _canonical(json.loads(document))
        except ValueError:
            return document
    if isinstance(document, Mapping):
        return {key: _canonical(document[key]) for key in sorted(document)}
    if isinstance(document, list):
        items = [_canonical(item) for item in document]
        return items[0] if len(items) == 1 else items
    return document


def role_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """``{field: {"before": ..., "after": ...}}`` for what amazon.aws.iam_role will change on the role
    ``current`` (an iam_role_info entry, ``{}`` when it does not exist yet) to reach ``wanted``
    (path, description, assume_role_policy_document, managed_policies, purge_policies, tags, purge_tags)."""
    if not current:
        return {
            "role": {"before": None, "after": "created"},
            **{
                key: {"before": None, "after": wanted[key]}
                for key in ("path", "description", "assume_role_policy_document", "managed_policies", "tags")
            },
        }
    changes: dict[str, Any] = {}
    for key in ("path", "description"):
        if (current.get(key) or "") != (wanted.get(key) or ""):
            changes[key] = {"before": current.get(key), "after": wanted.get(key)}
    trust_before = _canonical(current.get("assume_role_policy_document") or {})
    if trust_before != _canonical(wanted["assume_role_policy_document"]):
        changes["assume_role_policy_document"] = {
            "before": current.get("assume_role_policy_document"),
            "after": wanted["assume_role_policy_document"],
        }
    attached = sorted(p.get("policy_arn") for p in current.get("managed_policies") or [])
    after = sorted(
        set(wanted["managed_policies"]) | (set() if wanted.get("purge_policies") else set(attached))
    )
    if after != attached:
        changes["managed_policies"] = {"before": attached, "after": after}
    tags_before = dict(current.get("tags") or {})
    tags_after = {**({} if wanted.get("purge_tags") else tags_before), **wanted.get("tags", {})}
    if tags_after != tags_before:
        changes["tags"] = {"before": tags_before, "after": tags_after}
    return changes


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "agent_iam_play_targets": play_targets,
            "agent_iam_foreign": foreign,
            "agent_iam_role_changes": role_changes,
        }
