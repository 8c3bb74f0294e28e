#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kms_keys
short_description: One customer managed KMS key per region, for many regions in one call
version_added: 0.4.0
description:
  - Gives each region of O(regions) a symmetric customer managed key named O(alias), with rotation on,
    the description O(description), the tags O(tags) and a key policy made of the account's admin
    statement (C(arn:<partition>:iam::<account>:root), C(kms:*)) followed by O(service_statements)
    and the region's O(region_statements). The regions are worked concurrently
    (C(amazon.aws.kms_key) handles one key per call).
  - The key is found by its alias. Every key the module creates carries the tag
    C(gdpr-monitoring:key-alias=<alias>) from CreateKey on, so a key a failed run left without its
    alias is found by that tag (the oldest enabled one) and given the alias, never doubled.
  - Every region is read and planned before anything is written. Nothing is written anywhere when a
    region cannot be read, when the alias names a key the collection did not create (no such tag -
    it is never taken over), or when the key is disabled or pending deletion (that decision is
    never undone here); the module fails naming each region.
  - On an existing key of the collection only what differs is written - the policy (statements are
    merged by C(Sid) - a statement someone added to the policy is kept), rotation (only turned on),
    the description, missing tags (tags are never removed).
  - Supports check mode and diff mode (per region, the key before and after).
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  alias:
    description: Alias of the keys, C(alias/<name>), not C(alias/aws/...). The same in every region.
    type: str
    required: true
  regions:
    description: Regions that get a key.
    type: list
    elements: str
    required: true
  description:
    description: Description of the keys.
    type: str
    default: Encryption for gdpr.aws_monitoring
  policy_id:
    description: C(Id) of the key policy document.
    type: str
    default: gdpr-aws-monitoring
  service_statements:
    description: Key policy statements of every region, after the admin statement. Each needs its own C(Sid).
    type: list
    elements: dict
    default: []
  region_statements:
    description:
      - "Further statements per region, C({eu-west-1: [statement, ...]}), e.g. a regional service
        principal. Each needs its own C(Sid)."
    type: dict
    default: {}
  tags:
    description: Tags of the keys (the alias tag is added; tags a key has are never removed).
    type: dict
    default: {}
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - Needs C(ec2:DescribeRegions), C(kms:DescribeKey), C(kms:GetKeyPolicy), C(kms:GetKeyRotationStatus),
    C(kms:ListResourceTags); after a failed run or for a new key C(kms:ListAliases) and C(kms:ListKeys);
    to write C(kms:CreateKey), C(kms:CreateAlias), C(kms:EnableKeyRotation), C(kms:PutKeyPolicy),
    C(kms:UpdateKeyDescription), C(kms:TagResource).
"""

EXAMPLES = r"""
- name: A key per region for CloudWatch Logs
  gdpr.aws_monitoring.kms_keys:
    alias: alias/gdpr-monitoring-logs
    regions: [eu-west-1, eu-central-1]
    region_statements:
      eu-west-1:
        - Sid: CloudWatchLogsInThisRegion
          Effect: Allow
          Principal: {Service: logs.eu-west-1.amazonaws.com}
          Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
          Resource: "*"
      eu-central-1:
        - Sid: CloudWatchLogsInThisRegion
          Effect: Allow
          Principal: {Service: logs.eu-central-1.amazonaws.com}
          Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
          Resource: "*"
  register: keys
