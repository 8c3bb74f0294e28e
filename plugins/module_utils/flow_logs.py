# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the vpc_flow_logs module: VPCs + their flow logs + the wish -> what to create.

Nothing here talks to AWS. Two facts of the EC2 API shape it:

* A flow log cannot be modified: traffic type, format and aggregation interval are fixed at
  creation. An existing flow log of a VPC to the same log group is therefore kept as it is (AWS
  refuses a second one with ``FlowLogAlreadyExists``; moto 5.2.5 accepts it, so the check is ours),
  and any difference from the wish is reported, never "fixed" by deleting it (that would leave a gap
  in the record).
* DescribeFlowLogs reports the destination either as ``LogGroupName`` (flow logs made with it) or
  only as ``LogDestination`` (a log group ARN, possibly ending in ``:*``): both are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TRAFFIC_TYPES: tuple[str, ...] = ("ALL", "ACCEPT", "REJECT")
AGGREGATION_INTERVALS: tuple[int, ...] = (60, 600)
# CreateFlowLogs takes many resources in one call; this many per call keeps a request small.
CREATE_BATCH = 25

# Every field a flow log record can carry (AWS docs, "Flow log records", versions 2 to 8).
KNOWN_FIELDS: frozenset[str] = frozenset(
    {
        "version",
        "account-id",
        "interface-id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "start",
        "end",
        "action",
        "log-status",
        "vpc-id",
        "subnet-id",
        "instance-id",
        "tcp-flags",
        "type",
        "pkt-srcaddr",
        "pkt-dstaddr",
        "region",
        "az-id",
        "sublocation-type",
        "sublocation-id",
        "pkt-src-aws-service",
        "pkt-dst-aws-service",
        "flow-direction",
        "traffic-path",
        "ecs-cluster-arn",
        "ecs-cluster-name",
        "ecs-container-instance-arn",
        "ecs-container-instance-id",
        "ecs-container-id",
        "ecs-second-container-id",
        "ecs-service-name",
        "ecs-task-definition-arn",
        "ecs-task-arn",
        "ecs-task-id",
        "reject-reason",
        "resource-id",
        "encryption-status",
    }
)
# What an incident needs beyond AWS's default (v2) format: which VPC, subnet and instance a flow
# belongs to, TCP flags (scans, half-open connections), the addresses behind NAT
# (pkt-srcaddr/pkt-dstaddr), the direction and the path the traffic took.
DEFAULT_FORMAT_FIELDS: tuple[str, ...] = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "flow-direction",
    "traffic-path",
)
DEFAULT_FORMAT = " ".join("${" + f + "}" for f in DEFAULT_FORMAT_FIELDS)
# The format AWS gives a flow log created without one (it reports it as this string).
AWS_DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)
_FIELD = re.compile(r"^\$\{([a-z0-9-]+)\}$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
_LOG_GROUP_ARN = re.compile(r"^arn:[a-z-]+:logs:[a-z0-9-]+:[0-9]{12}:log-group:(?P<name>.+?)(:\*)?$")


@dataclass(frozen=True)
class Desired:
    """The flow log every selected VPC should have (the same in every region)."""

    log_group_name: str
    traffic_type: str = "ALL"
    log_format: str = DEFAULT_FORMAT
    max_aggregation_interval: int = 600
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass
class VpcPlan:
    vpc_id: str
    action: str  # create | keep
    flow_log_id: str | None = None
    differences: list[str] = field(default_factory=list)
    other_flow_logs: list[str] = field(default_factory=list)


# --- validation ------------------------------------------------------------------------------------


def format_fields(log_format: str) -> list[str]:
    """``"${a} ${b}"`` -> ``["a", "b"]``; a token that is not ``${name}`` is kept as-is (invalid)."""
    return [m.group(1) if (m := _FIELD.match(t)) else t for t in log_format.split()]


def format_problems(log_format: str, label: str) -> list[str]:
    """What AWS would refuse in a custom format, named by ``label`` (the caller's variable)."""
    tokens = log_format.split()
    if not tokens:
        return [f"{label}: the format is empty"]
    problems = []
    bad = [t for t in tokens if not _FIELD.match(t)]
    if bad:
        problems.append(
            f"{label}: every field must be written ${{name}} separated by spaces; not valid: {', '.join(bad)}"
        )
    unknown = sorted({f for f in format_fields(log_format) if _FIELD.match("${" + f + "}")} - KNOWN_FIELDS)
    if unknown:
        problems.append(f"{label}: unknown flow log field(s): {', '.join(unknown)}")
    fields = format_fields(log_format)
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if dupes:
        problems.append(f"{label}: field(s) listed more than once: {', '.join(dupes)}")
    return problems


def vpc_id_problems(vpcs: Mapping[str, Iterable[str]], label: str) -> list[str]:
    """Malformed VPC IDs in ``{region: [vpc ids]}``, each named ``label.region``."""
    problems = []
    for region, ids in sorted(vpcs.items()):
        bad = sorted({str(v) for v in ids or [] if not _VPC_ID.match(str(v))})
        if bad:
            problems.append(f"{label}.{region}: not VPC IDs (vpc-<8 or 17 hex digits>): {', '.join(bad)}")
    return problems


def missing_vpcs(wanted: Iterable[str], found: Iterable[str]) -> list[str]:
    return sorted(set(wanted) - set(found))


# --- reading ---------------------------------------------------------------------------------------


def log_group_of(raw: Mapping[str, Any]) -> str | None:
    """The log group a flow log delivers to, or None for S3 / Firehose destinations."""
    if raw.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
        return None
    if raw.get("LogGroupName"):
        return str(raw["LogGroupName"])
    match = _LOG_GROUP_ARN.match(str(raw.get("LogDestination") or ""))
    return match.group("name") if match else None


def flow_log_view(raw: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeFlowLogs entry -> what this module reports and compares."""
    return {
        "flow_log_id": raw.get("FlowLogId"),
        "vpc_id": raw.get("ResourceId"),
        "log_group_name": log_group_of(raw),
        "destination_type": raw.get("LogDestinationType", "cloud-watch-logs"),
        "traffic_type": raw.get("TrafficType"),
        "log_format": raw.get("LogFormat") or AWS_DEFAULT_FORMAT,
        "max_aggregation_interval": raw.get("MaxAggregationInterval", 600),
        "deliver_logs_permission_arn": raw.get("DeliverLogsPermissionArn"),
        "status": raw.get("FlowLogStatus"),
        "tags": {t["Key"]: t["Value"] for t in raw.get("Tags") or []},
    }


# --- planning --------------------------------------------------------------------------------------


def differences(view: Mapping[str, Any], desired: Desired) -> list[str]:
    """How an existing flow log differs from the wish (reported; a flow log cannot be modified)."""
    out = []
    if view["traffic_type"] != desired.traffic_type:
        out.append(f"traffic_type {view['traffic_type']} (wanted {desired.traffic_type})")
    if format_fields(view["log_format"]) != format_fields(desired.log_format):
        out.append("log_format differs")
    interval = int(view["max_aggregation_interval"] or 600)
    if interval != desired.max_aggregation_interval:
        out.append(f"max_aggregation_interval {interval} (wanted {desired.max_aggregation_interval})")
    return out


def plan_vpc(vpc_id: str, flow_logs: Iterable[Mapping[str, Any]], desired: Desired) -> VpcPlan:
    """Create a flow log for ``vpc_id`` unless one to the same log group exists (then keep it)."""
    mine = [v for v in flow_logs if v["vpc_id"] == vpc_id]
    same = sorted(
        (v for v in mine if v["log_group_name"] == desired.log_group_name),
        key=lambda v: (v["status"] != "ACTIVE", v["flow_log_id"] or ""),
    )
    others = sorted(v["flow_log_id"] for v in mine if v not in same)
    if same:
        kept = same[0]
        return VpcPlan(vpc_id, "keep", kept["flow_log_id"], differences(kept, desired), others)
    return VpcPlan(vpc_id, "create", None, [], others)


def plan_region(
    vpc_ids: Iterable[str], flow_logs: Iterable[Mapping[str, Any]], desired: Desired
) -> list[VpcPlan]:
    views = list(flow_logs)
    return [plan_vpc(v, views, desired) for v in sorted(set(vpc_ids))]


def create_requests(vpc_ids: list[str], desired: Desired, role_arn: str) -> list[dict[str, Any]]:
    """CreateFlowLogs parameters for ``vpc_ids``, in batches of CREATE_BATCH."""
    requests = []
    for start in range(0, len(vpc_ids), CREATE_BATCH):
        params: dict[str, Any] = {
            "ResourceIds": vpc_ids[start : start + CREATE_BATCH],
            "ResourceType": "VPC",
            "TrafficType": desired.traffic_type,
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": desired.log_group_name,
            "DeliverLogsPermissionArn": role_arn,
            "LogFormat": desired.log_format,
            "MaxAggregationInterval": desired.max_aggregation_interval,
        }
        if desired.tags:
            params["TagSpecifications"] = [
                {
                    "ResourceType": "vpc-flow-log",
                    "Tags": [{"Key": k, "Value": v} for k, v in sorted(desired.tags.items())],
                }
            ]
        requests.append(params)
    return requests


def planned_view(plan: VpcPlan, desired: Desired, flow_log_id: str | None) -> dict[str, Any]:
    """What a VPC's flow log looks like after the run (created or kept)."""
    return {
        "vpc_id": plan.vpc_id,
        "action": plan.action,
        "flow_log_id": flow_log_id,
        "log_group_name": desired.log_group_name,
        "differences": list(plan.differences),
        "other_flow_logs": list(plan.other_flow_logs),
    }
