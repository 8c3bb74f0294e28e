"""Planning rules of the log buckets (module_utils/log_archive.py and s3_log_bucket's plan)."""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import log_archive as plan
from ansible_collections.gdpr.aws_monitoring.plugins.modules import s3_log_bucket

PARAMS = {
    "name": "gdpr-logs",
    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/k",
    "retention_days": 365,
    "allow_retention_decrease": False,
    "adopt_existing": False,
    "service_statements": [],
    "require_kms_upload": True,
    "tags": {},
    "variable_names": {
        "name": "trail_bucket",
        "retention_days": "trail_days",
        "allow_retention_decrease": "trail_allow",
        "adopt_existing": "trail_adopt",
    },
}


@pytest.mark.parametrize(
    "name",
    ["ab", "Logs", "a_b", "-abc", "abc-", "a..b", "a.-b", "192.168.1.1", "xn--abc", "abc-s3alias", "a" * 64],
)
def test_invalid_bucket_names_are_named(name):
    assert plan.bucket_name_problem(name)


@pytest.mark.parametrize("name", ["abc", "gdpr-trail-123456789012", "logs.example.com", "a" * 63])
def test_valid_bucket_names_pass(name):
    assert plan.bucket_name_problem(name) is None


def test_retention_counts_enabled_whole_bucket_rules_only():
    rules = [
        {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}},
        {"ID": "y", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 2}},
        {"ID": "z", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 90}},
    ]
    assert plan.current_retention(rules) == 90
    assert plan.current_retention(rules[:2]) is None


def test_shortening_includes_a_bucket_that_never_expired():
    assert plan.shortens(None, True, 365)
    assert plan.shortens(400, True, 365)
    assert not plan.shortens(365, True, 400)
    assert not plan.shortens(None, False, 1)


def test_lifecycle_keeps_other_rules_and_rewrites_only_its_own():
    other = {"ID": "team", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}
    written = plan.planned_lifecycle([other], 30)
    assert written == [other, plan.retention_rule(30)]
    assert plan.planned_lifecycle(written, 30) is None
    assert plan.planned_lifecycle([other, plan.retention_rule(10)], 30) == [other, plan.retention_rule(30)]
    assert plan.planned_lifecycle([other], None) is None


def test_policies_compare_as_s3_stores_them():
    wanted = plan.desired_policy("b", "eu-west-1", [], True)
    stored = {
        "Version": "2012-10-17",
        "Statement": [
            {**wanted["Statement"][1], "Resource": ["arn:aws:s3:::b/*"]},
            {**wanted["Statement"][0], "Resource": list(reversed(wanted["Statement"][0]["Resource"]))},
        ],
    }
    assert plan.policies_equal(stored, wanted)
    assert not plan.policies_equal(stored, plan.desired_policy("b", "eu-west-1", [], False))
    assert not plan.policies_equal(None, wanted)


def test_refusals_name_the_callers_variables():
    assert "trail_bucket: 'Bad' is not a valid" in s3_log_bucket.refusal(
        {**PARAMS, "name": "Bad"}, "eu-west-1", None
    )
    foreign = {"tags": {}, "region": "eu-west-1", "lifecycle": []}
    msg = s3_log_bucket.refusal(PARAMS, "eu-west-1", foreign)
    assert "trail_bucket: the bucket 'gdpr-logs' exists" in msg and "trail_adopt: true" in msg
    ours = {"tags": {plan.MANAGED_BY_KEY: plan.MANAGED_BY_VALUE}, "region": "eu-west-1"}
    longer = {**ours, "lifecycle": [plan.retention_rule(400)]}
    msg = s3_log_bucket.refusal(PARAMS, "eu-west-1", longer)
    assert "trail_days: 365 days would shorten" in msg and "400 days" in msg and "trail_allow: true" in msg
    assert s3_log_bucket.refusal({**PARAMS, "allow_retention_decrease": True}, "eu-west-1", longer) is None
    assert "is in us-east-1" in s3_log_bucket.refusal(PARAMS, "eu-west-1", {**longer, "region": "us-east-1"})


