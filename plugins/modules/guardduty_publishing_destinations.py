#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guardduty_publishing_destinations
short_description: Export GuardDuty findings of every region to one S3 bucket (publishing destinations)
version_added: 0.2.0
description:
  - In every listed region (default every region enabled for the account), in one call and
    concurrently, keeps one S3 publishing destination on the region's GuardDuty detector pointing at
    O(destination_arn), encrypted with O(kms_key_arn). GuardDuty otherwise keeps findings 90 days.
  - An existing S3 destination is updated in place. One that points at another bucket is someone's
    export and is not redirected unless O(replace_existing=true); every region is read and planned
    before anything is written, so such a refusal changes nothing anywhere.
  - A region without a detector fails (run the guardduty role first); under check mode it is shown
    as planned, since the detector is then still to be created by the task before.
  - Errors fail the module after every region ran, naming each region; without O(regions), an opt-in
    region the account has not enabled that refuses the request is skipped.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  regions:
    description: Regions to cover. Default is every region enabled for the account.
    type: list
    elements: str
  destination_arn:
    description: The bucket's ARN, optionally with a prefix (V(arn:aws:s3:::bucket/prefix)).
    type: str
    required: true
  kms_key_arn:
    description: ARN of the KMS key GuardDuty encrypts the exported findings with (required by GuardDuty).
    type: str
    required: true
  replace_existing:
    description: Point an existing destination that exports to another bucket at O(destination_arn).
    type: bool
    default: false
notes:
  - Supports check mode and diff mode (destination before/after per region).
  - Needs C(guardduty:ListDetectors), C(ListPublishingDestinations), C(DescribePublishingDestination),
    C(CreatePublishingDestination), C(UpdatePublishingDestination), C(ec2:DescribeRegions); GuardDuty
    checks the bucket and key policies when the destination is created.
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Findings of every region to one bucket
  gdpr.aws_monitoring.guardduty_publishing_destinations:
    destination_arn: arn:aws:s3:::gdpr-guardduty-findings-123456789012-eu-west-1
    kms_key_arn: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
  register: export
"""

RETURN = r"""
destinations:
  description: Per handled region, its detector and S3 destination (in check mode, as planned).
  returned: always
  type: list
  elements: dict
  sample: [{"region": "eu-west-1", "detector_id": "12abc", "destination_id": "a1b2", "status": "PUBLISHING",
            "destination_arn": "arn:aws:s3:::bucket", "kms_key_arn": "arn:aws:kms:...", "changed": false, "actions": []}]
skipped_regions:
  description: Opt-in regions not enabled for the account that refused (only without O(regions)).
  returned: always
  type: list
  elements: dict
failed_regions:
  description: Regions with an error or a destination that is not replaced (the module then fails).
  returned: on failure
  type: list
  elements: dict
region_counts:
  description: How many regions were done, refused (skipped) and failed.
  returned: always
  type: dict
  sample: {"done": 17, "refused": 0, "failed": 0}
