"""The S3 rows of the fault proxy's operation log (tests/harness/fault_proxy_s3.py): S3's API
operations authorized by IAM actions of other names, checked against the Permissions text botocore
ships for each operation and with real boto3 calls through the proxy to moto."""

from __future__ import annotations

import html
import re
from typing import Any

import boto3
import botocore.config
import botocore.session
import fault_proxy
import fault_proxy_s3
import pytest

NO_RETRY = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})
S3_MODEL = botocore.session.get_session().get_service_model("s3")


def documented_actions(operation: str) -> set[str]:
    """The s3: actions the operation's API reference names (its Permissions section)."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", S3_MODEL.operation_model(operation).documentation or ""))
    return set(re.findall(r"s3:[A-Za-z]+", text))


def test_every_row_is_an_s3_operation_and_agrees_with_its_api_reference() -> None:
    """A row naming an operation botocore does not know, or an action other than the one the
    operation's reference says (where it says one), is a wrong row."""
    for operation, action in fault_proxy_s3.S3_ACTION_BY_OPERATION.items():
        assert operation in S3_MODEL.operation_names, operation
        named = documented_actions(operation)
        if named:
            assert action in named, (operation, action, sorted(named))


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("HeadBucket", "s3:ListBucket"),
        ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
        ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
        ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
        ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
        ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        ("DeleteBucketTagging", "s3:PutBucketTagging"),
        ("ListObjectVersions", "s3:ListBucketVersions"),
    ],
)
def test_operations_whose_action_has_another_name(operation: str, action: str) -> None:
    assert fault_proxy_s3.iam_actions(operation, {}) == (action,)


@pytest.mark.parametrize(
    ("headers", "actions"),
    [
        ({}, ("s3:CreateBucket",)),
        ({"x-amz-acl": "private"}, ("s3:CreateBucket",)),
        (
            {"X-Amz-Object-Ownership": "BucketOwnerEnforced"},
            ("s3:CreateBucket", "s3:PutBucketOwnershipControls"),
        ),
        ({"x-amz-acl": "public-read"}, ("s3:CreateBucket", "s3:PutBucketAcl")),
        (
            {"x-amz-bucket-object-lock-enabled": "True", "x-amz-grant-read": "id=1"},
            (
                "s3:CreateBucket",
                "s3:PutBucketAcl",
                "s3:PutBucketObjectLockConfiguration",
                "s3:PutBucketVersioning",
            ),
        ),
    ],
)
def test_create_bucket_needs_more_with_some_headers(
    headers: dict[str, str], actions: tuple[str, ...]
) -> None:
    assert fault_proxy_s3.iam_actions("CreateBucket", headers) == actions


def test_an_operation_missing_from_the_table_has_no_action() -> None:
    assert fault_proxy_s3.iam_actions("GetBucketWebsite", {}) == ()
    assert fault_proxy_s3.iam_actions(None, {}) == ()


@pytest.fixture
def proxy(moto_endpoint: str) -> Any:
    with fault_proxy.FaultProxy(moto_endpoint) as running:
        yield running


def test_the_log_names_the_iam_actions_of_real_s3_calls(proxy: fault_proxy.FaultProxy) -> None:
    """What s3_log_bucket sends, through the proxy: each call logged with the action AWS checks,
    CreateBucket with the one its x-amz-object-ownership header adds; an operation the table lacks
    is listed by unidentified_calls (a least-privilege proof fails on it)."""
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=proxy.endpoint, config=NO_RETRY)
    name = "gdpr-proxy-s3-actions"
    s3.create_bucket(
        Bucket=name,
        ObjectOwnership="BucketOwnerEnforced",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    s3.head_bucket(Bucket=name)
    s3.get_bucket_location(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.get_bucket_encryption(Bucket=name)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=name)
    s3.list_object_versions(Bucket=name)
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_website(Bucket=name)
    records = proxy.operations()
    assert [(r["operation"], r["actions"]) for r in records] == [
        ("CreateBucket", ["s3:CreateBucket", "s3:PutBucketOwnershipControls"]),
        ("HeadBucket", ["s3:ListBucket"]),
        ("GetBucketLocation", ["s3:GetBucketLocation"]),
        ("PutBucketVersioning", ["s3:PutBucketVersioning"]),
        ("PutBucketEncryption", ["s3:PutEncryptionConfiguration"]),
        ("GetBucketEncryption", ["s3:GetEncryptionConfiguration"]),
        ("PutPublicAccessBlock", ["s3:PutBucketPublicAccessBlock"]),
        ("GetBucketLifecycleConfiguration", ["s3:GetLifecycleConfiguration"]),
        ("ListObjectVersions", ["s3:ListBucketVersions"]),
        ("GetBucketWebsite", []),
    ]
    assert records[0]["action"] == "s3:CreateBucket"
    assert {r["region"] for r in records} == {"eu-west-1"}
    assert "s3:PutBucketOwnershipControls" in proxy.actions()
    assert proxy.unidentified_calls() == {"s3:GetBucketWebsite"}