def test_an_up_to_date_bucket_has_no_differences_and_tags_are_only_added():
    want = s3_log_bucket.desired(PARAMS, "eu-west-1", None)
    current = {
        "region": "eu-west-1",
        "tags": {"team": "x", **want["tags"]},
        "public_access_block": want["public_access_block"],
        "object_ownership": "BucketOwnerEnforced",
        "encryption": [want["encryption"]],
        "versioning": "Enabled",
        "policy": want["policy"],
        "lifecycle": [plan.retention_rule(365)],
    }
    assert s3_log_bucket.differences(current, want, 365) == {}
    changed = s3_log_bucket.differences({**current, "tags": {"team": "x"}}, want, 365)
    assert changed == {"tags": {"team": "x", **want["tags"]}}
    created = s3_log_bucket.differences(None, want, 365)
    assert set(created) == {
        "create",
        "public_access_block",
        "object_ownership",
        "encryption",
        "versioning",
        "policy",
        "lifecycle",
        "tags",
    }


TRAIL_WRITES = {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "x/t/*"}
CONFIG_WRITES = {"Sid": "AWSConfigBucketDelivery", "Effect": "Allow", "Resource": "x/c/*"}
USER_READS = {"Sid": "AuditorsRead", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "x/*"}
NO_SID = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "x/*"}


def test_policy_keeps_other_services_and_the_users_statements():
    """A bucket CloudTrail and Config share: each caller's run writes its own statements by Sid and
    keeps the other's, and a statement the user added (with or without a Sid) stays."""
    trail = {**PARAMS, "service_statements": [TRAIL_WRITES]}
    config = {**PARAMS, "service_statements": [CONFIG_WRITES]}
    by_trail = s3_log_bucket.desired(trail, "eu-west-1", None)["policy"]
    current = {"policy": {**by_trail, "Statement": [*by_trail["Statement"], USER_READS, NO_SID]}}
    by_config = s3_log_bucket.desired(config, "eu-west-1", current)["policy"]
    sids = [s.get("Sid") for s in by_config["Statement"]]
    assert sids == [
        "AWSConfigBucketDelivery",
        plan.TLS_SID,
        plan.KMS_UPLOAD_SID,
        "AWSCloudTrailWrite",
        "AuditorsRead",
        None,
    ]
    # The trail's next run changes nothing: Config's statements are not someone to remove.
    again = s3_log_bucket.desired(trail, "eu-west-1", {"policy": by_config})["policy"]
    assert plan.policies_equal(by_config, again)


def test_the_kms_upload_deny_is_the_collections_own_and_dropped_when_not_wanted():
    with_deny = s3_log_bucket.desired(PARAMS, "eu-west-1", None)["policy"]
    current = {"policy": {**with_deny, "Statement": [*with_deny["Statement"], USER_READS]}}
    without = s3_log_bucket.desired({**PARAMS, "require_kms_upload": False}, "eu-west-1", current)["policy"]
    assert [s["Sid"] for s in without["Statement"]] == [plan.TLS_SID, "AuditorsRead"]


# A general purpose bucket as AWS makes it today (Block Public Access on, ACLs disabled, SSE-S3), as
# s3_log_bucket.read_bucket reads it; moto leaves these unset, so the module test cannot show them.
AWS_NEW_BUCKET = {
    "region": "eu-west-1",
    "tags": {},
    "public_access_block": plan.public_access_block(),
    "object_ownership": "BucketOwnerEnforced",
    "encryption": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
    ],
    "versioning": None,
    "policy": None,
    "lifecycle": [],
}


@pytest.mark.parametrize(
    ("change", "blank"),
    [
        ({}, True),
        ({"lifecycle": [plan.retention_rule(30)]}, True),
        ({"public_access_block": None, "object_ownership": None, "encryption": None}, True),
        ({"tags": {"owner": "app"}}, False),
        ({"policy": {"Version": "2012-10-17", "Statement": []}}, False),
        ({"lifecycle": [plan.retention_rule(30), {"ID": "archive", "Status": "Enabled"}]}, False),
        ({"versioning": "Suspended"}, False),
        ({"public_access_block": {**plan.public_access_block(), "BlockPublicPolicy": False}}, False),
        ({"object_ownership": "ObjectWriter"}, False),
        ({"encryption": [plan.encryption_rule("arn:aws:kms:eu-west-1:123456789012:key/k")]}, False),
    ],
)
def test_blank_is_what_create_bucket_and_the_retention_rule_leave_and_nothing_more(change, blank):
    assert plan.is_blank({**AWS_NEW_BUCKET, **change}) is blank
