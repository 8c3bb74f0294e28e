"""Role log_archive (entry points kms_key and bucket) on the embedded AWS, controller only.

--check on a fresh account writes nothing; a converge makes the key (alias, rotation, tag) and the
bucket (Block Public Access, ownership, versioning, SSE-KMS with bucket key, TLS-only policy with the
caller's statements, lifecycle); the second run is changed=0. Refusals happen before any write and
name the caller's variables: an invalid name, a bucket the collection did not create, a shorter
retention; the matching flags then allow them.

moto divergence: moto accepts PutBucketPolicy statements whatever their principals, so the policy is
checked as written, not as enforced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import boto3
import moto_server
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
REGION = "eu-west-1"
BUCKET = "gdpr-archive-test"
ALIAS = "alias/gdpr-archive-test"
WRITE = {
    "Sid": "TestServiceWrites",
    "Effect": "Allow",
    "Principal": {"Service": "cloudtrail.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/AWSLogs/*",
}

CONFIG_WRITE = {
    "Sid": "TestConfigWrites",
    "Effect": "Allow",
    "Principal": {"Service": "config.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/config/AWSLogs/*",
}
USER_READS = {
    "Sid": "AuditorsRead",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
}


# Adds the rescued failure's message to the fact refusals under NAME.
KEEP = "{{ refusals | default({}) | combine({'NAME': ansible_failed_result.msg}) }}"


def include(entry: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"log_archive {entry}",
        "ansible.builtin.include_role": {"name": "gdpr.aws_monitoring.log_archive", "tasks_from": entry},
        "vars": settings,
    }


def bucket_vars(**overrides: Any) -> dict[str, Any]:
    return {
        "log_archive_bucket_name": BUCKET,
        "log_archive_bucket_region": REGION,
        "log_archive_bucket_kms_key_arn": "{{ log_archive_key.arn }}",
        "log_archive_bucket_retention_days": 30,
        "log_archive_bucket_service_statements": [WRITE],
        "log_archive_bucket_name_var": "caller_bucket",
        "log_archive_retention_var": "caller_retention_days",
        "log_archive_allow_retention_decrease_var": "caller_allow_shorter",
        "log_archive_adopt_existing_var": "caller_adopt",
        **overrides,
    }


def converge_tasks(**bucket_overrides: Any) -> list[dict[str, Any]]:
    return [
        include("kms_key", {"log_archive_key_alias": ALIAS, "log_archive_key_region": REGION}),
        include("bucket", bucket_vars(**bucket_overrides)),
    ]


def refusal(name: str, task: dict[str, Any]) -> dict[str, Any]:
    """A block whose failure is kept (fact refusals.<name>) so one run can show several refusals."""
    return {
        "name": f"refusal {name}",
        "block": [task],
        "rescue": [
            {
                "name": f"keep {name}",
                "ansible.builtin.set_fact": {"refusals": KEEP.replace("NAME", name)},
            }
        ],
    }


def run(tmp_path: Path, tasks: list[dict[str, Any]], *args: str) -> tuple[int, dict[str, Any]]:
    """ansible-playbook with the JSON callback: (return code, {stats, facts of the last task})."""
    playbook = tmp_path / "archive.yml"
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
    }
    playbook.write_text(yaml.safe_dump([{**play, "tasks": tasks}], sort_keys=False))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
    }
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", *args, str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    out = json.loads(proc.stdout[proc.stdout.index("{") :])
    facts: dict[str, Any] = {}
    for play_result in out["plays"]:
        for task in play_result["tasks"]:
            facts.update(task["hosts"].get("localhost", {}).get("ansible_facts", {}))
    return proc.returncode, {"stats": out["stats"]["localhost"], "facts": facts, "plays": out["plays"]}


def s3():
    return boto3.client("s3", region_name=REGION)


def kms():
    return boto3.client("kms", region_name=REGION)


def lifecycle_days() -> int:
    (rule,) = s3().get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    return rule["Expiration"]["Days"]


@pytest.fixture(scope="module")
def converged(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh account, --check on it (what exists after it is kept), then the converge: one converge
    for both tests below (an ansible-playbook run costs seconds of CPU). The first test's second run
    must change nothing, so the second test starts from the converged state either way."""
    moto_server.reset(moto_endpoint)
    tmp = tmp_path_factory.mktemp("log_archive")
    checked = run(tmp, converge_tasks(), "--check", "--diff")
    after_check = {"keys": kms().list_keys()["Keys"], "buckets": s3().list_buckets()["Buckets"]}
    first = run(tmp, converge_tasks())
    return {"checked": checked, "after_check": after_check, "first": first}


