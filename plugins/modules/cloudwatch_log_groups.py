#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudwatch_log_groups
short_description: Create CloudWatch Logs groups with retention, class, tags and KMS key, across regions, without data loss
version_added: 0.1.0
description:
  - Takes the whole list of log groups, in any number of regions, in one call.
  - A planning pass reads every region first. If any existing group would have its retention
    shortened (which deletes older events), the module fails naming all such groups and changes
    nothing, unless O(allow_retention_decrease=true). A group without retention keeps its events
    forever, so giving it a retention is a decrease too.
  - New groups are created with retention, class, tags and KMS key. Existing groups get their
    retention raised, the KMS key associated (AssociateKmsKey) when they have none, and missing or
    different tags set. Tags the group already has are never removed.
  - The module never deletes a log group and never removes a KMS key association. An existing group
    encrypted with a different key keeps it and is reported, unless O(replace_kms_key=true).
  - The log group class cannot be changed after creation; a different class is reported.
  - The regions of O(log_groups) are checked against C(ec2:DescribeRegions) before anything is read
    or changed. An error in any region fails the module after every region ran, naming each region;
    a region that failed while changing groups counts as changed.
  - Use M(amazon.aws.cloudwatchlogs_log_group) for a single group where none of the above matters; it
    applies O(log_groups[].kms_key_id) only when creating (or by deleting and recreating the group)
    and does not accept all retention values CloudWatch accepts.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  log_groups:
    description: The log groups that should exist.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Log group name.
        type: str
        required: true
      region:
        description: Region of the group. Defaults to the module's O(region).
        type: str
      retention_in_days:
        description:
          - Days CloudWatch keeps the events. Omit to leave the retention of an existing group as it is
            and create new groups without expiry.
        type: int
        choices: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
      log_group_class:
        description: Class of a new group (cannot be changed later).
        type: str
        choices: [STANDARD, INFREQUENT_ACCESS]
        default: STANDARD
      tags:
        description: Tags to set. Other tags the group has are kept.
        type: dict
        default: {}
      kms_key_id:
        description:
          - ARN of the KMS key to encrypt the group with (C(arn:...:key/...)). Its key policy must allow
            C(logs.<region>.amazonaws.com) to use it.
        type: str
  allow_retention_decrease:
    description:
      - Allow shortening the retention of existing groups (including groups that never expire).
        CloudWatch then deletes the events older than the new retention.
    type: bool
    default: false
  replace_kms_key:
    description:
      - Associate O(log_groups[].kms_key_id) with a group already encrypted with a different key.
        Without it such groups keep their key and are reported in RV(log_groups[].warnings).
    type: bool
    default: false
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Web log groups in two regions, one call
  gdpr.aws_monitoring.cloudwatch_log_groups:
    log_groups:
      - name: /gdpr/prod/nginx/access
        region: eu-west-1
        retention_in_days: 365
        kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
        tags:
          DataClassification: personal
      - name: /gdpr/prod/iis/access
        region: eu-central-1
        retention_in_days: 2557
        log_group_class: INFREQUENT_ACCESS

- name: Shorten retention on purpose (deletes events older than 90 days)
  gdpr.aws_monitoring.cloudwatch_log_groups:
    allow_retention_decrease: true
    log_groups:
      - name: /gdpr/prod/nginx/access
        region: eu-west-1
        retention_in_days: 90
"""

RETURN = r"""
log_groups:
  description: Every requested group after the run (in check mode, as it would be).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Log group name.
      type: str
    region:
      description: Region of the group.
      type: str
    arn:
      description: ARN of the group (without the trailing C(:*)); empty for a group to be created in check mode.
      type: str
    retention_in_days:
      description: Retention in days; null means the events never expire.
      type: int
    log_group_class:
      description: Class of the group, when CloudWatch reports it.
      type: str
    kms_key_id:
      description: ARN of the KMS key the group is encrypted with, or null.
      type: str
    tags:
      description: Tags the module set or found for the requested keys.
      type: dict
    actions:
      description: What the module did (or would do) to the group, e.g. C(create), C(retention), C(kms_key), C(tags).
      type: list
      elements: str
    warnings:
      description: Differences the module left alone on purpose (other KMS key, other class).
      type: list
      elements: str
  sample:
    - name: /gdpr/prod/nginx/access
      region: eu-west-1
      arn: arn:aws:logs:eu-west-1:123456789012:log-group:/gdpr/prod/nginx/access
      retention_in_days: 365
      log_group_class: STANDARD
      kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
      tags: {}
      actions: [create]
      warnings: []
