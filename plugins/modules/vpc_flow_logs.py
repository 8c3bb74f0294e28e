#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: vpc_flow_logs
short_description: VPC flow logs to CloudWatch Logs for many VPCs in many regions at once
version_added: 0.2.0
description:
  - Gives every selected VPC a flow log delivered to the CloudWatch Logs group O(log_group_name) of
    its region, working the regions concurrently in one call (amazon.aws.ec2_vpc_flow_log and the
    community modules handle one region per call).
  - "VPCs are selected by O(vpcs) (C({region: [vpc ids]})) or, with O(all_vpcs=true), every VPC of
    O(regions) (default every region enabled for the account)."
  - All regions are read first. A VPC of O(vpcs) that does not exist, a malformed ID or an unknown
    region fails the module before any flow log is created. A region that cannot be read is not
    worked; the module fails naming it after the other regions are done.
  - A VPC that already has a flow log to the same log group keeps it and gets no second one. A flow
    log cannot be modified, so if the kept one differs (traffic type, format, aggregation interval)
    the difference is reported in RV(flow_logs[].differences) and as a warning, never fixed by
    deleting it. Flow logs to other destinations are left alone.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  vpcs:
    description: "VPCs per region, C({eu-west-1: [vpc-0123456789abcdef0]}). Ignored with O(all_vpcs=true)."
    type: dict
    default: {}
  all_vpcs:
    description: Every VPC of O(regions) instead of O(vpcs).
    type: bool
    default: false
  regions:
    description: Regions whose VPCs O(all_vpcs) covers. Empty is every region enabled for the account.
    type: list
    elements: str
    default: []
  log_group_name:
    description: The CloudWatch Logs group (in each VPC's region) the flow logs deliver to.
    type: str
    required: true
  deliver_logs_permission_arn:
    description:
      - ARN of the IAM role flow logs deliver with. Needed when a flow log is to be created (not in
        check mode, where the role may not exist yet).
    type: str
  traffic_type:
    description: Which traffic is recorded.
    type: str
    choices: [ALL, ACCEPT, REJECT]
    default: ALL
  log_format:
    description:
      - Record format, fields as C(${name}) separated by spaces. Default adds VPC, subnet, instance,
        TCP flags, the addresses behind NAT, region, zone, direction and path to AWS's default fields.
    type: str
  max_aggregation_interval:
    description: Seconds over which a flow is aggregated into a record.
    type: int
    choices: [60, 600]
    default: 600
  tags:
    description: Tags put on flow logs this module creates.
    type: dict
    default: {}
notes:
  - Supports check mode and diff mode (per region, the VPCs and their flow log before and after).
  - Needs C(ec2:DescribeRegions), C(ec2:DescribeVpcs), C(ec2:DescribeFlowLogs), C(ec2:CreateFlowLogs),
    C(ec2:CreateTags) (tags at creation) and C(iam:PassRole) on O(deliver_logs_permission_arn).
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Flow logs for two VPCs in two regions
  gdpr.aws_monitoring.vpc_flow_logs:
    vpcs:
      eu-west-1: [vpc-0123456789abcdef0]
      eu-central-1: [vpc-0fedcba9876543210]
    log_group_name: /gdpr/prod/vpc-flow-logs
    deliver_logs_permission_arn: arn:aws:iam::111122223333:role/gdpr-vpc-flow-logs
  register: flow_logs

- name: Every VPC of every enabled region, rejected traffic only
  gdpr.aws_monitoring.vpc_flow_logs:
    all_vpcs: true
    traffic_type: REJECT
    log_group_name: /gdpr/prod/vpc-flow-logs
    deliver_logs_permission_arn: arn:aws:iam::111122223333:role/gdpr-vpc-flow-logs
"""

RETURN = r"""
flow_logs:
  description: One entry per selected VPC (in check mode, as it would be after the run).
  returned: always
  type: list
  elements: dict
  contains:
    region:
      description: The VPC's region.
      type: str
    vpc_id:
      description: The VPC.
      type: str
    action:
      description: V(create) (a flow log was or would be created) or V(keep) (one to the log group existed).
      type: str
    flow_log_id:
      description: The flow log to the log group; null for one still to be created in check mode.
      type: str
    log_group_name:
      description: The destination log group.
      type: str
    differences:
      description: How a kept flow log differs from the options (flow logs cannot be modified).
      type: list
      elements: str
    other_flow_logs:
      description: The VPC's flow logs to other destinations (left alone).
      type: list
      elements: str
regions_with_vpcs:
  description: Regions that have at least one selected VPC (their log group is needed).
  returned: always
  type: list
  elements: str
skipped_regions:
  description: Regions not opted in that refused the request (only with O(all_vpcs) and no O(regions)).
  returned: always
  type: list
  elements: dict
failed_regions:
  description: Regions where an error happened (the module then fails).
  returned: on failure
  type: list
  elements: dict
region_counts:
  description: How many regions were done, refused (skipped) and failed.
  returned: always
  type: dict
  sample: {"done": 2, "refused": 0, "failed": 0}
"""

from dataclasses import dataclass
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.flow_logs import (
    AGGREGATION_INTERVALS,
    DEFAULT_FORMAT,
    TRAFFIC_TYPES,
    Desired,
    VpcPlan,
    create_requests,
    flow_log_view,
    format_problems,
    missing_vpcs,
    plan_region,
    planned_view,
    vpc_id_problems,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    NOT_OPTED_IN,
    PartialWrite,
    RegionalClients,
    RegionOutcome,
    account_region,
    check_regions,
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

WHAT = "Flow logs"  # names the work in warnings and the failure message

ARGUMENT_SPEC: dict[str, Any] = {
    "vpcs": {"type": "dict", "default": {}},
    "all_vpcs": {"type": "bool", "default": False},
    "regions": {"type": "list", "elements": "str", "default": []},
    "log_group_name": {"type": "str", "required": True},
    "deliver_logs_permission_arn": {"type": "str"},
    "traffic_type": {"type": "str", "default": "ALL", "choices": list(TRAFFIC_TYPES)},
    "log_format": {"type": "str"},
    "max_aggregation_interval": {"type": "int", "default": 600, "choices": list(AGGREGATION_INTERVALS)},
    "tags": {"type": "dict", "default": {}},
    **region_options(),
}


@dataclass
class RegionRead:
    vpc_ids: list[str]
    flow_logs: list[dict[str, Any]]


@dataclass
class RegionDone:
    plans: list[VpcPlan]
    created: dict[str, str]  # vpc id -> new flow log id


def _paginate(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    retry = getattr(client, "retry", None) or retry_decorator()
    return paginated_query_with_retries(client, operation, retry_decorator=retry, **params)


def read_region(client: Any, wanted: list[str] | None) -> RegionRead:
    """The region's VPCs (``wanted`` only, or all of them) and their flow logs."""
    params = {"Filters": [{"Name": "vpc-id", "Values": wanted}]} if wanted else {}
    vpc_ids = sorted(v["VpcId"] for v in _paginate(client, "describe_vpcs", **params).get("Vpcs", []))
    if not vpc_ids:
        return RegionRead([], [])
    raw = _paginate(client, "describe_flow_logs", Filters=[{"Name": "resource-id", "Values": vpc_ids}])
    return RegionRead(vpc_ids, [flow_log_view(f) for f in raw.get("FlowLogs", [])])


def apply_region(client: Any, plans: list[VpcPlan], desired: Desired, role_arn: str) -> dict[str, str]:
    """Create the planned flow logs; returns vpc id -> flow log id."""
    to_create = [p.vpc_id for p in plans if p.action == "create"]
    created: dict[str, str] = {}
    for params in create_requests(to_create, desired, role_arn):
        try:
            answer = client.create_flow_logs(aws_retry=True, **params)
        except Exception as exc:
            # An earlier batch went through: the region changed even though this one failed.
            if created:
                raise PartialWrite(exc) from exc
            raise
        if answer.get("Unsuccessful"):
            problems = "; ".join(
                f"{u.get('ResourceId')}: {(u.get('Error') or {}).get('Message')}"
                for u in answer["Unsuccessful"]
            )
            refused = RuntimeError(f"CreateFlowLogs refused {problems}")
            # Others of the batch may have been created: the region counts as changed.
            raise PartialWrite(refused) from refused
        # CreateFlowLogs answers ids in request order; read back to pair them with VPCs reliably.
        ids = answer.get("FlowLogIds") or []
        if ids:
            back = client.describe_flow_logs(FlowLogIds=ids, aws_retry=True).get("FlowLogs", [])
            created.update({f["ResourceId"]: f["FlowLogId"] for f in back})
    return created


def selection(
    module: AnsibleAWSModule, clients: RegionalClients, home: str
) -> tuple[dict[str, list[str] | None], dict[str, str]]:
    """region -> wanted VPC IDs (None: all of the region's), and regions' OptInStatus when checked."""
    params = module.params
    names = params["variable_names"]
    if params["all_vpcs"]:
        regions, statuses = target_regions(module, clients("ec2", home), params["regions"])
        return dict.fromkeys(regions), statuses
    vpcs = {str(r): sorted({str(v) for v in ids or []}) for r, ids in params["vpcs"].items()}
    vpcs = {r: ids for r, ids in vpcs.items() if ids}
    problems = vpc_id_problems(vpcs, variable_name(names, "vpcs"))
    if problems:
        module.fail_json(msg="; ".join(problems) + ". Nothing was changed.")
    if not vpcs:
        return {}, {}
    statuses = check_regions(module, clients("ec2", home), {variable_name(names, "vpcs"): list(vpcs)})
    return dict(vpcs), statuses


def read_all(
    module: AnsibleAWSModule,
    clients: RegionalClients,
    wanted: dict[str, list[str] | None],
    home: str,
    statuses: dict[str, str],
) -> dict[str, RegionOutcome]:
    """Read every region; fail (nothing written yet) on a VPC that is not there. A region that cannot
    be read (access denied there, endpoint down) is not planned and does not stop the others: it is
    reported as failed after they are done (main)."""
    params = module.params
    names = params["variable_names"]
    outcomes = run_in_regions(
        sorted(wanted), lambda r: read_region(clients("ec2", r), wanted[r]), params["max_concurrency"]
    )
    chose_regions = params["all_vpcs"] and not params["regions"]
    if chose_regions:
        settle_refusals(outcomes, lambda: region_statuses(clients("ec2", home)))
    problems = []
    for outcome in outcomes:
        if outcome.error and not outcome.refused and statuses.get(outcome.region) == NOT_OPTED_IN:
            # a region named in the input that the account cannot use: an input problem
            problems.append(
                f"{outcome.region}: {outcome.error} (the account has not opted in to {outcome.region})"
            )
        elif not outcome.error and wanted[outcome.region]:
            gone = missing_vpcs(wanted[outcome.region] or [], outcome.result.vpc_ids)
            if gone:
                problems.append(
                    f"{variable_name(names, 'vpcs')}.{outcome.region}: no such VPC in {outcome.region}: {', '.join(gone)}"
                )
    if problems:
        module.fail_json(
            msg="Flow logs: nothing was changed: " + "; ".join(problems),
            failed_regions=[
                {"region": o.region, "error": o.error} for o in outcomes if o.error and not o.refused
            ],
        )
    return {o.region: o for o in outcomes}


def summarise(
    reads: dict[str, RegionOutcome], done: dict[str, RegionOutcome], desired: Desired
) -> tuple[dict[str, Any], list[str], list[dict]]:
    flow_logs: list[dict[str, Any]] = []
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    # A refused region was never planned: its read is its outcome.
    report = sort_outcomes([read if read.refused else done[r] for r, read in sorted(reads.items())], WHAT)
    warnings = report.warnings
    for outcome in report.done:
        region = outcome.region
        result: RegionDone = outcome.result
        before, after = {}, {}
        for plan in result.plans:
            view = planned_view(plan, desired, plan.flow_log_id or result.created.get(plan.vpc_id))
            flow_logs.append({"region": region, **view})
            before[plan.vpc_id] = plan.flow_log_id if plan.action == "keep" else None
            after[plan.vpc_id] = view["flow_log_id"] or "(new flow log)"
            if plan.differences:
                warnings.append(
                    f"Flow logs: {region} {plan.vpc_id} keeps flow log {plan.flow_log_id} to "
                    f"{desired.log_group_name}, which differs: {'; '.join(plan.differences)} "
                    "(a flow log cannot be modified; delete it yourself to have it recreated)"
                )
        diff["before"][region] = before
        diff["after"][region] = after
    summary = report.result(
        any(f["action"] == "create" for f in flow_logs),
        diff,
        flow_logs=flow_logs,
        regions_with_vpcs=sorted({f["region"] for f in flow_logs}),
    )
    return summary, warnings, report.failed


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    names = params["variable_names"]
    log_format = params["log_format"] or DEFAULT_FORMAT
    problems = format_problems(log_format, variable_name(names, "log_format"))
    if problems:
        module.fail_json(msg="; ".join(problems) + ". Nothing was changed.")
    desired = Desired(
        log_group_name=params["log_group_name"],
        traffic_type=params["traffic_type"],
        log_format=log_format,
        max_aggregation_interval=params["max_aggregation_interval"],
        tags={str(k): str(v) for k, v in params["tags"].items()},
    )
    clients = RegionalClients(module, retry_decorator())
    home = account_region(clients, [module.region, *params["regions"], *params["vpcs"], "us-east-1"])
    wanted, statuses = selection(module, clients, home)
    reads = read_all(module, clients, wanted, home, statuses)
    plans = {
        r: plan_region(o.result.vpc_ids, o.result.flow_logs, desired) for r, o in reads.items() if not o.error
    }
    role_arn = params["deliver_logs_permission_arn"]
    needs_create = any(p.action == "create" for ps in plans.values() for p in ps)
    if needs_create and not module.check_mode and not role_arn:
        module.fail_json(
            msg=f"{variable_name(names, 'deliver_logs_permission_arn')} is needed to create flow logs"
        )

    def work(region: str) -> RegionDone:
        if module.check_mode:
            return RegionDone(plans[region], {})
        return RegionDone(
            plans[region], apply_region(clients("ec2", region), plans[region], desired, role_arn)
        )

    done = {o.region: o for o in run_in_regions(sorted(plans), work, params["max_concurrency"])}
    # A region whose read failed was never planned: that failure is its outcome.
    done.update({r: o for r, o in reads.items() if o.error and not o.refused})
    finish(module, WHAT, *summarise(reads, done, desired))


if __name__ == "__main__":
    main()
