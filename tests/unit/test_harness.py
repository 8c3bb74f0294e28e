"""The embedded-AWS harness itself: it starts, serves managed policies, resets, and stops."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

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


# Runs in a child process: it answers a set of calls with moto's serializer as it is, then lightened
# (moto_server._memoize_attribute_keys), and prints whether every body came out byte for byte the same.
SAME_ANSWERS = r"""
import json, os, re, sys
os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1"
)
sys.path.insert(0, sys.argv[1])
import boto3, botocore.exceptions, moto_server
from moto import mock_aws

REQUEST_ID = re.compile(rb"<(RequestId|requestId)>[^<]*</(RequestId|requestId)>|\"RequestId\": \"[^\"]*\"")


def answers():
    bodies = []
    session = boto3.session.Session()
    session.events.register(
        "before-parse", lambda response_dict, **_: bodies.append(REQUEST_ID.sub(b"", response_dict["body"]))
    )
    ec2 = session.client("ec2")
    iam = session.client("iam", region_name="us-east-1")
    logs = session.client("logs")
    ec2.describe_instances()
    ec2.describe_iam_instance_profile_associations()
    ec2.describe_vpcs()
    ec2.describe_security_groups()
    iam.get_instance_profile(InstanceProfileName="p")
    iam.list_roles()
    iam.get_role(RoleName="r")
    iam.list_attached_role_policies(RoleName="r")
    logs.describe_log_groups()
    try:
        ec2.describe_instances(InstanceIds=["i-00000000000000000"])
    except botocore.exceptions.ClientError:
        pass
    return bodies


with mock_aws():
    ec2 = boto3.client("ec2")
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}", Tags=[{"Key": "gdpr", "Value": "yes"}])
    policy = iam.create_policy(PolicyName="gdpr", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    ))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="r", PolicyArn=policy)
    iam.create_instance_profile(InstanceProfileName="p")
    iam.add_role_to_instance_profile(InstanceProfileName="p", RoleName="r")
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId="ami-1e749f67", MinCount=3, MaxCount=3,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}],
    )["Instances"]]
    ec2.associate_iam_instance_profile(InstanceId=ids[0], IamInstanceProfile={"Name": "p"})
    ec2.stop_instances(InstanceIds=[ids[1]])
    boto3.client("logs").create_log_group(logGroupName="/gdpr/a", tags={"k": "v"})
    before = answers()
    moto_server._memoize_attribute_keys()
    after, again = answers(), answers()
print(json.dumps({"calls": len(before), "same": before == after == again,
                  "instances": before[0].count(b"<instanceId>")}))
"""


def test_lightened_serializer_answers_byte_for_byte_the_same(tmp_path) -> None:
    """The serializer memos of moto_server (alias names, transformers, XML names) change no answer:
    EC2 (instances in two states, tags, an association, VPCs, an error), IAM and CloudWatch Logs,
    before and after lightening, twice after (a memo filled on the first pass is used on the second)."""
    script = tmp_path / "same_answers.py"
    script.write_text(SAME_ANSWERS)
    harness = Path(moto_server.__file__).parent
    out = subprocess.run(
        [sys.executable, str(script), str(harness)], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.splitlines()[-1])
    assert result == {"calls": 10, "same": True, "instances": 3}
