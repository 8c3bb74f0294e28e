"""playbooks/cloudtrail.yml on the embedded AWS, controller only.

--check --diff on a fresh account writes nothing; a converge makes the multi-region trail (log file
validation, SSE-KMS with the key of log_archive, S3 bucket with a CloudTrail-only write policy and
lifecycle, CloudWatch Logs group of log_groups with the delivery role, advanced event selectors with
S3 data events, logging) and the 14 CIS filters and alarms notifying the GuardDuty alert topic; the
second run is changed=0. A shorter retention and bad inputs are refused before any write, naming the
variable; another trail that already records every region is reused, not doubled.

moto divergences: DescribeTrails keeps HasCustomEventSelectors false after PutEventSelectors with
advanced selectors (AWS says true), and moto neither checks the bucket policy nor the key policy when
a trail is created (AWS refuses a trail whose bucket or key does not let CloudTrail write): the
policies are checked here as written.
"""

from __future__ import annotations

import json

import boto3
from controller_play import changed_count, run_play

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/gdpr-trail"
BUCKET = f"gdpr-cloudtrail-{ACCOUNT}-{REGION}"
READER = f"arn:aws:iam::{ACCOUNT}:role/auditor"
SETTINGS = {
    "cloudtrail_home_region": REGION,
    "cloudtrail_data_event_buckets": ["customer-records"],
    "cloudtrail_key_readers": [READER],
    "cloudtrail_retention_days": 400,
    # moto does not implement CloudWatch Logs data protection policies.
    "log_groups_data_protection": False,
}


def client(service: str):
    return boto3.client(service, region_name=REGION)


def nothing_exists() -> None:
    assert client("cloudtrail").describe_trails()["trailList"] == []
    assert client("s3").list_buckets()["Buckets"] == []
    assert client("kms").list_keys()["Keys"] == []
    assert client("logs").describe_log_groups()["logGroups"] == []
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert all(r["RoleName"] != "gdpr-cloudtrail-to-cloudwatch" for r in client("iam").list_roles()["Roles"])


def key_policy_statements(key_arn: str) -> dict[str, dict]:
    policy = json.loads(client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_check_first_then_converge_then_nothing_to_change(aws):
    checked = run_play("cloudtrail", SETTINGS, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    nothing_exists()

    first = run_play("cloudtrail", SETTINGS)
    assert first.returncode == 0, first.stdout[-3000:]
    (trail,) = client("cloudtrail").describe_trails()["trailList"]
    assert trail["TrailARN"] == TRAIL_ARN
    assert trail["IsMultiRegionTrail"] and trail["IncludeGlobalServiceEvents"]
    assert trail["LogFileValidationEnabled"] and not trail["IsOrganizationTrail"]
    assert trail["S3BucketName"] == BUCKET
    assert (
        trail["CloudWatchLogsLogGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/gdpr/cloudtrail:*"
    )
    assert trail["CloudWatchLogsRoleArn"].endswith(":role/gdpr-cloudtrail-to-cloudwatch")
    assert client("cloudtrail").get_trail_status(Name=TRAIL_ARN)["IsLogging"] is True
    selectors = client("cloudtrail").get_event_selectors(TrailName=TRAIL_ARN)["AdvancedEventSelectors"]
    data = [fs for s in selectors for fs in s["FieldSelectors"] if fs["Field"] == "resources.ARN"]
    assert data == [{"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::customer-records/"]}]

    (alias,) = [
        a for a in client("kms").list_aliases()["Aliases"] if a["AliasName"] == "alias/gdpr-cloudtrail"
    ]
    key = client("kms").describe_key(KeyId=alias["TargetKeyId"])["KeyMetadata"]
    assert trail["KmsKeyId"] == key["Arn"]
    statements = key_policy_statements(key["Arn"])
    assert statements["CloudTrailEncryptsLogFiles"]["Condition"]["StringEquals"] == {
        "aws:SourceArn": TRAIL_ARN
    }
    assert statements["NamedReadersDecryptLogFiles"]["Principal"] == {"AWS": [READER]}

    policy = json.loads(client("s3").get_bucket_policy(Bucket=BUCKET)["Policy"])
    writes = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {s["Principal"]["Service"] for s in writes} == {"cloudtrail.amazonaws.com"}
    assert all(s["Condition"]["StringEquals"]["aws:SourceArn"] == TRAIL_ARN for s in writes)
    (rule,) = client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["Expiration"] == {"Days": 400}
    (enc,) = client("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert enc["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key["Arn"]

    (group,) = client("logs").describe_log_groups(logGroupNamePrefix="/gdpr/cloudtrail")["logGroups"]
    assert group["retentionInDays"] == 365 and group.get("kmsKeyId")
    role = client("iam").get_role(RoleName="gdpr-cloudtrail-to-cloudwatch")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN}
    }
    inline = client("iam").get_role_policy(
        RoleName=role["RoleName"], PolicyName="cloudtrail-to-cloudwatch-logs"
    )
    assert inline["PolicyDocument"]["Statement"][0]["Resource"].endswith(
        ":log-group:/gdpr/cloudtrail:log-stream:*"
    )

    filters = client("logs").describe_metric_filters(logGroupName="/gdpr/cloudtrail")["metricFilters"]
    assert len(filters) == 14
    alarms = client("cloudwatch").describe_alarms(AlarmNamePrefix="cis-")["MetricAlarms"]
    assert len(alarms) == 14
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:gdpr-guardduty-findings"
    assert all(a["AlarmActions"] == [topic] for a in alarms)
    assert {a["MetricName"] for a in alarms} == {f["metricTransformations"][0]["metricName"] for f in filters}

    second = run_play("cloudtrail", SETTINGS)
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second) == 0, second.stdout[-3000:]

    shorter = run_play("cloudtrail", {**SETTINGS, "cloudtrail_retention_days": 90})
    assert shorter.returncode != 0
    assert "cloudtrail_retention_days: 90 days would shorten" in shorter.stdout
    assert "cloudtrail_allow_retention_decrease: true" in shorter.stdout
    (rule,) = client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["Expiration"] == {"Days": 400}


def test_bad_inputs_are_refused_before_any_write(aws):
    bad = run_play(
        "cloudtrail",
        {
            **SETTINGS,
            "cloudtrail_alarm_topic_arn": "arn:aws:sqs:eu-west-1:123456789012:not-a-topic",
            "cloudtrail_key_readers": ["auditor"],
        },
    )
    assert bad.returncode != 0
    assert (
        "cloudtrail_alarm_topic_arn: arn:aws:sqs:eu-west-1:123456789012:not-a-topic is not an SNS topic ARN"
        in (bad.stdout)
    )
    assert "cloudtrail_key_readers: not IAM principal ARNs: auditor" in bad.stdout
    nothing_exists()


def test_an_existing_all_region_trail_is_reused_not_doubled(aws):
    s3 = client("s3")
    s3.create_bucket(Bucket="org-audit-logs", CreateBucketConfiguration={"LocationConstraint": REGION})
    ct = client("cloudtrail")
    existing = ct.create_trail(
        Name="org-audit",
        S3BucketName="org-audit-logs",
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
    )
    ct.start_logging(Name=existing["TrailARN"])
    reused = run_play("cloudtrail", SETTINGS)
    assert reused.returncode == 0, reused.stdout[-3000:]
    assert f"the trail {existing['TrailARN']} already records every region" in reused.stdout
    assert "does not deliver to CloudWatch Logs" in reused.stdout
    assert [t["Name"] for t in ct.describe_trails()["trailList"]] == ["org-audit"]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["org-audit-logs"]
    assert client("kms").list_keys()["Keys"] == []