"""

from typing import Any
from uuid import uuid4

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty_response import (
    DestinationPlan,
    destination_view,
    plan_destination,
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

WHAT = "GuardDuty export"  # names the work in warnings and the failure message

ARGUMENT_SPEC: dict[str, Any] = {
    "regions": {"type": "list", "elements": "str"},
    "destination_arn": {"type": "str", "required": True},
    # A key's ARN names the key; it is not a secret (validate-modules guesses from the name).
    "kms_key_arn": {"type": "str", "required": True, "no_log": False},
    "replace_existing": {"type": "bool", "default": False},
    **region_options(),
}


def read_region(client: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """(the detector's id or None, its publishing destinations described)."""
    ids = sorted(client.list_detectors(aws_retry=True).get("DetectorIds", []))
    if not ids:
        return None, []
    detector_id = ids[0]
    described, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = client.list_publishing_destinations(DetectorId=detector_id, aws_retry=True, **extra)
        for destination in page.get("Destinations", []):
            answer = client.describe_publishing_destination(
                DetectorId=detector_id, DestinationId=destination["DestinationId"], aws_retry=True
            )
            described.append(destination_view(answer))
        token = page.get("NextToken")
        if not token:
            return detector_id, described


def plan_region(
    region: str, clients: RegionalClients, params: dict[str, Any], check_mode: bool
) -> dict[str, Any]:
    """Read and plan one region (phase 1: no writes)."""
    client = clients("guardduty", region)
    detector_id, current = read_region(client)
    if detector_id is None and not check_mode:
        raise RuntimeError(
            "no GuardDuty detector in this region; run the guardduty role (playbooks/guardduty.yml) first"
        )
    plan = plan_destination(
        detector_id,
        current,
        params["destination_arn"],
        params["kms_key_arn"],
        params["replace_existing"],
        variable_name(params["variable_names"], "replace_existing"),
    )
    if plan.conflict:
        raise RuntimeError(plan.conflict)
    return {"detector_id": detector_id, "current": current, "plan": plan}


def apply_region(region: str, clients: RegionalClients, planned: dict[str, Any]) -> dict[str, Any]:
    """Carry out one region's plan (phase 2)."""
    client = clients("guardduty", region)
    plan: DestinationPlan = planned["plan"]
    after = dict(plan.after or {})
    for action in plan.actions:
        try:
            if action.kind == "create_publishing_destination":
                # One token for every attempt: a create retried after a lost answer is not doubled.
                answer = client.create_publishing_destination(
                    ClientToken=str(uuid4()), aws_retry=True, **action.params
                )
                after["destination_id"] = answer["DestinationId"]
            else:
                client.update_publishing_destination(aws_retry=True, **action.params)
        except Exception as exc:
            raise PartialWrite(exc) from exc
    return {**planned, "after": after}


def summarise(outcomes: list[RegionOutcome], statuses: dict[str, str], label: str) -> tuple[dict, list, list]:
    report = sort_outcomes(outcomes, WHAT, statuses, label)
    destinations = []
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for outcome in report.done:
        result = outcome.result
        plan: DestinationPlan = result["plan"]
        blocked = result.get("blocked", False)
        after = (
            (result["current"][0] if result["current"] else {})
            if blocked
            else (result.get("after") or plan.after or {})
        )
        destinations.append(
            {
                "region": outcome.region,
                "detector_id": result["detector_id"],
                **after,
                "changed": bool(plan.actions) and not blocked,
                "actions": [] if blocked else [a.kind for a in plan.actions],
                # Not done because another region refused: nothing is written anywhere then.
                "not_done": [a.kind for a in plan.actions] if blocked else [],
            }
        )
        diff["before"][outcome.region] = result["current"]
        diff["after"][outcome.region] = after
    result = report.result(any(d["changed"] for d in destinations), diff, destinations=destinations)
    return result, report.warnings, report.failed


def choose_regions(
    module: AnsibleAWSModule, clients: RegionalClients
) -> tuple[list[str], dict[str, str], str]:
    params = module.params
    home = account_region(clients, [module.region, *(params["regions"] or []), "us-east-1"])
    regions, statuses = target_regions(module, clients("ec2", home), params["regions"])
    return regions, statuses, home


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    clients = RegionalClients(module, retry_decorator())
    regions, statuses, home = choose_regions(module, clients)
    workers = params["max_concurrency"]
    planned = run_in_regions(regions, lambda r: plan_region(r, clients, params, module.check_mode), workers)
    if not params["regions"]:
        settle_refusals(planned, lambda: region_statuses(clients("ec2", home)))
    if module.check_mode:
        outcomes = planned
    elif any(o.error and not o.refused for o in planned):
        # A region that cannot be planned (a user's destination, an error): nothing is written anywhere.
        for outcome in planned:
            if not outcome.error:
                outcome.result["blocked"] = True
        outcomes = planned
    else:
        ready = {o.region: o.result for o in planned if not o.error}
        applied = run_in_regions(sorted(ready), lambda r: apply_region(r, clients, ready[r]), workers)
        outcomes = sorted(applied + [o for o in planned if o.error], key=lambda o: o.region)
    label = variable_name(params["variable_names"], "regions")
    finish(module, WHAT, *summarise(outcomes, statuses, label))


if __name__ == "__main__":
    main()
