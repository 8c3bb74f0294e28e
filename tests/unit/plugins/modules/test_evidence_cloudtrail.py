"""Evidence checks of issue 14 for CloudTrail (cloudtrail_logging, cloudtrail_log_file_validation,
cloudtrail_kms) in gdpr_evidence_info.

The module's main() runs against the embedded AWS (moto implements trails and their status): with the
option off no row appears; on, a bare estate FAILs every region; a stopped trail still FAILs; a
logging multi-region trail of another home region covers both regions read, with validation and KMS
judged from it. The judgements' other branches are checked directly.
"""

from __future__ import annotations

import boto3
from log_groups_stubs import ModuleExit
from test_gdpr_evidence_info import run_module

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev
from ansible_collections.gdpr.aws_monitoring.plugins.modules import gdpr_evidence_info as mod

EU, DE = "eu-west-1", "eu-central-1"
CHECKS = ("cloudtrail_logging", "cloudtrail_log_file_validation", "cloudtrail_kms")


def _statuses(result: ModuleExit) -> dict[tuple[str, str], str]:
    return {
        (r["check_id"], r["region"]): r["status"] for r in result.result["rows"] if r["check_id"] in CHECKS
    }


def test_cloudtrail_rows_only_when_asked_then_fail_then_pass(aws: str) -> None:
    args = {
        "regions": [EU, DE],
        "instances": [],
        "skip_checks": ["guardduty_detector", "guardduty_frequency", "guardduty_features"],
    }
    assert _statuses(run_module(mod, args)) == {}

    args["cloudtrail"] = True
    bare = _statuses(run_module(mod, args))
    assert bare == {(c, r): "FAIL" for c in CHECKS for r in (EU, DE)}

    boto3.client("s3", region_name=EU).create_bucket(
        Bucket="gdpr-evidence-trail", CreateBucketConfiguration={"LocationConstraint": EU}
    )
    ct = boto3.client("cloudtrail", region_name=EU)
    trail = ct.create_trail(
        Name="gdpr-trail",
        S3BucketName="gdpr-evidence-trail",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId="arn:aws:kms:eu-west-1:123456789012:key/k",
    )
    stopped = run_module(mod, args)
    assert set(_statuses(stopped).values()) == {"FAIL"}
    assert any("gdpr-trail (stopped)" in r["detail"] for r in stopped.result["rows"])

    ct.start_logging(Name=trail["TrailARN"])
    logging = _statuses(run_module(mod, args))
    assert logging == {(c, r): "PASS" for c in CHECKS for r in (EU, DE)}


def test_judgements_name_what_is_missing() -> None:
    assert ev.judge_cloudtrail_logging(None).status == "UNKNOWN"
    plain = [
        {"name": "t", "logging": True, "multi_region": False, "log_file_validation": False, "kms_key_id": ""}
    ]
    assert ev.judge_cloudtrail_logging(plain) == ev.Verdict("PASS", "trail t (this region only) logging")
    assert "log file validation off on t" in ev.judge_cloudtrail_log_file_validation(plain).detail
    assert "not encrypted with a KMS key" in ev.judge_cloudtrail_kms(plain).detail
    assert ev.judge_cloudtrail_kms([]).detail.endswith("(trails seen: none)")
