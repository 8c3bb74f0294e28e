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
