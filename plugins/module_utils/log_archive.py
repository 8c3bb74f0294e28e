# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the S3 buckets that hold logs (module s3_log_bucket, role log_archive).

No AWS call here: the module reads the bucket, hands what it read to these functions and applies
the differences they return. Kept apart so each rule (naming, take-over, retention, policy,
lifecycle) has one home and a unit test.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

# The tag the collection puts on what it creates; a bucket without it is someone else's.
MANAGED_BY_KEY = "gdpr-monitoring:managed-by"
MANAGED_BY_VALUE = "gdpr.aws_monitoring"
# ID of the one lifecycle rule the collection owns in a bucket; other rules are left alone.
RETENTION_RULE_ID = "gdpr-monitoring-retention"
TLS_SID = "DenyInsecureTransport"
KMS_UPLOAD_SID = "DenyUploadsNotEncryptedWithKms"

_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Prefixes and suffixes S3 reserves for its own names.
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid general purpose S3 bucket name, or None if it is."""
    if not _BUCKET_CHARS.match(name or ""):
        return "3 to 63 characters of a-z 0-9 . -, beginning and ending with a letter or digit"
    if ".." in name or ".-" in name or "-." in name:
        return "no two adjacent periods and no period next to a hyphen"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "not a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, --ol-s3, ...)"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return None
    return "not formatted as an IP address"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def bucket_arn(name: str, region: str) -> str:
    return f"arn:{partition_of(region)}:s3:::{name}"


def is_managed(tags: dict[str, str]) -> bool:
    return tags.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE


def desired_policy(
    name: str, region: str, service_statements: list[dict[str, Any]], require_kms_upload: bool
) -> dict[str, Any]:
    """The bucket policy: the callers' service statements, TLS only, and (optionally) KMS uploads only."""
    arn = bucket_arn(name, region)
    statements = [
        {
            "Sid": TLS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if require_kms_upload:
        # A missing header counts as "not aws:kms" for StringNotEquals: uploads relying on the
        # bucket's default encryption are refused too, so every writer states SSE-KMS itself.
        statements.append(
            {
                "Sid": KMS_UPLOAD_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{arn}/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": list(service_statements) + statements}


def merged_policy(
    current: dict[str, Any] | None, wanted: dict[str, Any], dropped: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``wanted`` plus every statement of ``current`` whose Sid neither ``wanted`` nor ``dropped`` has.

    The collection writes its statements by Sid and never removes another one: a statement someone
    added (a reader, a deny), or another service's delivery statements in a bucket several services
    share (each under its own prefix), stays. ``dropped``: Sids of the collection's own statements a
    caller no longer wants (they are removed, not kept as someone else's).
    """
    own = {s.get("Sid") for s in wanted["Statement"]} | set(dropped)
    kept = [s for s in (current or {}).get("Statement", []) if not s.get("Sid") or s.get("Sid") not in own]
    return {**wanted, "Statement": [*wanted["Statement"], *kept]}


def _canonical(value: Any) -> Any:
    """Policy JSON in a comparable form: one-element lists are scalars, dict order is irrelevant."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def policies_equal(current: dict[str, Any] | None, wanted: dict[str, Any]) -> bool:
    """Whether S3's stored policy means the same as ``wanted`` (S3 may reorder and collapse lists)."""
    if current is None:
        return False
    return _canonical(current) == _canonical(wanted)


def encryption_rule(kms_key_arn: str | None) -> dict[str, Any]:
    if kms_key_arn:
        return {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn},
            "BucketKeyEnabled": True,
        }
    return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}


def encryption_equal(current: list[dict[str, Any]] | None, wanted: dict[str, Any]) -> bool:
    if not current:
        return False
    rule = current[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    want = wanted["ApplyServerSideEncryptionByDefault"]
    return (
        default.get("SSEAlgorithm") == want["SSEAlgorithm"]
        and default.get("KMSMasterKeyID") == want.get("KMSMasterKeyID")
        and bool(rule.get("BucketKeyEnabled")) == wanted["BucketKeyEnabled"]
    )


def _whole_bucket(rule: dict[str, Any]) -> bool:
    """Whether a lifecycle rule applies to every object (no prefix, tag or size filter)."""
    if rule.get("Prefix"):
        return False
    flt = rule.get("Filter")
    if not flt:
        return True
    return set(flt) <= {"Prefix"} and not flt.get("Prefix")


def current_retention(rules: list[dict[str, Any]]) -> int | None:
    """Days after which the bucket's lifecycle deletes every current object; None: never.

    Only enabled whole-bucket rules count: a rule for a prefix does not bound the whole bucket.
    """
    days = [
        r["Expiration"]["Days"]
        for r in rules
        if r.get("Status") == "Enabled" and _whole_bucket(r) and (r.get("Expiration") or {}).get("Days")
    ]
    return min(days) if days else None


def retention_rule(days: int) -> dict[str, Any]:
    """Current objects and noncurrent versions both expire after ``days`` (versioning is on)."""
    return {
        "ID": RETENTION_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "Expiration": {"Days": days},
        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }


def shortens(current_days: int | None, existed: bool, wanted_days: int) -> bool:
    """Whether expiring after ``wanted_days`` deletes objects the bucket keeps today."""
    if not existed:
        return False
    return current_days is None or wanted_days < current_days


def planned_lifecycle(rules: list[dict[str, Any]], days: int | None) -> list[dict[str, Any]] | None:
    """The lifecycle rules to write, or None if nothing changes. Rules of others are kept as they are."""
    if days is None:
        return None
    wanted = retention_rule(days)
    own = [r for r in rules if r.get("ID") == RETENTION_RULE_ID]
    if own and _lifecycle_rule_equal(own[0], wanted):
        return None
    return [r for r in rules if r.get("ID") != RETENTION_RULE_ID] + [wanted]


def _lifecycle_rule_equal(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(
        current.get(key) == value for key, value in wanted.items() if key != "Filter"
    ) and _whole_bucket(current)


def is_blank(current: dict[str, Any]) -> bool:
    """Whether a bucket (as the module reads it) carries nothing but what the module's CreateBucket
    and its first write, the retention rule, leave: no tag, no policy, no lifecycle rule but the
    collection's, versioning never turned on, the default SSE-S3 encryption, and Block Public Access
    and object ownership as S3 sets them on a new bucket. What a run cut short before the tags leaves
    (the module writes the retention rule, then the tags, then the rest). Whether it holds objects is
    the caller's separate read: with versioning never on, an empty listing means no object at all."""
    return (
        not current["tags"]
        and current["policy"] is None
        and all(rule.get("ID") == RETENTION_RULE_ID for rule in current["lifecycle"])
        and not current["versioning"]
        and current["public_access_block"] in (None, public_access_block())
        and current["object_ownership"] in (None, "BucketOwnerEnforced")
        and _default_encryption(current["encryption"])
    )


def _default_encryption(rules: list[dict[str, Any]] | None) -> bool:
    """No default encryption, or the SSE-S3 one every new bucket gets."""
    if not rules:
        return True
    default = rules[0].get("ApplyServerSideEncryptionByDefault") or {}
    return len(rules) == 1 and default.get("SSEAlgorithm") == "AES256" and not default.get("KMSMasterKeyID")


def public_access_block() -> dict[str, bool]:
    return {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def missing_tags(current: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    """Tags to add or correct; tags the bucket has beyond ``wanted`` are never removed."""
    return {k: v for k, v in wanted.items() if current.get(k) != v}
