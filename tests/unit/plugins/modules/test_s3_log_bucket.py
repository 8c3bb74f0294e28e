"""gdpr.aws_monitoring.s3_log_bucket's writes (``apply``) against botocore's Stubber.

Why the Stubber: the faults these tests need (HeadBucket answering 503 once, right after
CreateBucket) are what the fault proxy produced at random in tests/integration/test_faults_records.py;
the Stubber makes them deterministic and also fixes the order of the calls, which is what the
second test is about. Each request is validated against botocore's S3 model.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import log_archive as plan
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator
from ansible_collections.gdpr.aws_monitoring.plugins.modules import s3_log_bucket as module

NAME = "gdpr-cloudtrail-123456789012-eu-west-1"
REGION = "eu-west-1"
TAGS = {"ManagedBy": "gdpr.aws_monitoring", "gdpr-monitoring:managed-by": "gdpr.aws_monitoring"}


@pytest.fixture
def s3() -> Any:
    """An S3 client as the module gets it (the collection's retries on ``aws_retry=True``), stubbed."""
    client = boto3.client(
        "s3", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield RetryingBotoClientWrapper(client, retry_decorator()), stubber
        stubber.assert_no_pending_responses()


def _new_bucket_diff() -> dict[str, Any]:
    want = {
        "public_access_block": {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
        "object_ownership": "BucketOwnerEnforced",
        "encryption": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
        "versioning": "Enabled",
        "policy": {"Version": "2012-10-17", "Statement": []},
        "tags": TAGS,
    }
    return module.differences(None, want, 365)


def _expect_create(stubber: Stubber) -> None:
    stubber.add_response(
        "create_bucket",
        {"Location": f"/{NAME}"},
        {
            "Bucket": NAME,
            "ObjectOwnership": "BucketOwnerEnforced",
            "CreateBucketConfiguration": {"LocationConstraint": REGION},
        },
    )


def _expect_configuration(stubber: Stubber) -> None:
    """Everything after the ownership tag, in the order apply writes it."""
    for call in (
        "put_public_access_block",
        "put_bucket_ownership_controls",
        "put_bucket_encryption",
        "put_bucket_versioning",
        "put_bucket_policy",
    ):
        stubber.add_response(call, {}, None)


def _expect_retention(stubber: Stubber) -> None:
    """The retention rule, before the tags: a tagged bucket without it would look kept forever."""
    rules = [plan.retention_rule(365)]
    stubber.add_response(
        "put_bucket_lifecycle_configuration", {}, {"Bucket": NAME, "LifecycleConfiguration": {"Rules": rules}}
    )


def test_a_new_bucket_is_awaited_through_throttling(s3: Any) -> None:
    """S3 answers HeadBucket 503 (SlowDown, no body on a HEAD) right after CreateBucket: retried as
    any throttled call. Before the fix the SDK's bucket_exists waiter (no retries of its own on the
    module's clients) failed the run with "Waiter BucketExists failed: An error occurred (503)"."""
    client, stubber = s3
    _expect_create(stubber)
    stubber.add_client_error("head_bucket", service_error_code="503", http_status_code=503)
    stubber.add_response("head_bucket", {}, {"Bucket": NAME})
    _expect_retention(stubber)
    stubber.add_response("put_bucket_tagging", {}, {"Bucket": NAME, "Tagging": ANY})
    _expect_configuration(stubber)
    module.apply(client, NAME, REGION, _new_bucket_diff())


def test_a_new_bucket_is_marked_as_ours_before_it_is_configured(s3: Any) -> None:
    """The retention rule and then the ownership tag are the first writes after the bucket exists.
    A run cut short later (the endpoint dropped at PutBucketPolicy in test_faults_records) leaves a
    bucket the rerun finishes. Before the fix the tag came last (the rerun refused the half-made
    bucket as someone else's), and then the retention came last (the rerun refused to "shorten" a
    tagged bucket that had no expiry yet)."""
    client, stubber = s3
    _expect_create(stubber)
    stubber.add_client_error("head_bucket", service_error_code="404", http_status_code=404)
    stubber.add_response("head_bucket", {}, {"Bucket": NAME})
    _expect_retention(stubber)
    stubber.add_response(
        "put_bucket_tagging",
        {},
        {"Bucket": NAME, "Tagging": {"TagSet": [{"Key": k, "Value": v} for k, v in sorted(TAGS.items())]}},
    )
    _expect_configuration(stubber)
    module.apply(client, NAME, REGION, _new_bucket_diff())


def test_an_existing_bucket_gets_its_missing_configuration_only(s3: Any) -> None:
    """No create, no HeadBucket wait: only what differs is written, tags still before the rest."""
    client, stubber = s3
    stubber.add_response("put_bucket_tagging", {}, {"Bucket": NAME, "Tagging": ANY})
    stubber.add_response("put_bucket_policy", {}, None)
    module.apply(client, NAME, REGION, {"policy": {"Version": "2012-10-17", "Statement": []}, "tags": TAGS})