"""

RETURN = r"""
key_arns:
  description: Region -> ARN of its key. In check mode a key still to be created is missing.
  returned: always
  type: dict
  sample: {"eu-west-1": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
keys:
  description: Per region, what was (or in check mode would be) done.
  returned: always
  type: dict
  sample: {"eu-west-1": {"arn": "arn:aws:kms:...", "action": "create", "changes": ["create"]}}
skipped_regions:
  description: Always empty - every region is named by the caller, so none is skipped (kept for the shape the multi-region modules share).
  returned: always
  type: list
  elements: dict
failed_regions:
  description: Regions where an error happened (the module then fails).
  returned: on failure
  type: list
  elements: dict
region_counts:
  description: How many regions were done, refused and failed.
  returned: always
  type: dict
  sample: {"done": 2, "refused": 0, "failed": 0}
"""

import json
from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import kms_keys as plan
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.arns import partition_from_arn
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    PartialWrite,
    RegionalClients,
    RegionReport,
    account_region,
    check_regions,
    error_code,
    finish,
    region_options,
    retry_decorator,
    run_in_regions,
    sort_outcomes,
    variable_name,
)

ARGUMENT_SPEC: dict[str, Any] = {
    "alias": {"type": "str", "required": True},
    "regions": {"type": "list", "elements": "str", "required": True},
    "description": {"type": "str", "default": "Encryption for gdpr.aws_monitoring"},
    "policy_id": {"type": "str", "default": "gdpr-aws-monitoring"},
    "service_statements": {"type": "list", "elements": "dict", "default": []},
    "region_statements": {"type": "dict", "default": {}},
    "tags": {"type": "dict", "default": {}},
    **region_options(),
}
# Keys whose policy does not let this account read them cannot be the collection's (its policy
# always lets the account administer the key): skipped when looking for a key by its tag.
_UNREADABLE = ("AccessDeniedException", "NotFoundException")


def _paginate(client: Any, operation: str, **params: Any) -> dict[str, Any]:
    retry = getattr(client, "retry", None) or retry_decorator()
    return paginated_query_with_retries(client, operation, retry_decorator=retry, **params)


def _tags(kms: Any, key_id: str) -> dict[str, str]:
    return {
        t["TagKey"]: t["TagValue"] for t in _paginate(kms, "list_resource_tags", KeyId=key_id).get("Tags", [])
    }


def _describe(kms: Any, key_id: str) -> dict[str, Any] | None:
    try:
        return kms.describe_key(KeyId=key_id, aws_retry=True)["KeyMetadata"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NotFoundException":
            return None
        raise


def tagged_keys(kms: Any, alias: str) -> list[dict[str, Any]]:
    """KeyMetadata of the region's keys carrying the alias tag (AWS managed keys are not looked at)."""
    aliases = _paginate(kms, "list_aliases").get("Aliases", [])
    aws_managed = {a.get("TargetKeyId") for a in aliases if a["AliasName"].startswith("alias/aws/")}
    found = []
    for key in _paginate(kms, "list_keys").get("Keys", []):
        if key["KeyId"] in aws_managed:
            continue
        try:
            if not plan.is_ours(_tags(kms, key["KeyId"]), alias):
                continue
            meta = _describe(kms, key["KeyId"])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in _UNREADABLE:
                continue
            raise
        if meta:
            found.append(meta)
    return found


def read_region(kms: Any, alias: str) -> plan.KeyRead | None:
    """The region's key: by its alias, else (a failed run's) by its tag; None if there is none."""
    meta = _describe(kms, alias)
    by_alias = meta is not None
    if meta is None:
        meta = plan.oldest_usable(tagged_keys(kms, alias))
    if meta is None:
        return None
    arn = meta["Arn"]
    tags = _tags(kms, arn)
    policy = None
    rotation = False
    if meta.get("KeyManager") == "CUSTOMER" and plan.is_ours(tags, alias):
        policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default", aws_retry=True)["Policy"])
        rotation = bool(kms.get_key_rotation_status(KeyId=arn, aws_retry=True).get("KeyRotationEnabled"))
    return plan.KeyRead(
        arn=arn,
        state=meta.get("KeyState", ""),
        description=meta.get("Description", ""),
        rotation=rotation,
        tags=tags,
        policy=policy,
        by_alias=by_alias,
    )


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"TagKey": k, "TagValue": v} for k, v in sorted(tags.items())]


def create_key(kms: Any, key_plan: plan.KeyPlan, want: plan.Desired) -> str:
    """CreateKey (with the alias tag), then the alias, then rotation; returns the key's ARN."""
    arn = kms.create_key(
        Policy=json.dumps(key_plan.policy),
        Description=want.description,
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        Tags=_tag_list(want.tags),
        aws_retry=True,
    )["KeyMetadata"]["Arn"]
    try:
        kms.create_alias(AliasName=want.alias, TargetKeyId=arn, aws_retry=True)
        kms.enable_key_rotation(KeyId=arn, aws_retry=True)
    except Exception as exc:
        # The key exists and carries its tag: the next run finds it and finishes it.
        raise PartialWrite(exc) from exc
    return arn


def update_key(kms: Any, key_plan: plan.KeyPlan, want: plan.Desired) -> str:
    """Write what the plan says differs on an existing key of the collection."""
    arn = key_plan.arn
    steps = {
        "alias": lambda: kms.create_alias(AliasName=want.alias, TargetKeyId=arn, aws_retry=True),
        "policy": lambda: kms.put_key_policy(
            KeyId=arn, PolicyName="default", Policy=json.dumps(key_plan.policy), aws_retry=True
        ),
        "rotation": lambda: kms.enable_key_rotation(KeyId=arn, aws_retry=True),
        "description": lambda: kms.update_key_description(
            KeyId=arn, Description=want.description, aws_retry=True
        ),
        "tags": lambda: kms.tag_resource(KeyId=arn, Tags=_tag_list(key_plan.tags), aws_retry=True),
    }
    for done, change in enumerate(key_plan.changes):
        try:
            steps[change]()
        except Exception as exc:
            if done:
                raise PartialWrite(exc) from exc
            raise
    return arn


