"""gdpr.aws_monitoring.s3_log_bucket, in-process against the embedded AWS (``aws`` fixture): a bucket a
run left unfinished.

The gap tests/integration/test_faults_records.py found: the endpoint lost right after CreateBucket
(before the retention rule and the tags) left a bucket every rerun refused as someone else's. With
``recover_unfinished`` (what a role sets for a name it derived itself, never for one the user gave) a
bucket that carries nothing but what CreateBucket and the collection's own retention rule leave, and
holds no object, is finished; anything more on it (one tag, a policy, someone's lifecycle rule,
versioning, a KMS key, one object) and it is still refused, untouched.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from module_run import ModuleExit, run_main

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import log_archive as plan
from ansible_collections.gdpr.aws_monitoring.plugins.modules import s3_log_bucket as module

REGION = "eu-west-1"
NAME = "gdpr-cloudtrail-123456789012-eu-west-1"


def s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def run(check_mode: bool = False, name: str = NAME, **extra: Any) -> ModuleExit:
    args = {
        "name": name,
        "region": REGION,
        "retention_days": 365,
        "variable_names": {
            "name": "cloudtrail_bucket_name",
            "adopt_existing": "cloudtrail_bucket_adopt_existing",
        },
        **extra,
        "_ansible_check_mode": check_mode,
    }
    return run_main(module, args)


def cut_short_after_create(with_retention: bool = False, name: str = NAME) -> None:
    """What the module's CreateBucket leaves when the run dies before its next write (or, with
    ``with_retention``, right after the retention rule, before the tags)."""
    s3().create_bucket(
        Bucket=name,
        ObjectOwnership="BucketOwnerEnforced",
        CreateBucketConfiguration={"LocationConstraint": REGION},
    )
    if with_retention:
        s3().put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [plan.retention_rule(365)]}
        )


def tags(name: str = NAME) -> dict[str, str]:
    try:
        return {t["Key"]: t["Value"] for t in s3().get_bucket_tagging(Bucket=name)["TagSet"]}
    except s3().exceptions.ClientError:
        return {}


def lifecycle(name: str = NAME) -> list[dict[str, Any]]:
    try:
        return s3().get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    except s3().exceptions.ClientError:
        return []


@pytest.mark.parametrize("with_retention", [False, True], ids=["after-create", "after-retention"])
def test_a_bucket_cut_short_before_its_tags_is_finished_under_the_derived_name(aws, with_retention) -> None:
    cut_short_after_create(with_retention)
    checked = run(check_mode=True, recover_unfinished=True)
    assert not checked.failed, checked.result["msg"]
    assert checked.result["changed"] and checked.result["recovered"]
    assert tags() == {}, "--check wrote the tags"

    done = run(recover_unfinished=True)
    assert not done.failed, done.result["msg"]
    assert done.result["recovered"] is True
    assert any("left unfinished" in w for w in done.warnings), done.warnings
    assert tags()[plan.MANAGED_BY_KEY] == plan.MANAGED_BY_VALUE
    rules = s3().get_bucket_lifecycle_configuration(Bucket=NAME)["Rules"]
    assert plan.current_retention(rules) == 365
    assert s3().get_bucket_versioning(Bucket=NAME)["Status"] == "Enabled"
    policy = json.loads(s3().get_bucket_policy(Bucket=NAME)["Policy"])
    assert plan.TLS_SID in {s["Sid"] for s in policy["Statement"]}

    again = run(recover_unfinished=True)
    assert not again.failed and not again.result["changed"] and not again.result["recovered"]


def _one_tag(client: Any, name: str) -> None:
    client.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "owner", "Value": "app"}]})


def _a_policy(client: Any, name: str) -> None:
    statement = {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}
    statement |= {"Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}
    client.put_bucket_policy(
        Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )


def _someones_lifecycle(client: Any, name: str) -> None:
    rule = {"ID": "archive", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    client.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [rule]})


def _versioning(client: Any, name: str) -> None:
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _kms(client: Any, name: str) -> None:
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    client.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
    )


def _an_object(client: Any, name: str) -> None:
    client.put_object(Bucket=name, Key="data.csv", Body=b"name,email\n")


CARRIES = {
    "tag": _one_tag,
    "policy": _a_policy,
    "lifecycle": _someones_lifecycle,
    "versioning": _versioning,
    "kms": _kms,
    "object": _an_object,
}


def test_a_bucket_carrying_anything_more_or_without_the_option_is_refused_and_left_alone(aws) -> None:
    """Each case in a bucket of its own (one reset of the embedded AWS for all): one thing more than
    a run leaves, with recover_unfinished; and the blank bucket itself without it (a name the user
    gave: the role does not set the option). Each refused, naming the caller's variables, untouched."""
    cases = {f"{NAME}-{what}": (carries, True) for what, carries in CARRIES.items()}
    cases[f"{NAME}-blank"] = (None, False)
    for name, (carries, _recover) in cases.items():
        cut_short_after_create(name=name)
        if carries:
            carries(s3(), name)
    for name, (_carries, recover) in cases.items():
        before = (tags(name), lifecycle(name))
        refused = run(name=name, recover_unfinished=recover)
        assert refused.failed, (name, refused.result)
        assert "was not created by gdpr.aws_monitoring" in refused.result["msg"], name
        assert "cloudtrail_bucket_adopt_existing" in refused.result["msg"], name
        assert (tags(name), lifecycle(name)) == before, name
