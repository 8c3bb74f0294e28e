# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What instance_profile_attachment decides, without AWS: targets, per-instance plans, role policies.

The pure half of the module (as module_utils/guardduty.py is for guardduty_detector): input
checks, the decision for each instance (associate, replace, extend, skip), the policies each
existing role lacks, counts, diff and the result. The module keeps the AWS reads and writes and
hands what it read to these functions; the unit tests drive them with plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.arns import partition_from_arn
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import variable_name

ACTIONS = ("associated", "replaced", "extended", "skipped", "unchanged")
EXISTING_PROFILE_MODES = ("extend", "replace", "skip")
# Instances an association can be made for; a terminated one cannot have a profile any more.
ATTACHABLE_STATES = ("pending", "running", "stopping", "stopped")
IN_PROGRESS = ("associating", "disassociating")
# States in which the association still holds (or is about to): "disassociated" ones linger a while.
ACTIVE_ASSOCIATION_STATES = ("associating", "associated", "disassociating")


class PlanError(Exception):
    """Input or state that cannot be applied safely; nothing has been changed."""


@dataclass
class Profile:
    name: str
    arn: str
    roles: list[str] = field(default_factory=list)
    exists: bool = True


@dataclass
class InstancePlan:
    """What one target instance is and what the module does (or would do) to it."""

    instance_id: str
    region: str
    state: str
    association: dict[str, Any] | None
    operation: str  # none, associate, replace, reassociate, extend, skip
    action: str
    after: str | None
    roles: dict[str, list[str]] = field(default_factory=dict)
    message: str = ""

    @property
    def before(self) -> str | None:
        if self.association is None:
            return None
        return self.association["IamInstanceProfile"]["Arn"]

    def result(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "region": self.region,
            "state": self.state,
            "before": self.before,
            "after": self.after,
            "action": self.action,
            "roles": self.roles,
            "message": self.message,
        }


@dataclass
class RegionView:
    """One region as read: target instances (id -> state), their active associations, missing ids."""

    instances: dict[str, str]
    associations: dict[str, dict[str, Any]]
    missing: list[str]


def normalize_targets(instances: list[dict[str, Any]], default_region: str | None) -> dict[str, list[str]]:
    """Explicit targets by region, deduplicated; a missing id or region fails before any call."""
    by_region: dict[str, list[str]] = {}
    for index, item in enumerate(instances):
        instance_id = str(item.get("instance_id") or "").strip()
        if not instance_id:
            raise PlanError(f"instances[{index}] has no instance_id")
        region = item.get("region") or default_region
        if not region:
            raise PlanError(f"instances[{index}] ({instance_id}) has no region and no default region is set")
        ids = by_region.setdefault(region, [])
        if instance_id not in ids:
            ids.append(instance_id)
    return by_region


def ec2_filters(filters: dict[str, Any]) -> list[dict[str, Any]]:
    """DescribeInstances filters from a dict; only attachable states unless the user chose states."""
    result = []
    for name, values in filters.items():
        listed = values if isinstance(values, list) else [values]
        result.append({"Name": str(name), "Values": [str(v) for v in listed]})
    if "instance-state-name" not in filters:
        result.append({"Name": "instance-state-name", "Values": list(ATTACHABLE_STATES)})
    return result


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def profile_name_from_arn(arn: str) -> str:
    """arn:aws:iam::123456789012:instance-profile/some/path/Name -> Name."""
    return arn.rsplit("/", 1)[-1]


def predicted_profile_arn(caller_arn: str, account: str, path: str, name: str) -> str:
    path = path if path.endswith("/") else path + "/"
    path = path if path.startswith("/") else "/" + path
    return f"arn:{partition_from_arn(caller_arn)}:iam::{account}:instance-profile{path}{name}"


