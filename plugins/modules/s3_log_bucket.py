#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: s3_log_bucket
short_description: An S3 bucket that holds logs, locked down, with a retention that is never shortened
version_added: 0.3.0
description:
  - Creates or updates one S3 bucket for log delivery by an AWS service (CloudTrail, AWS Config,
    GuardDuty exports) - Block Public Access (all four settings), object ownership
    C(BucketOwnerEnforced), versioning, default encryption (SSE-KMS with a bucket key when
    O(kms_key_arn) is given, SSE-S3 otherwise), a policy made of the caller's service statements plus
    a TLS-only deny (and a deny of uploads not encrypted with aws:kms), merged by C(Sid) with the policy
    the bucket has - statements the module does not write (another service's, in a bucket several
    services share under their own prefixes, or one the user added) are kept - a lifecycle rule expiring
    current and noncurrent objects after O(retention_days), and tags (existing tags are kept).
  - Everything is read first; nothing is written when the name is invalid, when the bucket exists
    without the collection's C(gdpr-monitoring:managed-by) tag and O(adopt_existing) is false, when it
    is in another region, or when the new retention would delete objects the bucket keeps today
    (a bucket without a whole-bucket expiry keeps them forever) and O(allow_retention_decrease) is false.
  - Lifecycle rules of others are kept; only the rule with ID C(gdpr-monitoring-retention) is written.
  - With O(recover_unfinished), a bucket without the tag that a run of the module left unfinished (cut
    short after CreateBucket, before the tags) is finished instead of refused - only if it is blank and
    empty - no tag, no policy, no lifecycle rule but C(gdpr-monitoring-retention), versioning never
    turned on, the default SSE-S3 encryption, Block Public Access and object ownership as S3 sets them
    on a new bucket, and no object (listed with this account as the expected bucket owner). Anything
    more on it and it is refused as someone else's.
  - Why a module of its own - C(amazon.aws.s3_bucket) and C(community.aws.s3_lifecycle) do not support
    check mode, and neither refuses a take-over or a shorter retention.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  name:
    description: Bucket name (S3's naming rules for general purpose buckets).
    type: str
    required: true
  kms_key_arn:
    description: Customer managed key for default encryption (SSE-KMS, bucket key on). Empty - SSE-S3.
    type: str
    default: ""
  retention_days:
    description: Days after which current objects and noncurrent versions expire. 0 - no rule written.
    type: int
    default: 0
  allow_retention_decrease:
    description: Write a retention shorter than the bucket's current one (deletes older objects).
    type: bool
    default: false
  service_statements:
    description: Bucket policy statements of the services that write to the bucket.
    type: list
    elements: dict
    default: []
  require_kms_upload:
    description: Add a deny of uploads whose request does not ask for aws:kms encryption.
    type: bool
    default: true
  recover_unfinished:
    description:
      - Finish a blank, empty bucket of this name that lacks the collection's tag (what a run cut short
        right after CreateBucket leaves) instead of refusing it. For a caller that derived O(name)
        itself (a role's default name), never for a name a user gave.
    type: bool
    default: false
extends_documentation_fragment:
  - gdpr.aws_monitoring.owned_resource
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Bucket for CloudTrail
  gdpr.aws_monitoring.s3_log_bucket:
    name: gdpr-trail-123456789012
    region: eu-west-1
    kms_key_arn: "{{ trail_key_arn }}"
    retention_days: 2557
    require_kms_upload: false
    service_statements: "{{ cloudtrail_statements }}"
    variable_names:
      name: cloudtrail_bucket_name
      retention_days: cloudtrail_retention_days
"""

RETURN = r"""
bucket:
  description: The bucket.
  returned: always
  type: dict
  sample: {"name": "gdpr-trail-123456789012", "arn": "arn:aws:s3:::gdpr-trail-123456789012", "region": "eu-west-1"}
changes:
  description: What was (or, in check mode, would be) written.
  returned: always
  type: list
  elements: str
  sample: ["create", "policy", "lifecycle"]
recovered:
  description: The bucket existed blank and empty without the tag and was finished (O(recover_unfinished)).
  returned: always
  type: bool
  sample: false
"""

import json
from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import log_archive as plan
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import retry_policy
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.owned_resource import (
    label,
    owned_resource_module,
    take_over_refusal,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import error_code, retry_decorator

# Error codes meaning "this bucket has no such configuration", per read.
_ABSENT = {
    "get_bucket_tagging": ("NoSuchTagSet",),
    "get_public_access_block": ("NoSuchPublicAccessBlockConfiguration",),
    "get_bucket_ownership_controls": ("OwnershipControlsNotFoundError",),
    "get_bucket_encryption": ("ServerSideEncryptionConfigurationNotFoundError",),
    "get_bucket_policy": ("NoSuchBucketPolicy",),
    "get_bucket_lifecycle_configuration": ("NoSuchLifecycleConfiguration",),
}


def _read(s3: Any, call: str, name: str) -> dict[str, Any] | None:
    try:
        return getattr(s3, call)(Bucket=name, aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in _ABSENT.get(call, ()):
            return None
        raise


def bucket_exists(s3: Any, name: str) -> bool:
    """True if this account can see the bucket; False if no bucket has the name; 403 propagates."""
    try:
        s3.head_bucket(Bucket=name, aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def read_bucket(s3: Any, name: str) -> dict[str, Any]:
    """Everything the plan compares, as S3 returns it (None where a configuration is absent)."""
    location = s3.get_bucket_location(Bucket=name, aws_retry=True).get("LocationConstraint")
    tagging = _read(s3, "get_bucket_tagging", name) or {}
    pab = _read(s3, "get_public_access_block", name) or {}
    ownership = _read(s3, "get_bucket_ownership_controls", name) or {}
    encryption = _read(s3, "get_bucket_encryption", name) or {}
    policy = _read(s3, "get_bucket_policy", name)
    lifecycle = _read(s3, "get_bucket_lifecycle_configuration", name) or {}
    rules = (ownership.get("OwnershipControls") or {}).get("Rules") or [{}]
    return {
        "region": {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location),
        "tags": {t["Key"]: t["Value"] for t in tagging.get("TagSet", [])},
        "public_access_block": pab.get("PublicAccessBlockConfiguration"),
        "object_ownership": rules[0].get("ObjectOwnership"),
        "encryption": (encryption.get("ServerSideEncryptionConfiguration") or {}).get("Rules"),
        "versioning": s3.get_bucket_versioning(Bucket=name, aws_retry=True).get("Status"),
        "policy": json.loads(policy["Policy"]) if policy else None,
        "lifecycle": lifecycle.get("Rules", []),
    }


def unfinished(s3: Any, sts: Any, params: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Whether ``current`` is a bucket a run of the collection left unfinished and may finish
    (O(recover_unfinished)): untagged, blank and empty. The listing names this account as the
    expected owner, so S3 refuses it (and the module fails) for a bucket of another account."""
    if current is None or not params["recover_unfinished"] or plan.is_managed(current["tags"]):
        return False
    if not plan.is_blank(current):
        return False
    account = sts.get_caller_identity(aws_retry=True)["Account"]
    listing = s3.list_objects_v2(
        Bucket=params["name"], MaxKeys=1, ExpectedBucketOwner=account, aws_retry=True
    )
    return not listing.get("KeyCount")


def refusal(
    params: dict[str, Any], region: str, current: dict[str, Any] | None, recovered: bool = False
) -> str | None:
    """Why the module must not write anything (the documented refusals), or None. A ``recovered``
    bucket is the collection's own (and empty: no retention to shorten)."""
    name = params["name"]
    problem = plan.bucket_name_problem(name)
    if problem:
        return f"{label(params, 'name')}: '{name}' is not a valid S3 bucket name ({problem}). Nothing was changed."
    if current is None:
        return None
    if not plan.is_managed(current["tags"]) and not params["adopt_existing"] and not recovered:
        return take_over_refusal(
            params,
            "bucket",
            "take it over (its encryption and lifecycle rule are then set, and its policy gets the "
            "collection's statements)",
        )
    if current["region"] != region:
        return f"{label(params, 'name')}: the bucket '{name}' is in {current['region']}, not {region}. Nothing was changed."
    days = params["retention_days"]
    now = plan.current_retention(current["lifecycle"])
    if days and not recovered and plan.shortens(now, True, days) and not params["allow_retention_decrease"]:
        kept = f"{now} days" if now else "forever (no expiry)"
        retention = label(params, "retention_days")
        return (
            f"{retention}: {days} days would shorten the retention of the bucket '{name}', which keeps "
            f"objects {kept}; S3 would delete the older ones. Raise {retention} to {now or 'the retention you need'}"
            f" or set {label(params, 'allow_retention_decrease')}: true to shorten it. Nothing was changed."
        )
    return None


def desired(params: dict[str, Any], region: str, current: dict[str, Any] | None) -> dict[str, Any]:
    """The bucket's configuration; the policy keeps every statement the collection does not write
    (another service's delivery statements in a shared bucket, a statement the user added)."""
    wanted_policy = plan.desired_policy(
        params["name"], region, params["service_statements"], params["require_kms_upload"]
    )
    dropped = () if params["require_kms_upload"] else (plan.KMS_UPLOAD_SID,)
    return {
        "public_access_block": plan.public_access_block(),
        "object_ownership": "BucketOwnerEnforced",
        "encryption": plan.encryption_rule(params["kms_key_arn"]),
        "versioning": "Enabled",
        "policy": plan.merged_policy((current or {}).get("policy"), wanted_policy, dropped),
        "tags": {**params["tags"], plan.MANAGED_BY_KEY: plan.MANAGED_BY_VALUE},
    }


def differences(current: dict[str, Any] | None, want: dict[str, Any], days: int) -> dict[str, Any]:
    """Configuration name -> value to write, for what differs (everything for a new bucket)."""
    cur = current or {"tags": {}, "lifecycle": [], "policy": None, "encryption": None}
    diff: dict[str, Any] = {}
    if current is None:
        diff["create"] = True
    if current is None or current["public_access_block"] != want["public_access_block"]:
        diff["public_access_block"] = want["public_access_block"]
    if current is None or current["object_ownership"] != want["object_ownership"]:
        diff["object_ownership"] = want["object_ownership"]
    if not plan.encryption_equal(cur["encryption"], want["encryption"]):
        diff["encryption"] = want["encryption"]
    if current is None or current["versioning"] != want["versioning"]:
        diff["versioning"] = want["versioning"]
    if not plan.policies_equal(cur["policy"], want["policy"]):
        diff["policy"] = want["policy"]
    lifecycle = plan.planned_lifecycle(cur["lifecycle"], days or None)
    if lifecycle is not None:
        diff["lifecycle"] = lifecycle
    if plan.missing_tags(cur["tags"], want["tags"]):
        diff["tags"] = {**cur["tags"], **want["tags"]}
    return diff


def await_bucket(s3: Any, name: str) -> None:
    """HeadBucket until a new bucket answers. Not the SDK's bucket_exists waiter: it gives up at the
    first 503 (SlowDown, which a HEAD answers without a code) since the module's clients leave
    retries to the collection's policy; that policy also retries 404 here (S3 is eventually
    consistent right after CreateBucket)."""
    retry_policy(extra_codes=("404", "NotFound", "NoSuchBucket")).call(s3.head_bucket, Bucket=name)


def apply(s3: Any, name: str, region: str, diff: dict[str, Any]) -> None:
    """Write ``diff``; creation first (with its ownership), then the retention rule, then the tags
    that mark the bucket as ours, then the rest. A run cut short after the tags leaves a bucket the
    next run recognises as its own and finishes; one cut short before them leaves a bucket the next
    run refuses as someone else's (never takes over). The retention comes before the tags: a tagged
    bucket without it would look like one kept forever, which the next run must not shorten."""
    if diff.get("create"):
        kwargs: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(aws_retry=True, **kwargs)
        await_bucket(s3, name)
    if "lifecycle" in diff:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": diff["lifecycle"]}, aws_retry=True
        )
    if "tags" in diff:
        tag_set = [{"Key": k, "Value": v} for k, v in sorted(diff["tags"].items())]
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_set}, aws_retry=True)
    if "public_access_block" in diff:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=diff["public_access_block"], aws_retry=True
        )
    if "object_ownership" in diff:
        s3.put_bucket_ownership_controls(
            Bucket=name,
            OwnershipControls={"Rules": [{"ObjectOwnership": diff["object_ownership"]}]},
            aws_retry=True,
        )
    if "encryption" in diff:
        s3.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration={"Rules": [diff["encryption"]]}, aws_retry=True
        )
    if "versioning" in diff:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"}, aws_retry=True)
    if "policy" in diff:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(diff["policy"]), aws_retry=True)


