#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guardduty_detector
short_description: Keep one Amazon GuardDuty detector enabled (or disabled, or absent) in many regions at once
version_added: 0.1.0
description:
  - Manages the GuardDuty detector of every listed region in one call, working the regions
    concurrently. Without O(regions) it covers every region enabled for the account
    (ec2:DescribeRegions).
  - Without O(regions), a region the account has not opted in to that refuses the request is skipped
    with a warning and listed in RV(skipped_regions). Every other error (access denied, outages,
    throttling beyond the retries), and any error in a region named in O(regions), fails the module
    after all regions ran, with per-region detail in RV(failed_regions).
  - Regions named in O(regions) are checked against C(ec2:DescribeRegions) before any change.
  - AWS allows one detector per region. The module never creates a second one. If a region has
    several (some emulators allow it), the first by ID is managed and a warning names the others.
  - O(state=present) (or V(enabled)) creates a missing detector and re-enables a suspended one.
    O(state=disabled) suspends an existing detector and creates none. O(state=absent) deletes the
    region's detectors, which also deletes their findings.
  - Only the features listed in O(features) are compared and changed; features not listed keep their
    state. Tags not listed in O(tags) are kept unless O(purge_tags=true).
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  state:
    description:
      - V(present) and V(enabled) ensure an enabled detector. V(disabled) suspends an existing one.
        V(absent) deletes the detectors (and their findings).
    type: str
    choices: [present, enabled, disabled, absent]
    default: present
  regions:
    description:
      - Regions to manage. Default is every region enabled for the account.
    type: list
    elements: str
  finding_publishing_frequency:
    description:
      - How often updated findings are published to EventBridge (and S3 export).
        Omit to leave it as it is (AWS's default for new detectors is V(SIX_HOURS)).
    type: str
    choices: [FIFTEEN_MINUTES, ONE_HOUR, SIX_HOURS]
  features:
    description:
      - Protection plans to set. Features not listed keep their current state.
      - V(RUNTIME_MONITORING) and V(EKS_RUNTIME_MONITORING) cannot both be listed (AWS rejects the
        pair; Runtime Monitoring includes EKS).
    type: list
    elements: dict
    suboptions:
      name:
        description: Feature name.
        type: str
        required: true
        choices:
          - S3_DATA_EVENTS
          - EKS_AUDIT_LOGS
          - EBS_MALWARE_PROTECTION
          - RDS_LOGIN_EVENTS
          - LAMBDA_NETWORK_LOGS
          - RUNTIME_MONITORING
          - EKS_RUNTIME_MONITORING
      status:
        description: Whether the feature is on.
        type: str
        choices: [ENABLED, DISABLED]
        default: ENABLED
      additional_configuration:
        description:
          - Sub-options of the feature, for example the automated agent management of Runtime
            Monitoring. Sub-options not listed keep their state.
        type: list
        elements: dict
        suboptions:
          name:
            description: Sub-option name.
            type: str
            required: true
            choices: [EKS_ADDON_MANAGEMENT, ECS_FARGATE_AGENT_MANAGEMENT, EC2_AGENT_MANAGEMENT]
          status:
            description: Whether the sub-option is on.
            type: str
            choices: [ENABLED, DISABLED]
            default: ENABLED
  tags:
    description: Tags the detector should have. Omit to leave tags alone.
    type: dict
  purge_tags:
    description: Remove tags not listed in O(tags). Off by default so a user's own tags survive.
    type: bool
    default: false
notes:
  - Supports check mode and diff mode (before/after per region).
  - Needs C(guardduty:ListDetectors), C(GetDetector), C(CreateDetector), C(UpdateDetector),
    C(TagResource), C(UntagResource), C(DeleteDetector) (for V(absent)), C(ec2:DescribeRegions),
    C(sts:GetCallerIdentity) (to tag an existing detector), and
    C(iam:CreateServiceLinkedRole) the first time GuardDuty is enabled in an account.
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: GuardDuty on in every enabled region, findings every 15 minutes
  gdpr.aws_monitoring.guardduty_detector:
    finding_publishing_frequency: FIFTEEN_MINUTES
    features:
      - name: S3_DATA_EVENTS
      - name: EBS_MALWARE_PROTECTION
      - name: RDS_LOGIN_EVENTS
      - name: RUNTIME_MONITORING
        additional_configuration:
          - name: EC2_AGENT_MANAGEMENT
    tags:
      Purpose: gdpr-monitoring
  register: guardduty

- name: Two regions only (an error in either fails the task), at most one at a time
  gdpr.aws_monitoring.guardduty_detector:
    regions: [eu-west-1, eu-central-1]
    max_concurrency: 1
  register: guardduty

- name: How many regions were done, refused (not opted in), failed
  ansible.builtin.debug:
    var: guardduty.region_counts

- name: Suspend GuardDuty in one region (findings are kept)
  gdpr.aws_monitoring.guardduty_detector:
    regions: [eu-west-3]
    state: disabled
"""

RETURN = r"""
detectors:
  description: One entry per handled region (in check mode, as it would be after the run).
  returned: always
  type: list
  elements: dict
  contains:
    region:
      description: The region.
      type: str
      sample: eu-west-1
    detector_id:
      description: ID of the managed detector; null when there is none (or one is still to be created in check mode).
      type: str
      sample: 12abc34d567e8fa901bc2d34e56789f0
    status:
      description: V(ENABLED) or V(DISABLED); null when the region has no detector.
      type: str
      sample: ENABLED
    finding_publishing_frequency:
      description: Publishing frequency of findings.
      type: str
      sample: FIFTEEN_MINUTES
    features:
      description: Features as reported by GuardDuty (updated with the requested ones).
      type: list
      elements: dict
      sample: [{"name": "S3_DATA_EVENTS", "status": "ENABLED", "additional_configuration": []}]
    tags:
      description: Tags of the detector.
      type: dict
      sample: {"Purpose": "gdpr-monitoring"}
    changed:
      description: Whether this region was (or in check mode would be) changed.
      type: bool
    actions:
      description: The API actions taken (or planned in check mode), for example V(create), V(update), V(tag).
      type: list
      elements: str
      sample: ["update"]
    other_detector_ids:
      description: Further detectors found in the region (AWS allows one; they are left alone unless O(state=absent)).
      type: list
      elements: str
      sample: []
skipped_regions:
  description:
    - Regions the account has not opted in to that refused the request and were skipped (only
      without O(regions)).
  returned: always
  type: list
  elements: dict
  contains:
    region:
      description: The region.
      type: str
    reason:
      description: The error the region answered with.
      type: str
  sample: [{"region": "me-south-1", "reason": "ClientError: An error occurred (UnrecognizedClientException) ..."}]
failed_regions:
  description: Regions where an error other than a refusal happened (the module then fails).
  returned: on failure
  type: list
  elements: dict
  sample: [{"region": "eu-west-1", "error": "ClientError: An error occurred (BadRequestException) ..."}]
region_counts:
  description: How many regions were done, refused (skipped) and failed.
  returned: always
  type: dict
  sample: {"done": 17, "refused": 0, "failed": 0}
unknown_regions:
  description: Regions of O(regions) that AWS does not know (the module then fails before any change).
  returned: on failure
  type: list
  elements: str
  sample: ["eu-wset-1"]
diff:
  description: Before and after state per region, with C(--diff).
  returned: when diff mode is on
  type: dict
"""

from contextlib import suppress
from dataclasses import dataclass, field
from threading import Event, Lock, Thread
from typing import Any, Callable, TypeVar
from uuid import uuid4

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.arns import (
    account_from_arn,
    partition_from_arn,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty import (
    ADDITIONAL_CONFIGURATION_NAMES,
    FEATURE_NAMES,
    FREQUENCIES,
    STATUSES,
    Desired,
    Plan,
    absent_view,
    detector_arn,
    detector_view,
    features_from_params,
    plan_region,
    validate_features,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    PartialWrite,
    RegionalClients,
    RegionOutcome,
    account_region,
    finish,
    region_options,
    region_statuses,
    retry_decorator,
    run_in_regions,
    settle_refusals,
    sort_outcomes,
    target_regions,
    variable_name,
)

T = TypeVar("T")

ARGUMENT_SPEC: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "enabled", "disabled", "absent"]},
    "regions": {"type": "list", "elements": "str"},
    "finding_publishing_frequency": {"type": "str", "choices": list(FREQUENCIES)},
    "features": {
        "type": "list",
        "elements": "dict",
        "options": {
            "name": {"type": "str", "required": True, "choices": list(FEATURE_NAMES)},
            "status": {"type": "str", "default": "ENABLED", "choices": list(STATUSES)},
            "additional_configuration": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "name": {
                        "type": "str",
                        "required": True,
                        "choices": list(ADDITIONAL_CONFIGURATION_NAMES),
                    },
                    "status": {"type": "str", "default": "ENABLED", "choices": list(STATUSES)},
                },
            },
        },
    },
    "tags": {"type": "dict"},
    "purge_tags": {"type": "bool", "default": False},
    **region_options(),
}


@dataclass
class RegionResult:
    current: dict[str, Any] | None
    other_ids: list[str]
    plan: Plan
    detector_id: str | None = None


@dataclass
class AccountInfo:
    """Partition and account ID for detector ARNs, asked (once) only when a tag must change."""

    clients: RegionalClients
    region: str
    _lock: Lock = field(default_factory=Lock)
    _value: tuple[str, str] | None = None

    def get(self) -> tuple[str, str]:
        with self._lock:
            if self._value is None:
                arn = self.clients("sts", self.region).get_caller_identity(aws_retry=True)["Arn"]
                self._value = (partition_from_arn(arn), account_from_arn(arn))
            return self._value


def read_region(client: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """(view of the managed detector or None, IDs of any further detectors)."""
    # The client's own policy (RegionalClients): pagination retries like every other call.
    retry = getattr(client, "retry", None) or retry_decorator()
    answer = paginated_query_with_retries(client, "list_detectors", retry_decorator=retry)
    ids = sorted(answer.get("DetectorIds", []))
    if not ids:
        return None, []
    detector = client.get_detector(DetectorId=ids[0], aws_retry=True)
    return detector_view(ids[0], detector), ids[1:]


def apply_plan(client: Any, region: str, plan: Plan, account: AccountInfo) -> str | None:
    """Run the planned actions in one region; returns the detector ID afterwards."""
    detector_id = plan.after["detector_id"] if plan.after else None
    for action in plan.actions:
        if action.kind == "create":
            # One token for every attempt: a create retried after a lost answer returns the same
            # detector instead of failing on "a detector already exists".
            token = str(uuid4())
            detector_id = client.create_detector(ClientToken=token, aws_retry=True, **action.params)[
                "DetectorId"
            ]
        elif action.kind == "update":
            client.update_detector(aws_retry=True, **action.params)
        elif action.kind == "delete":
            client.delete_detector(aws_retry=True, **action.params)
        elif action.kind in ("tag", "untag"):
            partition, account_id = account.get()
            arn = detector_arn(partition, region, account_id, detector_id)
            if action.kind == "tag":
                client.tag_resource(ResourceArn=arn, aws_retry=True, **action.params)
            else:
                client.untag_resource(ResourceArn=arn, aws_retry=True, **action.params)
    return detector_id


def handle_region(
    region: str, clients: RegionalClients, desired: Desired, account: AccountInfo, check_mode: bool
) -> RegionResult:
    """Read, plan and (unless in check mode) apply in one region; regions run this concurrently."""
    client = clients("guardduty", region)
    current, other_ids = read_region(client)
    plan = plan_region(current, desired, other_ids)
    result = RegionResult(current, other_ids, plan, current["detector_id"] if current else None)
    if plan.changed and not check_mode:
        try:
            result.detector_id = apply_plan(client, region, plan, account)
        except Exception as exc:
            # Some of the region's actions may have gone through: the run must report changed.
            raise PartialWrite(exc) from exc
    return result


WHAT = "GuardDuty"  # names the work in warnings and the failure message


def home_region(module: AnsibleAWSModule, clients: RegionalClients) -> str:
    """Region of the account-wide calls (DescribeRegions, STS)."""
    return account_region(clients, [module.region, *(module.params["regions"] or []), "us-east-1"])


def prebuilding(clients: RegionalClients, home: str, regions: list[str] | None, call: Callable[[], T]) -> T:
    """``call()`` (an ec2:DescribeRegions) while a background thread builds the GuardDuty clients.

    The clients of ``regions`` (default: the regions botocore knows) are built during the network
    wait, so the fan-out finds them ready: building ~30 clients costs about as much CPU as the API
    calls of ~30 regions.
    """
    done = Event()

    def prebuild() -> None:
        with suppress(Exception):  # best effort: the fan-out builds whatever is missing
            for region in regions or [home, *clients.known_regions("guardduty", home)]:
                if done.is_set():
                    return
                clients("guardduty", region)

    Thread(target=prebuild, daemon=True).start()
    try:
        return call()
    finally:
        done.set()


def choose_regions(module: AnsibleAWSModule, clients: RegionalClients, home: str) -> tuple[list[str], dict]:
    """O(regions) (checked with O(region), before any change) or every enabled region, and the
    OptInStatus of named ones; the GuardDuty clients are built during the DescribeRegions wait."""
    named = sorted(set(module.params["regions"] or []))
    sources = {}
    if named and module.params.get("region"):
        sources[variable_name(module.params["variable_names"], "region")] = [module.params["region"]]
    ec2 = clients("ec2", home)
    return prebuilding(clients, home, named or None, lambda: target_regions(module, ec2, named, sources))


def desired_from_params(params: dict[str, Any]) -> Desired:
    return Desired(
        state="present" if params["state"] == "enabled" else params["state"],
        frequency=params["finding_publishing_frequency"],
        features=features_from_params(params["features"]),
        tags=params["tags"],
        purge_tags=params["purge_tags"],
    )


def after_view(result: RegionResult) -> dict[str, Any] | None:
    if result.plan.after is None:
        return None
    after = dict(result.plan.after)
    if result.plan.changed:
        after["detector_id"] = result.detector_id
    return after


def summarise(
    outcomes: list[RegionOutcome], desired: Desired, statuses: dict[str, str], label: str
) -> tuple[dict[str, Any], list[str], list[dict]]:
    """Module result, warnings and failed regions from every region's outcome."""
    report = sort_outcomes(outcomes, WHAT, statuses, label)
    warnings = report.warnings
    detectors: list[dict[str, Any]] = []
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for outcome in report.done:
        result: RegionResult = outcome.result
        if result.other_ids and desired.state != "absent":
            warnings.append(
                f"GuardDuty: region {outcome.region} has {len(result.other_ids) + 1} detectors; AWS allows "
                f"one. Managed {result.current['detector_id']}, left {', '.join(result.other_ids)} alone."
            )
        after = after_view(result)
        detectors.append(
            {
                "region": outcome.region,
                **(after or absent_view()),
                "changed": result.plan.changed,
                "actions": [a.kind for a in result.plan.actions],
                "other_detector_ids": result.other_ids,
            }
        )
        diff["before"][outcome.region] = result.current or absent_view()
        diff["after"][outcome.region] = after or absent_view()
    summary = report.result(any(d["changed"] for d in detectors), diff, detectors=detectors)
    return summary, warnings, report.failed


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    desired = desired_from_params(params)
    problems = validate_features(desired.features)
    if problems:
        module.fail_json(msg="; ".join(problems))

    clients = RegionalClients(module, retry_decorator())
    home = home_region(module, clients)
    regions, statuses = choose_regions(module, clients, home)
    account = AccountInfo(clients, home)
    outcomes = run_in_regions(
        regions,
        lambda region: handle_region(region, clients, desired, account, module.check_mode),
        params["max_concurrency"],
    )
    if not params["regions"]:
        # Only regions the module chose itself may be refusals (see module_utils/regions.py).
        settle_refusals(outcomes, lambda: region_statuses(clients("ec2", home)))
    label = variable_name(params["variable_names"], "regions")
    finish(module, WHAT, *summarise(outcomes, desired, statuses, label))


if __name__ == "__main__":
    main()
