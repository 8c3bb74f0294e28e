"""The embedded-AWS harness itself: it starts, serves managed policies, resets, and stops."""

from __future__ import annotations

import socket
import urllib.parse

import boto3
import moto_server


def test_managed_policies_are_loaded(aws: str) -> None:
    iam = boto3.client("iam", endpoint_url=aws)
    arn = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PolicyName"] == "CloudWatchAgentServerPolicy"


def test_reset_clears_state(aws: str) -> None:
    logs = boto3.client("logs", endpoint_url=aws, region_name="eu-west-1")
    logs.create_log_group(logGroupName="/gdpr/test/reset")
    moto_server.reset(aws)
    assert logs.describe_log_groups()["logGroups"] == []


def test_reset_clears_every_service_and_region_then_serves_them_again(aws: str) -> None:
    """The lightened reset (moto_server._lighten_moto) drops backends without re-creating them: what
    a test made in any service, region or S3 object is gone, and each service comes back on its next
    call as new, managed IAM policies included."""
    ec2 = {r: boto3.client("ec2", endpoint_url=aws, region_name=r) for r in ("eu-west-1", "us-east-1")}
    iam = boto3.client("iam", endpoint_url=aws)
    s3 = boto3.client("s3", endpoint_url=aws, region_name="us-east-1")
    for client in ec2.values():
        client.create_vpc(CidrBlock="10.9.0.0/16")
    iam.create_role(RoleName="gdpr-reset-test", AssumeRolePolicyDocument="{}")
    s3.create_bucket(Bucket="gdpr-reset-test")
    s3.put_object(Bucket="gdpr-reset-test", Key="k", Body=b"personal data")

    moto_server.reset(aws)

    for client in ec2.values():  # only each region's default VPC is left
        assert [v["CidrBlock"] for v in client.describe_vpcs()["Vpcs"]] == ["172.31.0.0/16"]
    assert "gdpr-reset-test" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert s3.list_buckets()["Buckets"] == []
    test_managed_policies_are_loaded(aws)
    s3.create_bucket(Bucket="gdpr-reset-test")
    assert s3.list_objects_v2(Bucket="gdpr-reset-test").get("Contents", []) == []


def test_run_stops_server_afterwards(tmp_path) -> None:
    with moto_server.running() as endpoint:
        port = urllib.parse.urlsplit(endpoint).port
        boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1").get_caller_identity()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_endpoint_env_points_amazon_aws_and_boto3_at_server() -> None:
    env = moto_server.endpoint_env("http://127.0.0.1:1234")
    assert env["AWS_URL"] == env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