def desired_per_region(
    module: AnsibleAWSModule, regions: list[str], account_arn: str, account: str
) -> dict[str, plan.Desired]:
    params = module.params
    partition = partition_from_arn(account_arn)
    tags = {**{str(k): str(v) for k, v in params["tags"].items()}, plan.KEY_ALIAS_TAG: params["alias"]}
    return {
        region: plan.Desired(
            alias=params["alias"],
            description=params["description"],
            policy=plan.key_policy(
                partition,
                account,
                params["policy_id"],
                [*params["service_statements"], *(params["region_statements"].get(region) or [])],
            ),
            tags=tags,
        )
        for region in regions
    }


def input_problems(params: dict[str, Any]) -> list[str]:
    names = params["variable_names"]
    problems = []
    alias = plan.alias_problem(params["alias"])
    if alias:
        problems.append(f"{variable_name(names, 'alias')}: {params['alias']} {alias}")
    problems += plan.statement_problems(
        params["service_statements"], variable_name(names, "service_statements")
    )
    label = variable_name(names, "region_statements")
    for region, statements in sorted(params["region_statements"].items()):
        if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
            problems.append(f"{label}.{region} must be a list of statements")
            continue
        problems += plan.statement_problems([*params["service_statements"], *statements], f"{label}.{region}")
    stray = sorted(set(params["region_statements"]) - set(params["regions"]))
    if stray:
        problems.append(f"{label} names regions that get no key: {', '.join(stray)}")
    if not params["regions"]:
        problems.append(f"{variable_name(names, 'regions')} is empty")
    return problems


def read_all(
    module: AnsibleAWSModule, clients: RegionalClients, regions: list[str]
) -> dict[str, plan.KeyRead | None]:
    """Every region's key, or the module fails (nothing written) naming the regions that could not be read."""
    alias = module.params["alias"]
    outcomes = run_in_regions(
        regions, lambda r: read_region(clients("kms", r), alias), module.params["max_concurrency"]
    )
    failed = [o for o in outcomes if o.error]
    if failed:
        module.fail_json(
            msg="KMS keys: nothing was changed: could not read "
            + "; ".join(f"{o.region}: {o.error}" for o in failed),
            failed_regions=[{"region": o.region, "error": o.error} for o in failed],
        )
    return {o.region: o.result for o in outcomes}


def summarise(
    reads: dict[str, plan.KeyRead | None],
    plans: dict[str, plan.KeyPlan],
    wanted: dict[str, plan.Desired],
    report: RegionReport,
) -> dict[str, Any]:
    """The module result over the regions that were done (failed ones are in ``report.failed``)."""
    keys, arns = {}, {}
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for outcome in report.done:
        region, key_plan = outcome.region, plans[outcome.region]
        arn = outcome.result or ""
        keys[region] = {"arn": arn, "action": key_plan.action, "changes": key_plan.changes}
        if arn:
            arns[region] = arn
        diff["before"][region] = plan.key_view(reads[region], wanted[region].alias)
        diff["after"][region] = plan.planned_view(reads[region], key_plan, wanted[region], arn)
    changed = any(plans[r].changes for r in keys)
    return report.result(changed, diff, keys=keys, key_arns=arns)


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    names = params["variable_names"]
    problems = input_problems(params)
    if problems:
        module.fail_json(msg="KMS keys: " + "; ".join(problems) + ". Nothing was changed.")
    regions = sorted(set(params["regions"]))
    clients = RegionalClients(module, retry_decorator())
    home = account_region(clients, [module.region, *regions, "us-east-1"])
    statuses = check_regions(module, clients("ec2", home), {variable_name(names, "regions"): regions})
    try:
        caller = clients("sts", home).get_caller_identity(aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(
            exc, msg="Could not read the account the key policies name (sts:GetCallerIdentity)"
        )
    wanted = desired_per_region(module, regions, caller["Arn"], caller["Account"])
    reads = read_all(module, clients, regions)
    alias_label = variable_name(names, "alias")
    plans = {r: plan.plan_key(reads[r], wanted[r], r, alias_label) for r in regions}
    refusals = [p.refusal for p in plans.values() if p.refusal]
    if refusals:
        module.fail_json(
            msg="KMS keys: " + "; ".join(refusals) + ". Nothing was changed.",
            failed_regions=[{"region": r, "error": p.refusal} for r, p in plans.items() if p.refusal],
        )

    def work(region: str) -> str:
        key_plan = plans[region]
        if module.check_mode or not key_plan.changes:
            return key_plan.arn
        kms = clients("kms", region)
        if key_plan.action == "create":
            return create_key(kms, key_plan, wanted[region])
        return update_key(kms, key_plan, wanted[region])

    outcomes = run_in_regions(regions, work, params["max_concurrency"])
    report = sort_outcomes(outcomes, "KMS keys", statuses, variable_name(names, "regions"))
    finish(module, "KMS keys", summarise(reads, plans, wanted, report), report.warnings, report.failed)


if __name__ == "__main__":
    main()