def main() -> None:
    module = owned_resource_module(
        dict(
            name=dict(type="str", required=True),
            kms_key_arn=dict(type="str", default="", no_log=False),
            retention_days=dict(type="int", default=0),
            allow_retention_decrease=dict(type="bool", default=False),
            service_statements=dict(type="list", elements="dict", default=[]),
            require_kms_upload=dict(type="bool", default=True),
            recover_unfinished=dict(type="bool", default=False),
        )
    )
    params = module.params
    region = module.region
    if params["retention_days"] < 0:
        module.fail_json(msg=f"{label(params, 'retention_days')}: must be 0 or more days")
    name = params["name"]
    problem = refusal(params, region, None)
    if problem:
        module.fail_json(msg=problem)
    s3 = module.client("s3", retry_decorator=retry_decorator())
    try:
        current = read_bucket(s3, name) if bucket_exists(s3, name) else None
        recovered = unfinished(s3, module.client("sts", retry_decorator=retry_decorator()), params, current)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=f"Could not read the bucket {name} ({label(params, 'name')})")
    problem = refusal(params, region, current, recovered)
    if problem:
        module.fail_json(msg=problem)
    if recovered:
        module.warn(
            f"{label(params, 'name')}: the bucket '{name}' had no {plan.MANAGED_BY_KEY} tag but was blank and "
            "empty, as a run cut short right after creating it leaves it: left unfinished, it is finished now."
        )
    want = desired(params, region, current)
    diff = differences(current, want, params["retention_days"])
    if diff and not module.check_mode:
        try:
            apply(s3, name, region, diff)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            module.fail_json_aws(exc, msg=f"Could not configure the bucket {name} in {region}")
    before = {k: (current or {}).get(k) for k in diff if k != "create"}
    module.exit_json(
        changed=bool(diff),
        changes=list(diff),
        recovered=recovered,
        bucket={"name": name, "arn": plan.bucket_arn(name, region), "region": region},
        diff={"before": before if current else {}, "after": {k: v for k, v in diff.items() if k != "create"}},
    )


if __name__ == "__main__":
    main()