def test_check_first_then_converge_then_nothing_to_change(converged, tmp_path):
    rc, checked = converged["checked"]
    assert rc == 0, checked["plays"]
    assert checked["stats"]["changed"] >= 2
    assert converged["after_check"] == {"keys": [], "buckets": []}

    rc, first = converged["first"]
    assert rc == 0, first["plays"]
    key_arn = first["facts"]["log_archive_key"]["arn"]
    assert first["facts"]["log_archive_bucket"] == {
        "name": BUCKET,
        "arn": f"arn:aws:s3:::{BUCKET}",
        "region": REGION,
        "changed": True,
    }
    (alias,) = [a for a in kms().list_aliases()["Aliases"] if a["AliasName"] == ALIAS]
    assert kms().describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]["Arn"] == key_arn
    assert kms().get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    tags = {t["TagKey"]: t["TagValue"] for t in kms().list_resource_tags(KeyId=key_arn)["Tags"]}
    assert tags["gdpr-monitoring:key-alias"] == ALIAS

    pab = s3().get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(pab.values()) and len(pab) == 4
    assert s3().get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    ownership = s3().get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (enc,) = s3().get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert enc["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert enc["BucketKeyEnabled"] is True
    policy = json.loads(s3().get_bucket_policy(Bucket=BUCKET)["Policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert sids["TestServiceWrites"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert sids["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert "DenyUploadsNotEncryptedWithKms" in sids
    (rule,) = s3().get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["Expiration"] == {"Days": 30}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    bucket_tags = {t["Key"]: t["Value"] for t in s3().get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert bucket_tags["gdpr-monitoring:managed-by"] == "gdpr.aws_monitoring"

    rc, second = run(tmp_path, converge_tasks())
    assert rc == 0, second["plays"]
    assert second["stats"]["changed"] == 0


def test_refusals_name_the_callers_variables_and_write_nothing(converged, tmp_path):
    rc, first = converged["first"]
    assert rc == 0, first["plays"]
    s3().create_bucket(Bucket="someone-elses-logs", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3().put_bucket_tagging(
        Bucket="someone-elses-logs", Tagging={"TagSet": [{"Key": "team", "Value": "app"}]}
    )
    foreign_key = kms().create_key(Description="the app team's")["KeyMetadata"]["Arn"]
    kms().create_alias(AliasName="alias/someone-elses", TargetKeyId=foreign_key)
    foreign_policy = kms().get_key_policy(KeyId=foreign_key, PolicyName="default")["Policy"]
    tasks = [
        include("kms_key", {"log_archive_key_alias": ALIAS, "log_archive_key_region": REGION}),
        refusal(
            "foreign_key",
            include(
                "kms_key",
                {
                    "log_archive_key_alias": "alias/someone-elses",
                    "log_archive_key_region": REGION,
                    "log_archive_key_service_statements": [{**WRITE, "Sid": "TakeOver"}],
                },
            ),
        ),
        refusal("shorter", include("bucket", bucket_vars(log_archive_bucket_retention_days=10))),
        refusal("foreign", include("bucket", bucket_vars(log_archive_bucket_name="someone-elses-logs"))),
        refusal("invalid", include("bucket", bucket_vars(log_archive_bucket_name="Bad_Name"))),
        refusal(
            "alias",
            include("kms_key", {"log_archive_key_alias": "alias/aws/s3", "log_archive_key_region": REGION}),
        ),
    ]
    rc, refused = run(tmp_path, tasks)
    assert rc == 0, refused["plays"]
    msgs = refused["facts"]["refusals"]
    assert "caller_retention_days: 10 days would shorten" in msgs["shorter"]
    assert "keeps objects 30 days" in msgs["shorter"] and "caller_allow_shorter: true" in msgs["shorter"]
    assert f"'{BUCKET}'" in msgs["shorter"]
    assert "caller_bucket: the bucket 'someone-elses-logs' exists" in msgs["foreign"]
    assert "caller_adopt: true" in msgs["foreign"]
    assert "caller_bucket: 'Bad_Name' is not a valid S3 bucket name" in msgs["invalid"]
    assert "alias/aws/" in msgs["alias"]
    # A key the collection did not create is never taken over (amazon.aws.kms_key replaced its policy).
    assert f"alias/someone-elses in {REGION} names the key {foreign_key}" in msgs["foreign_key"]
    assert kms().get_key_policy(KeyId=foreign_key, PolicyName="default")["Policy"] == foreign_policy
    assert kms().list_resource_tags(KeyId=foreign_key)["Tags"] == []
    assert lifecycle_days() == 30
    foreign_tags = s3().get_bucket_tagging(Bucket="someone-elses-logs")["TagSet"]
    assert foreign_tags == [{"Key": "team", "Value": "app"}]
    assert _policy_or_none("someone-elses-logs") is None
    assert [b["Name"] for b in s3().list_buckets()["Buckets"]] == [BUCKET, "someone-elses-logs"]

    # A reader the user added to the bucket policy by hand.
    policy = json.loads(s3().get_bucket_policy(Bucket=BUCKET)["Policy"])
    policy["Statement"].append(USER_READS)
    s3().put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(policy))
    allowed = [
        include("kms_key", {"log_archive_key_alias": ALIAS, "log_archive_key_region": REGION}),
        include(
            "bucket",
            bucket_vars(
                log_archive_bucket_retention_days=10, log_archive_bucket_allow_retention_decrease="true"
            ),
        ),
        # A second service delivering to the same bucket under its own prefix (Config beside the trail).
        include(
            "bucket",
            bucket_vars(
                log_archive_bucket_retention_days=10,
                log_archive_bucket_service_statements=[CONFIG_WRITE],
            ),
        ),
        include(
            "bucket",
            bucket_vars(
                log_archive_bucket_name="someone-elses-logs",
                log_archive_bucket_adopt_existing="true",
                # It never expired anything: an expiry shortens its retention too.
                log_archive_bucket_allow_retention_decrease="true",
            ),
        ),
    ]
    rc, done = run(tmp_path, allowed)
    assert rc == 0, done["plays"]
    assert lifecycle_days() == 10
    # Statements are merged by Sid: neither service removed the other's, the user's reader stayed.
    sids = {st["Sid"] for st in json.loads(s3().get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]}
    assert {"TestServiceWrites", "TestConfigWrites", "AuditorsRead", "DenyInsecureTransport"} <= sids
    adopted = {t["Key"]: t["Value"] for t in s3().get_bucket_tagging(Bucket="someone-elses-logs")["TagSet"]}
    assert adopted == {
        "team": "app",
        "ManagedBy": "gdpr.aws_monitoring",
        "gdpr-monitoring:managed-by": "gdpr.aws_monitoring",
    }


def _policy_or_none(bucket: str) -> str | None:
    try:
        return s3().get_bucket_policy(Bucket=bucket)["Policy"]
    except s3().exceptions.ClientError:
        return None
