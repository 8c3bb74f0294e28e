"""The flow_logs role on the embedded AWS, controller only (ansible-playbook playbooks/flow_logs.yml).

One estate, one scenario: two monitored instances' VPCs (eu-west-1, and eu-central-1 where the VPC
already has a flow log to the same group, made by hand) read from aws_ec2-like hostvars, plus a host
without a VPC. ``--check`` first changes nothing; the converge gives each VPC exactly one flow log to
its region's group (the existing one kept, not doubled), groups with retention and a KMS key, a
delivery role scoped to those groups; a second run changes nothing. Bad inputs are refused before
any write, naming the variable.

Where moto differs from AWS: it accepts a second flow log for the same VPC and group (AWS answers
FlowLogAlreadyExists), so "kept, not doubled" is the role's own doing here; it delivers no records.
"""

from __future__ import annotations

import json

import boto3
import pytest
from controller_play import changed_count, inventory, run_play
from test_controller_guards import run_cases

GROUP = "/gdpr/prod/vpc-flow-logs"
ROLE = "gdpr-vpc-flow-logs-delivery"


def ec2(region: str):
    return boto3.client("ec2", region_name=region)


def default_vpc(region: str) -> str:
    return ec2(region).describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def our_flow_logs(region: str, vpc: str) -> list[dict]:
    logs = ec2(region).describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
    return [f for f in logs if f.get("LogGroupName") == GROUP]


@pytest.fixture
def estate(aws, tmp_path):
    west, central = default_vpc("eu-west-1"), default_vpc("eu-central-1")
    kept = ec2("eu-central-1").create_flow_logs(
        ResourceIds=[central],
        ResourceType="VPC",
        TrafficType="REJECT",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=GROUP,
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/hand-made",
    )["FlowLogIds"][0]
    hosts = {
        "web-west": {"vpc_id": west, "placement": {"region": "eu-west-1"}},
        "web-central": {"vpc_id": central, "placement": {"region": "eu-central-1"}},
        "onprem": {"ansible_host": "192.0.2.10"},
    }
    return {"west": west, "central": central, "kept": kept, "inventory": inventory(tmp_path, hosts)}


def test_check_converge_idempotence_and_end_state(estate):
    inv = estate["inventory"]
    check = run_play("flow_logs", {}, "--check", "--diff", inventory_path=inv)
    assert check.returncode == 0, check.stdout[-3000:]
    assert changed_count(check) > 0
    assert our_flow_logs("eu-west-1", estate["west"]) == []
    assert boto3.client("logs", region_name="eu-west-1").describe_log_groups()["logGroups"] == []
    assert boto3.client("iam", region_name="us-east-1").list_roles()["Roles"] == []

    first = run_play("flow_logs", {}, inventory_path=inv)
    assert first.returncode == 0, first.stdout[-3000:]
    # The hand-made flow log differs (REJECT, AWS's default format): kept, and the run says so.
    assert f"keeps flow log {estate['kept']}" in first.stdout + first.stderr

    role = boto3.client("iam", region_name="us-east-1").get_role(RoleName=ROLE)["Role"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"]["Service"] == "vpc-flow-logs.amazonaws.com"
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    policy = boto3.client("iam", region_name="us-east-1").get_role_policy(
        RoleName=ROLE, PolicyName="gdpr-vpc-flow-logs-delivery"
    )["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    actions = {
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "logs:CreateLogGroup" not in actions and "logs:PutLogEvents" in actions

    [west] = our_flow_logs("eu-west-1", estate["west"])
    assert west["DeliverLogsPermissionArn"] == role["Arn"]
    assert west["TrafficType"] == "ALL" and "${tcp-flags}" in west["LogFormat"]
    [central] = our_flow_logs("eu-central-1", estate["central"])
    assert central["FlowLogId"] == estate["kept"]
    for region in ("eu-west-1", "eu-central-1"):
        [group] = boto3.client("logs", region_name=region).describe_log_groups(logGroupNamePrefix=GROUP)[
            "logGroups"
        ]
        assert group["retentionInDays"] == 365
        assert group.get("kmsKeyId", "").startswith(f"arn:aws:kms:{region}:")

    second = run_play("flow_logs", {}, inventory_path=inv)
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second) == 0, second.stdout[-3000:]
    assert len(our_flow_logs("eu-west-1", estate["west"])) == 1


# Each refusal with the message that must name its variable. Malformed VPC IDs and a wrong traffic
# type are refused the same way without a case each (module_utils planning tests; argument spec choices).
BAD_INPUTS = {
    "missing-vpc": (
        {"flow_logs_vpcs": {"eu-west-1": ["vpc-0123456789abcdef0"]}},
        "flow_logs_vpcs.eu-west-1: no such VPC",
    ),
    "region-typo": (
        {"flow_logs_vpcs": {"eu-wset-1": ["vpc-12345678"]}},
        "eu-wset-1 in flow_logs_vpcs (did you mean eu-west-1?)",
    ),
    "format": (
        {"flow_logs_log_format": "${srcaddr} ${dst-addr}"},
        "flow_logs_log_format: unknown flow log field(s): dst-addr",
    ),
    "retention-shortened": (
        {"flow_logs_all_vpcs": True, "flow_logs_regions": ["eu-west-1"], "flow_logs_retention_days": 7},
        "shorten",
    ),
}


def test_bad_input_is_refused_before_any_write(aws, tmp_path):
    """Every refusal as a case of ONE ansible-playbook run (run_cases); the end state, read after all
    of them, shows that none wrote anything."""
    logs = boto3.client("logs", region_name="eu-west-1")
    logs.create_log_group(logGroupName=GROUP)
    logs.put_retention_policy(logGroupName=GROUP, retentionInDays=3653)
    _run, results = run_cases(
        tmp_path, "flow_logs", {name: case for name, (case, _msg) in BAD_INPUTS.items()}
    )
    for name, (_case, message) in BAD_INPUTS.items():
        assert results[name]["failed"], (name, results[name])
        assert message in results[name]["msg"], (name, results[name]["msg"])
    assert ec2("eu-west-1").describe_flow_logs()["FlowLogs"] == []
    assert boto3.client("iam", region_name="us-east-1").list_roles()["Roles"] == []
    assert boto3.client("kms", region_name="eu-west-1").list_keys()["Keys"] == []
    assert [g["retentionInDays"] for g in logs.describe_log_groups()["logGroups"]] == [3653]