def index_associations(associations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The association that counts per instance: an active one wins over a lingering disassociated one."""
    found: dict[str, dict[str, Any]] = {}
    for association in associations:
        if association.get("State") not in ACTIVE_ASSOCIATION_STATES:
            continue
        found[association["InstanceId"]] = association
    return found


def in_progress(associations: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(i for i, a in associations.items() if a.get("State") in IN_PROGRESS)


def plan_instance(
    instance_id: str,
    region: str,
    state: str,
    association: dict[str, Any] | None,
    target: Profile,
    mode: str,
) -> InstancePlan:
    """Decide for one instance; extend plans are completed by ``settle_extend`` once roles are known."""

    def plan(operation: str, action: str, after: str | None, message: str = "") -> InstancePlan:
        return InstancePlan(
            instance_id, region, state, association, operation, action, after, message=message
        )

    if association is None:
        return plan("associate", "associated", target.arn)
    current_arn = association["IamInstanceProfile"]["Arn"]
    if profile_name_from_arn(current_arn) == target.name:
        return plan("none", "unchanged", current_arn)
    if mode == "replace":
        # ReplaceIamInstanceProfileAssociation is for running instances; a stopped one is re-associated.
        operation = "replace" if state == "running" else "reassociate"
        return plan(operation, "replaced", target.arn)
    if mode == "skip":
        return plan(
            "skip",
            "skipped",
            current_arn,
            f"has instance profile {current_arn}; left as it is (existing_profile=skip)",
        )
    return plan("extend", "extended", current_arn)


def plan_role_policies(attached: dict[str, list[str]], needed: list[str]) -> dict[str, list[str]]:
    """Policies each role lacks, in ``needed`` order; roles that lack nothing are left out."""
    missing: dict[str, list[str]] = {}
    for role, have in sorted(attached.items()):
        lacking = [arn for arn in needed if arn not in have]
        if lacking:
            missing[role] = lacking
    return missing


def settle_extend(
    plan: InstancePlan,
    roles_of_profile: dict[str, list[str]],
    missing_by_role: dict[str, list[str]],
) -> InstancePlan:
    """Turn an extend plan into extended / unchanged / skipped from its profile's roles."""
    if plan.operation != "extend" or plan.association is None:
        return plan
    profile = profile_name_from_arn(plan.association["IamInstanceProfile"]["Arn"])
    roles = roles_of_profile.get(profile, [])
    if not roles:
        plan.operation, plan.action = "skip", "skipped"
        plan.message = (
            f"instance profile {profile} has no role to extend; left as it is "
            "(add a role to it, or use existing_profile=replace)"
        )
        return plan
    plan.roles = {role: missing_by_role[role] for role in roles if role in missing_by_role}
    if not plan.roles:
        plan.operation, plan.action = "none", "unchanged"
    return plan


def count_actions(plans: list[InstancePlan]) -> dict[str, int]:
    counts = dict.fromkeys(ACTIONS, 0)
    for plan in plans:
        counts[plan.action] += 1
    return counts


def build_diff(
    plans: list[InstancePlan], missing_by_role: dict[str, list[str]], attached: dict[str, list[str]]
) -> dict:
    changed = [p for p in plans if p.operation not in ("none", "skip")]
    return {
        "before": {
            "instances": {f"{p.region}/{p.instance_id}": p.before for p in changed},
            "roles": {role: sorted(attached.get(role, [])) for role in missing_by_role},
        },
        "after": {
            "instances": {f"{p.region}/{p.instance_id}": p.after for p in changed},
            "roles": {
                role: sorted(set(attached.get(role, [])) | set(extra))
                for role, extra in missing_by_role.items()
            },
        },
    }


@dataclass
class Request:
    instance_profile: str
    instance_profile_path: str = "/"
    explicit: dict[str, list[str]] = field(default_factory=dict)
    filters: list[dict[str, Any]] | None = None
    filter_regions: list[str] = field(default_factory=list)
    existing_profile: str = "extend"
    policies: list[str] = field(default_factory=list)
    wait_timeout: float = 300

    @property
    def regions(self) -> list[str]:
        return sorted(set(self.explicit) | set(self.filter_regions))


def request_from_params(params: dict[str, Any], default_region: str | None) -> Request:
    explicit = normalize_targets(params["instances"], default_region)
    filters = None
    filter_regions: list[str] = []
    if params["filters"]:
        filters = ec2_filters(params["filters"])
        filter_regions = sorted(set(params["regions"] or ([default_region] if default_region else [])))
        if not filter_regions:
            raise PlanError("filters were given but no regions (and no default region) to apply them in")
    for arn in params["policies"]:
        if not str(arn).startswith("arn:"):
            raise PlanError(f"policies: {arn} is not a policy ARN")
    if not explicit and filters is None:
        raise PlanError("no targets: give instances, or filters (with regions)")
    return Request(
        instance_profile=params["instance_profile"],
        instance_profile_path=params["instance_profile_path"] or "/",
        explicit=explicit,
        filters=filters,
        filter_regions=filter_regions,
        existing_profile=params["existing_profile"],
        policies=list(params["policies"]),
        wait_timeout=params["wait_timeout"],
    )


def region_sources(
    params: dict[str, Any], default_region: str | None, names: dict[str, str] | None
) -> dict[str, list[str]]:
    """The regions the user gave, by the variable (or option) they came from, for check_regions."""
    sources: dict[str, list[str]] = {}

    def add(option: str, region: str | None) -> None:
        if region:
            sources.setdefault(variable_name(names, option), []).append(region)

    for item in params["instances"]:
        add("instances" if item.get("region") else "region", item.get("region") or default_region)
    if params["filters"]:
        for region in params["regions"] or [default_region]:
            add("regions" if params["regions"] else "region", region)
    return sources


def counts_of(regions: list[str], failed: set[str]) -> dict[str, int]:
    """region_counts: every region is one the user named, so none is ever refused."""
    failed = failed & set(regions)
    return {"done": len(regions) - len(failed), "refused": 0, "failed": len(failed)}


@dataclass
class Outcome:
    changed: bool
    profile: Profile
    plans: list[InstancePlan]
    missing_by_role: dict[str, list[str]]
    attached: dict[str, list[str]]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    region_counts: dict[str, int] = field(default_factory=dict)

    def result(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "instance_profile_arn": self.profile.arn,
            "instances": [p.result() for p in self.plans],
            "counts": count_actions(self.plans),
            "roles_extended": dict(self.missing_by_role),
            "region_counts": self.region_counts,
            "diff": build_diff(self.plans, self.missing_by_role, self.attached),
        }