region_counts:
  description: How many regions were done, refused (always 0 here) and failed.
  returned: always
  type: dict
  sample: {"done": 2, "refused": 0, "failed": 0}
failed_regions:
  description: Regions where reading or changing the groups failed (the module then fails).
  returned: on failure
  type: list
  elements: str
  sample: ["eu-west-1"]
unknown_regions:
  description: Regions AWS does not know (the module then fails before any change).
  returned: on failure
  type: list
  elements: str
  sample: ["eu-wset-1"]
retention_decreases:
  description: Groups whose retention would be (or was, with O(allow_retention_decrease)) shortened.
  returned: always
  type: list
  elements: dict
  sample:
    - name: /gdpr/prod/legacy
      region: eu-west-1
      current: 3653
      wanted: 365
"""

import copy
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import is_not_implemented
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.cwagent import (
    LOG_GROUP_CLASSES,
    RETENTION_DAYS,
    ConventionError,
    validate_log_group_name,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    PartialWrite,
    checked_clients,
    error_code,
    region_counts,
    region_options,
    run_in_regions,
)

DESCRIBE_BATCH = 50  # DescribeLogGroups accepts at most 50 logGroupIdentifiers


class PlanError(Exception):
    """Input that cannot be applied safely; nothing has been changed."""


@dataclass
class GroupPlan:
    """What one requested group is and what the module will do to it."""

    wanted: dict[str, Any]
    current: dict[str, Any] | None
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tags_to_set: dict[str, str] = field(default_factory=dict)
    decrease: dict[str, Any] | None = None
    created: dict[str, Any] | None = None  # the new group as described after creation

    @property
    def key(self) -> str:
        return f"{self.wanted['region']}:{self.wanted['name']}"


def normalize_request(groups: list[dict[str, Any]], default_region: str | None) -> list[dict[str, Any]]:
    """Fill regions, check key ARNs and reject duplicates that disagree, before any API call."""
    seen: dict[str, dict[str, Any]] = {}
    for raw in groups:
        group = copy.deepcopy(raw)
        try:
            validate_log_group_name(group.get("name"), "log_groups[].name")
        except ConventionError as exc:
            raise PlanError(str(exc)) from exc
        group["region"] = group.get("region") or default_region
        if not group["region"]:
            raise PlanError(f"log group {group['name']}: no region given and no default region set")
        group["tags"] = {str(k): str(v) for k, v in (group.get("tags") or {}).items()}
        key_id = group.get("kms_key_id")
        if key_id and not (key_id.startswith("arn:") and ":key/" in key_id):
            raise PlanError(
                f"log group {group['name']}: kms_key_id must be a key ARN (arn:...:key/...), got {key_id}"
            )
        if group.get("log_group_class") not in (None, *LOG_GROUP_CLASSES):
            raise PlanError(
                f"log group {group['name']}: log_group_class {group['log_group_class']} is not valid"
            )
        if group.get("retention_in_days") not in (None, *RETENTION_DAYS):
            raise PlanError(
                f"log group {group['name']}: retention_in_days {group['retention_in_days']} is not valid"
            )
        key = f"{group['region']}:{group['name']}"
        if key in seen and seen[key] != group:
            raise PlanError(
                f"log group {group['name']} in {group['region']} is requested twice with different settings"
            )
        seen[key] = group
    return list(seen.values())


def plan_group(
    wanted: dict[str, Any],
    current: dict[str, Any] | None,
    current_tags: dict[str, str] | None,
    replace_kms_key: bool,
) -> GroupPlan:
    """Compare one requested group with what exists; pure, so it is unit-tested without AWS."""
    plan = GroupPlan(wanted=wanted, current=current)
    if current is None:
        plan.actions.append("create")
        return plan

    want_days = wanted.get("retention_in_days")
    have_days = current.get("retentionInDays")
    if want_days is not None and want_days != have_days:
        # No retention means "never expire": any retention then deletes old events.
        if have_days is None or want_days < have_days:
            plan.decrease = {
                "name": wanted["name"],
                "region": wanted["region"],
                "current": have_days,
                "wanted": want_days,
            }
        plan.actions.append("retention")

    want_key = wanted.get("kms_key_id")
    have_key = current.get("kmsKeyId")
    if want_key and want_key != have_key:
        if have_key is None or replace_kms_key:
            plan.actions.append("kms_key")
        else:
            plan.warnings.append(
                f"log group {wanted['name']} in {wanted['region']} is encrypted with {have_key}, not "
                f"{want_key}; left as it is (set replace_kms_key to change it)"
            )

    have_class = current.get("logGroupClass")
    want_class = wanted.get("log_group_class")
    if have_class and want_class and have_class != want_class:
        plan.warnings.append(
            f"log group {wanted['name']} in {wanted['region']} has class {have_class}, not {want_class}; "
            "the class of an existing group cannot be changed"
        )

    have_tags = current_tags or {}
    plan.tags_to_set = {k: v for k, v in wanted["tags"].items() if have_tags.get(k) != v}
    if plan.tags_to_set:
        plan.actions.append("tags")
    return plan


def describe_groups(client: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """Existing groups among ``names``, by name; one DescribeLogGroups per 50 names."""
    found: dict[str, dict[str, Any]] = {}
    wanted = set(names)
    ordered = sorted(wanted)
    for start in range(0, len(ordered), DESCRIBE_BATCH):
        params: dict[str, Any] = {"logGroupIdentifiers": ordered[start : start + DESCRIBE_BATCH]}
        while True:
            page = client.describe_log_groups(aws_retry=True, **params)
            for group in page.get("logGroups", []):
                # Endpoints that ignore logGroupIdentifiers answer with every group: filter here.
                if group.get("logGroupName") in wanted:
                    found[group["logGroupName"]] = group
            if not page.get("nextToken"):
                break
            params["nextToken"] = page["nextToken"]
    return found


def group_arn(described: dict[str, Any]) -> str:
    arn = described.get("logGroupArn") or described.get("arn", "")
    return arn[:-2] if arn.endswith(":*") else arn


def plan_region(client: Any, groups: list[dict[str, Any]], replace_kms_key: bool) -> list[GroupPlan]:
    existing = describe_groups(client, [g["name"] for g in groups])
    plans = []
    for wanted in groups:
        current = existing.get(wanted["name"])
        tags = None
        if current is not None and wanted["tags"]:
            tags = client.list_tags_for_resource(resourceArn=group_arn(current), aws_retry=True).get(
                "tags", {}
            )
        plans.append(plan_group(wanted, current, tags, replace_kms_key))
    return plans


def apply_plan(client: Any, plan: GroupPlan) -> None:
    wanted = plan.wanted
    name = wanted["name"]
    if "create" in plan.actions:
        params: dict[str, Any] = {
            "logGroupName": name,
            "logGroupClass": wanted.get("log_group_class") or "STANDARD",
        }
        if wanted.get("kms_key_id"):
            params["kmsKeyId"] = wanted["kms_key_id"]
        if wanted["tags"]:
            params["tags"] = wanted["tags"]
        try:
            client.create_log_group(aws_retry=True, **params)
        except Exception as exc:  # only AlreadyExists of our own lost answer is taken as created
            if not _created_by_a_lost_answer(client, name, exc):
                raise
        if wanted.get("retention_in_days") is not None:
            client.put_retention_policy(
                logGroupName=name, retentionInDays=wanted["retention_in_days"], aws_retry=True
            )
        return
    if "retention" in plan.actions:
        client.put_retention_policy(
            logGroupName=name, retentionInDays=wanted["retention_in_days"], aws_retry=True
        )
    if "kms_key" in plan.actions:
        client.associate_kms_key(logGroupName=name, kmsKeyId=wanted["kms_key_id"], aws_retry=True)
    if "tags" in plan.actions:
        client.tag_resource(resourceArn=group_arn(plan.current or {}), tags=plan.tags_to_set, aws_retry=True)


def _created_by_a_lost_answer(client: Any, name: str, exc: Exception) -> bool:
    """True when a create failed with AlreadyExists because an earlier attempt of this same call
    created the group and its answer was lost (the connection dropped, the retry went through).

    The plan saw no group moments ago; a group that now exists without retention is the one this
    call made (CloudWatch creates groups without retention), so the run goes on and gives it its
    retention. A group that exists *with* retention was made by someone else meanwhile: the error
    stands, and the never-shorten guard judges it on the next run.
    """
    if error_code(exc) != "ResourceAlreadyExistsException":
        return False
    found = client.describe_log_groups(logGroupNamePrefix=name, aws_retry=True).get("logGroups", [])
    group = next((g for g in found if g.get("logGroupName") == name), None)
    return group is not None and group.get("retentionInDays") is None


def after_state(plan: GroupPlan) -> dict[str, Any]:
    """The group as it is after the run (or would be, in check mode)."""
    wanted, current = plan.wanted, plan.current or {}
    state = {
        "name": wanted["name"],
        "region": wanted["region"],
        "arn": group_arn(plan.created or current),
        "retention_in_days": current.get("retentionInDays"),
        "log_group_class": current.get("logGroupClass"),
        "kms_key_id": current.get("kmsKeyId"),
        "tags": dict(wanted["tags"]),
        "actions": list(plan.actions),
        "warnings": list(plan.warnings),
    }
    if "create" in plan.actions:
        state["log_group_class"] = wanted.get("log_group_class") or "STANDARD"
    if "create" in plan.actions or "retention" in plan.actions:
        state["retention_in_days"] = wanted.get("retention_in_days")
    if "create" in plan.actions or "kms_key" in plan.actions:
        state["kms_key_id"] = wanted.get("kms_key_id")
    return state


def before_state(plan: GroupPlan) -> dict[str, Any] | None:
    if plan.current is None:
        return None
    return {
        "retention_in_days": plan.current.get("retentionInDays"),
        "log_group_class": plan.current.get("logGroupClass"),
        "kms_key_id": plan.current.get("kmsKeyId"),
    }


def decrease_message(decreases: list[dict[str, Any]]) -> str:
    lines = [
        f"{d['name']} in {d['region']}: {d['current'] if d['current'] is not None else 'never expire'}"
        f" -> {d['wanted']} days"
        for d in decreases
    ]
    return (
        "Refusing to shorten the retention of existing log groups (CloudWatch would delete the older "
        "events); nothing was changed. Set allow_retention_decrease to allow it. Groups: " + "; ".join(lines)
    )


class LogGroupsRun:
    def __init__(self, module: AnsibleAWSModule) -> None:
        self.module = module
        self.clients: dict[str, Any] = {}

    def client(self, region: str) -> Any:
        return self.clients[region]

    def by_region(self, groups: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        regions: dict[str, list[dict[str, Any]]] = {}
        for group in groups:
            regions.setdefault(group["region"], []).append(group)
        return regions

    def run(self) -> None:
        params = self.module.params
        try:
            groups = normalize_request(params["log_groups"], self.module.region)
        except PlanError as exc:
            self.module.fail_json(msg=str(exc))
        wanted_by_region = self.by_region(groups)
        regions = sorted(wanted_by_region)
        # One boto3 session for all regions (the service model is parsed once).
        self.clients = checked_clients(self.module, "logs", regions, "log_groups")

        outcomes = run_in_regions(
            regions,
            lambda r: plan_region(self.client(r), wanted_by_region[r], params["replace_kms_key"]),
            params["max_concurrency"],
        )
        failed = [o for o in outcomes if o.error]
        if failed:
            self.module.fail_json(
                msg="Could not read the log groups in "
                + "; ".join(f"{o.region}: {o.error}" for o in failed)
                + ". Nothing was changed.",
                failed_regions=[o.region for o in failed],
                region_counts=region_counts(outcomes),
            )
        plans = [p for o in outcomes for p in o.result]
        decreases = [p.decrease for p in plans if p.decrease]
        if decreases and not params["allow_retention_decrease"]:
            self.module.fail_json(msg=decrease_message(decreases), retention_decreases=decreases)

        changed = any(p.actions for p in plans)
        counts = region_counts(outcomes)
        if changed and not self.module.check_mode:
            counts = self.apply(plans, regions)
        self.exit(plans, decreases, changed, counts)

    def apply(self, plans: list[GroupPlan], regions: list[str]) -> dict[str, int]:
        """Write every region's changes; fails the module (changed) naming each failed region."""
        todo: dict[str, list[GroupPlan]] = {}
        for plan in plans:
            if plan.actions:
                todo.setdefault(plan.wanted["region"], []).append(plan)

        def work(region: str) -> None:
            try:
                for plan in todo[region]:
                    apply_plan(self.client(region), plan)
            except Exception as exc:
                # The region's first call is a write: it may have gone through.
                raise PartialWrite(exc) from exc
            created = [p for p in todo[region] if "create" in p.actions]
            if created:
                # Report the real ARN of new groups (one describe per 50 groups).
                found = describe_groups(self.client(region), [p.wanted["name"] for p in created])
                for plan in created:
                    plan.created = found.get(plan.wanted["name"])

        outcomes = run_in_regions(sorted(todo), work, self.module.params["max_concurrency"])
        failed = [o for o in outcomes if o.error]
        counts = region_counts(outcomes)
        counts["done"] += len(regions) - len(outcomes)  # regions with nothing to change
        if failed:
            details = "; ".join(f"{o.region}: {o.error}" for o in failed)
            hint = ""
            if any(is_not_implemented(o.exception) for o in failed if o.exception):
                hint = " (the endpoint may not implement this call, e.g. AssociateKmsKey on moto)"
            self.module.fail_json(
                msg=f"Changing log groups failed in {details}{hint}",
                failed_regions=[o.region for o in failed],
                region_counts=counts,
                # Regions that succeeded changed; a failed one may have before it failed.
                changed=any(o.error is None or o.wrote for o in outcomes),
            )
        return counts

    def exit(
        self, plans: list[GroupPlan], decreases: list[dict[str, Any]], changed: bool, counts: dict[str, int]
    ) -> None:
        results = [after_state(p) for p in plans]
        for plan in plans:
            for warning in plan.warnings:
                self.module.warn(warning)
        diff = {
            "before": {p.key: before_state(p) for p in plans if p.actions},
            "after": {
                p.key: {k: r[k] for k in ("retention_in_days", "log_group_class", "kms_key_id")}
                for p, r in zip(plans, results)
                if p.actions
            },
        }
        self.module.exit_json(
            changed=changed,
            log_groups=results,
            retention_decreases=decreases,
            region_counts=counts,
            diff=diff,
        )


def main() -> None:
    group_spec = dict(
        name=dict(type="str", required=True),
        region=dict(type="str"),
        retention_in_days=dict(type="int", choices=list(RETENTION_DAYS)),
        log_group_class=dict(type="str", choices=list(LOG_GROUP_CLASSES), default="STANDARD"),
        tags=dict(type="dict", default={}),
        kms_key_id=dict(type="str"),
    )
    argument_spec = dict(
        log_groups=dict(type="list", elements="dict", required=True, options=group_spec),
        allow_retention_decrease=dict(type="bool", default=False),
        replace_kms_key=dict(type="bool", default=False),
        **region_options(),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    LogGroupsRun(module).run()


if __name__ == "__main__":
    main()
