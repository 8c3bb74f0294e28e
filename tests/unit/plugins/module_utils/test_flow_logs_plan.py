"""Planning of the vpc_flow_logs module (plugins/module_utils/flow_logs.py): pure, no AWS."""

from __future__ import annotations

from ansible_collections.gdpr.aws_monitoring.plugins.filter.flow_logs import flow_logs_groups, host_vpcs
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.flow_logs import (
    AWS_DEFAULT_FORMAT,
    CREATE_BATCH,
    DEFAULT_FORMAT,
    Desired,
    create_requests,
    flow_log_view,
    format_problems,
    log_group_of,
    plan_region,
    vpc_id_problems,
)

GROUP = "/gdpr/prod/vpc-flow-logs"
VPC_A = "vpc-0123456789abcdef0"
VPC_B = "vpc-11111111"


def raw(flow_log_id: str, vpc: str, **extra: object) -> dict:
    base = {
        "FlowLogId": flow_log_id,
        "ResourceId": vpc,
        "LogDestinationType": "cloud-watch-logs",
        "LogGroupName": GROUP,
        "TrafficType": "ALL",
        "LogFormat": DEFAULT_FORMAT,
        "MaxAggregationInterval": 600,
        "FlowLogStatus": "ACTIVE",
    }
    base.update(extra)
    return base


def test_default_format_is_valid_and_carries_what_an_incident_needs():
    assert format_problems(DEFAULT_FORMAT, "flow_logs_log_format") == []
    for field in (
        "srcaddr",
        "dstaddr",
        "dstport",
        "action",
        "vpc-id",
        "instance-id",
        "tcp-flags",
        "pkt-srcaddr",
    ):
        assert "${" + field + "}" in DEFAULT_FORMAT


def test_bad_formats_are_named_by_the_callers_variable():
    problems = format_problems("${srcaddr} srcaddr ${nope} ${srcaddr}", "flow_logs_log_format")
    text = "; ".join(problems)
    assert "flow_logs_log_format" in text
    assert "srcaddr" in text and "nope" in text and "more than once" in text
    assert format_problems("   ", "x") == ["x: the format is empty"]


def test_malformed_vpc_ids_are_named_with_their_region():
    problems = vpc_id_problems({"eu-west-1": [VPC_A, "vpc-xyz"], "eu-central-1": [VPC_B]}, "flow_logs_vpcs")
    assert problems == ["flow_logs_vpcs.eu-west-1: not VPC IDs (vpc-<8 or 17 hex digits>): vpc-xyz"]


def test_log_group_read_from_name_or_destination_arn_and_none_for_s3():
    assert log_group_of(raw("fl-1", VPC_A)) == GROUP
    by_arn = {"LogDestination": f"arn:aws:logs:eu-west-1:111122223333:log-group:{GROUP}:*"}
    assert log_group_of(by_arn) == GROUP
    assert log_group_of({"LogDestination": f"arn:aws:logs:eu-west-1:111122223333:log-group:{GROUP}"}) == GROUP
    assert log_group_of({"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::b"}) is None


def test_a_flow_log_to_the_same_group_is_kept_and_differences_reported():
    desired = Desired(log_group_name=GROUP, traffic_type="ALL", max_aggregation_interval=60)
    existing = [flow_log_view(raw("fl-1", VPC_A, TrafficType="REJECT", LogFormat=None))]
    [plan] = plan_region([VPC_A], existing, desired)
    assert plan.action == "keep" and plan.flow_log_id == "fl-1"
    assert "traffic_type REJECT (wanted ALL)" in plan.differences
    assert "log_format differs" in plan.differences  # no LogFormat = AWS's default format
    assert "max_aggregation_interval 600 (wanted 60)" in plan.differences
    assert flow_log_view(raw("fl-1", VPC_A, LogFormat=None))["log_format"] == AWS_DEFAULT_FORMAT


def test_flow_logs_to_other_destinations_do_not_count_and_are_left_alone():
    desired = Desired(log_group_name=GROUP)
    existing = [
        flow_log_view(raw("fl-s3", VPC_A, LogDestinationType="s3", LogGroupName=None)),
        flow_log_view(raw("fl-other", VPC_A, LogGroupName="/app/flows")),
        flow_log_view(raw("fl-b", VPC_B)),
    ]
    plan_a, plan_b = plan_region([VPC_B, VPC_A, VPC_A], existing, desired)
    assert (plan_a.vpc_id, plan_a.action, plan_a.other_flow_logs) == (VPC_A, "create", ["fl-other", "fl-s3"])
    assert (plan_b.vpc_id, plan_b.action, plan_b.differences) == (VPC_B, "keep", [])


def test_an_active_flow_log_is_preferred_when_moto_holds_duplicates():
    desired = Desired(log_group_name=GROUP)
    existing = [
        flow_log_view(raw("fl-0", VPC_A, FlowLogStatus="INACTIVE")),
        flow_log_view(raw("fl-9", VPC_A)),
    ]
    [plan] = plan_region([VPC_A], existing, desired)
    assert plan.flow_log_id == "fl-9" and plan.other_flow_logs == []


def test_create_requests_are_batched_and_tagged():
    vpcs = [f"vpc-{i:08x}" for i in range(CREATE_BATCH + 3)]
    desired = Desired(log_group_name=GROUP, tags={"b": "2", "a": "1"})
    requests = create_requests(vpcs, desired, "arn:aws:iam::111122223333:role/r")
    assert [len(r["ResourceIds"]) for r in requests] == [CREATE_BATCH, 3]
    first = requests[0]
    assert first["LogGroupName"] == GROUP and first["LogDestinationType"] == "cloud-watch-logs"
    assert first["DeliverLogsPermissionArn"] == "arn:aws:iam::111122223333:role/r"
    assert first["TagSpecifications"][0]["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


def test_host_vpcs_from_aws_ec2_hostvars_skip_hosts_without_a_vpc():
    hostvars = {
        "web1": {"vpc_id": VPC_A, "placement": {"region": "eu-west-1"}},
        "web2": {"vpc_id": VPC_A, "placement": {"region": "eu-west-1"}},
        "db": {"vpc_id": VPC_B, "placement": {"region": "eu-central-1"}},
        "onprem": {"ansible_host": "10.0.0.1"},
    }
    assert host_vpcs(hostvars, ["web1", "web2", "db", "onprem", "missing"]) == {
        "eu-central-1": [VPC_B],
        "eu-west-1": [VPC_A],
    }


def test_flow_logs_groups_one_per_region():
    assert flow_logs_groups(["b", "a", "a"], GROUP, 731, {"k": "v"}) == [
        {"name": GROUP, "region": "a", "retention_in_days": 731, "tags": {"k": "v"}},
        {"name": GROUP, "region": "b", "retention_in_days": 731, "tags": {"k": "v"}},
    ]
