#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: log_group_data_protection
short_description: Personal-data masking on CloudWatch Logs groups (data protection policies), across regions
version_added: 0.1.0
description:
  - Puts, updates or deletes the CloudWatch Logs data protection policy of many log groups, in any
    number of regions, in one call (PutDataProtectionPolicy, GetDataProtectionPolicy,
    DeleteDataProtectionPolicy).
  - The policy document is built from O(identifiers) and O(custom_identifiers) with the documented
    schema (version 2021-06-01) - one C(Audit) statement (with the optional findings destinations)
    and one C(Deidentify) statement that masks the same identifiers (C(MaskConfig)).
  - Masking applies to events ingested after the policy is set. Users with C(logs:Unmask) can still
    see the original values.
  - Policies are compared as normalized documents, so a policy that only differs in formatting or
    order is left alone.
  - The regions of O(log_groups) are checked against C(ec2:DescribeRegions) before anything is read
    or changed. An error in any region fails the module after every region ran, naming each region;
    a region that failed after a change counts as changed.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  log_groups:
    description: The log groups (which must exist) to protect.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Log group name.
        type: str
        required: true
      region:
        description: Region of the group. Defaults to the module's O(region).
        type: str
  state:
    description: C(present) sets the policy; C(absent) deletes the group's data protection policy.
    type: str
    choices: [present, absent]
    default: present
  identifiers:
    description:
      - Managed data identifiers to audit and mask, by name (C(EmailAddress)) or ARN
        (C(arn:aws:dataprotection::aws:data-identifier/EmailAddress)).
    type: list
    elements: str
    default: [EmailAddress, IpAddress]
  custom_identifiers:
    description: Custom data identifiers (a name and a regular expression) to audit and mask too.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the custom identifier.
        type: str
        required: true
      regex:
        description: Regular expression that matches the data.
        type: str
        required: true
  findings_destination:
    description: Where the audit findings go; all destinations must exist already. Omit for none.
    type: dict
    suboptions:
      cloudwatch_logs_log_group:
        description: Log group (in the same region) that receives the findings.
        type: str
      s3_bucket:
        description: S3 bucket that receives the findings.
        type: str
      firehose_delivery_stream:
        description: Firehose delivery stream that receives the findings.
        type: str
  policy_name:
    description: Name written into the policy document.
    type: str
    default: gdpr-aws-monitoring
  description:
    description: Description written into the policy document.
    type: str
    default: Masks personal data in logs (GDPR Art. 32)
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Mask e-mail and IP addresses in the web logs of two regions
  gdpr.aws_monitoring.log_group_data_protection:
    log_groups:
      - name: /gdpr/prod/nginx/access
        region: eu-west-1
      - name: /gdpr/prod/iis/access
        region: eu-central-1

- name: More identifiers, a custom one, and findings to a log group
  gdpr.aws_monitoring.log_group_data_protection:
    region: eu-west-1
    log_groups:
      - name: /gdpr/prod/apache/access
    identifiers: [EmailAddress, IpAddress, Name, Address]
    custom_identifiers:
      - name: CustomerId
        regex: "CUST-\\d{8}"
    findings_destination:
      cloudwatch_logs_log_group: /gdpr/prod/data-protection-findings

- name: Remove masking from one group
  gdpr.aws_monitoring.log_group_data_protection:
    state: absent
    log_groups:
      - name: /gdpr/test/nginx/access
        region: eu-west-1
"""

RETURN = r"""
log_groups:
  description: Every requested group and its data protection policy after the run (in check mode, as it would be).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Log group name.
      type: str
    region:
      description: Region of the group.
      type: str
    changed:
      description: Whether the policy of this group was (or would be) changed.
      type: bool
    policy:
      description: The data protection policy document, or null when the group has none.
      type: dict
  sample:
    - name: /gdpr/prod/nginx/access
      region: eu-west-1
      changed: true
      policy:
        Name: gdpr-aws-monitoring
        Version: "2021-06-01"
        Statement: []
policy:
  description: The policy document the module wants (null with O(state=absent)).
  returned: always
  type: dict
region_counts:
  description: How many regions were done, refused (always 0 here) and failed.
  returned: always
  type: dict
  sample: {"done": 2, "refused": 0, "failed": 0}
failed_regions:
  description: Regions where reading or changing a policy failed (the module then fails).
  returned: on failure
  type: list
  elements: str
  sample: ["eu-west-1"]
unknown_regions:
  description: Regions AWS does not know (the module then fails before any change).
  returned: on failure
  type: list
  elements: str
  sample: ["eu-wset-1"]
"""

import json
from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.arns import partition_from_region
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import is_not_implemented
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    PartialWrite,
    checked_clients,
    region_counts,
    region_options,
    run_in_regions,
)

POLICY_VERSION = "2021-06-01"
IDENTIFIER_ARN = "arn:{partition}:dataprotection::aws:data-identifier/{name}"


class NotImplementedByEndpoint(Exception):
    """The endpoint has no data protection API (e.g. moto); real CloudWatch Logs has."""


def identifier_arn(identifier: str, region: str) -> str:
    if identifier.startswith("arn:"):
        return identifier
    return IDENTIFIER_ARN.format(partition=partition_from_region(region), name=identifier)


def build_policy(
    region: str,
    identifiers: list[str],
    custom_identifiers: list[dict[str, str]],
    findings_destination: dict[str, str | None] | None,
    name: str,
    description: str,
) -> dict[str, Any]:
    """The policy document in CloudWatch Logs' documented schema: one Audit and one Deidentify statement.

    Both statements must list exactly the same identifiers; custom identifiers are referenced by name.
    """
    data_identifiers = [identifier_arn(i, region) for i in identifiers]
    data_identifiers += [c["name"] for c in custom_identifiers]
    if not data_identifiers:
        raise ValueError("give at least one identifier or custom identifier")
    destination: dict[str, Any] = {}
    dest = findings_destination or {}
    if dest.get("cloudwatch_logs_log_group"):
        destination["CloudWatchLogs"] = {"LogGroup": dest["cloudwatch_logs_log_group"]}
    if dest.get("s3_bucket"):
        destination["S3"] = {"Bucket": dest["s3_bucket"]}
    if dest.get("firehose_delivery_stream"):
        destination["Firehose"] = {"DeliveryStream": dest["firehose_delivery_stream"]}
    policy: dict[str, Any] = {
        "Name": name,
        "Description": description,
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": "audit-policy",
                "DataIdentifier": data_identifiers,
                "Operation": {"Audit": {"FindingsDestination": destination}},
            },
            {
                "Sid": "redact-policy",
                "DataIdentifier": data_identifiers,
                "Operation": {"Deidentify": {"MaskConfig": {}}},
            },
        ],
    }
    if custom_identifiers:
        policy["Configuration"] = {
            "CustomDataIdentifier": [{"Name": c["name"], "Regex": c["regex"]} for c in custom_identifiers]
        }
    return policy


def _normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items() if v not in ("", None)}
    if isinstance(value, list):
        items = [_normalize(v) for v in value]
        if all(isinstance(v, str) for v in items):
            return sorted(items)
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def normalize_policy(document: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """A canonical form for comparison: order of keys, statements and identifiers does not matter."""
    if not document:
        return None
    policy = json.loads(document) if isinstance(document, str) else document
    return _normalize(policy) or None


def policies_equal(have: str | dict[str, Any] | None, want: dict[str, Any] | None) -> bool:
    return normalize_policy(have) == normalize_policy(want)


def read_policy(client: Any, name: str) -> dict[str, Any] | None:
    try:
        answer = client.get_data_protection_policy(logGroupIdentifier=name, aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if is_not_implemented(exc):
            raise NotImplementedByEndpoint(
                "the AWS endpoint does not implement GetDataProtectionPolicy (moto does not); "
                "disable data protection for this endpoint"
            ) from exc
        raise
    document = answer.get("policyDocument")
    return json.loads(document) if document else None


def sync_region(
    client: Any,
    names: list[str],
    want: dict[str, Any] | None,
    check_mode: bool,
) -> list[dict[str, Any]]:
    """Read every group's policy, then put or delete where it differs from ``want``.

    An error after the region's first write is raised as ``PartialWrite``: the run reports changed.
    """
    results = []
    wrote = False
    try:
        for name in names:
            have = read_policy(client, name)
            changed = not policies_equal(have, want)
            if changed and not check_mode:
                wrote = True  # set before the call: it may go through even if its answer is lost
                if want is None:
                    client.delete_data_protection_policy(logGroupIdentifier=name, aws_retry=True)
                else:
                    client.put_data_protection_policy(
                        logGroupIdentifier=name, policyDocument=json.dumps(want), aws_retry=True
                    )
            results.append(
                {"name": name, "changed": changed, "before": have, "policy": want if changed else have}
            )
    except Exception as exc:
        if wrote:
            raise PartialWrite(exc) from exc
        raise
    return results


def group_by_region(groups: list[dict[str, Any]], default_region: str | None) -> dict[str, list[str]]:
    regions: dict[str, list[str]] = {}
    for group in groups:
        region = group.get("region") or default_region
        if not region:
            raise ValueError(f"log group {group['name']}: no region given and no default region set")
        names = regions.setdefault(region, [])
        if group["name"] not in names:
            names.append(group["name"])
    return regions


def run(module: AnsibleAWSModule) -> None:
    params = module.params
    try:
        names_by_region = group_by_region(params["log_groups"], module.region)
        wanted = {
            region: None
            if params["state"] == "absent"
            else build_policy(
                region,
                params["identifiers"],
                params["custom_identifiers"],
                params["findings_destination"],
                params["policy_name"],
                params["description"],
            )
            for region in names_by_region
        }
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    regions = sorted(names_by_region)
    # One boto3 session for all regions (the service model is parsed once).
    clients = checked_clients(module, "logs", regions, "log_groups")
    outcomes = run_in_regions(
        regions,
        lambda r: sync_region(clients[r], names_by_region[r], wanted[r], module.check_mode),
        params["max_concurrency"],
    )
    failed = [o for o in outcomes if o.error]
    if failed:
        module.fail_json(
            msg="Data protection policy failed in " + "; ".join(f"{o.region}: {o.error}" for o in failed),
            failed_regions=[o.region for o in failed],
            not_implemented=any(isinstance(o.exception, NotImplementedByEndpoint) for o in failed),
            region_counts=region_counts(outcomes),
            # A region that failed after a write, or one that succeeded with changes, changed AWS.
            changed=any(o.wrote for o in failed)
            or any(r["changed"] for o in outcomes if o.error is None for r in o.result),
        )
    results = [dict(r, region=o.region) for o in outcomes for r in o.result]
    changed = any(r["changed"] for r in results)
    diff = {
        "before": {f"{r['region']}:{r['name']}": r["before"] for r in results if r["changed"]},
        "after": {f"{r['region']}:{r['name']}": r["policy"] for r in results if r["changed"]},
    }
    for result in results:
        result.pop("before")
    some_region = regions[0] if regions else "eu-west-1"
    module.exit_json(
        changed=changed,
        log_groups=results,
        policy=wanted.get(some_region),
        region_counts=region_counts(outcomes),
        diff=diff,
    )


def main() -> None:
    argument_spec = dict(
        log_groups=dict(
            type="list",
            elements="dict",
            required=True,
            options=dict(name=dict(type="str", required=True), region=dict(type="str")),
        ),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        identifiers=dict(type="list", elements="str", default=["EmailAddress", "IpAddress"]),
        custom_identifiers=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(name=dict(type="str", required=True), regex=dict(type="str", required=True)),
        ),
        findings_destination=dict(
            type="dict",
            options=dict(
                cloudwatch_logs_log_group=dict(type="str"),
                s3_bucket=dict(type="str"),
                firehose_delivery_stream=dict(type="str"),
            ),
        ),
        policy_name=dict(type="str", default="gdpr-aws-monitoring"),
        description=dict(type="str", default="Masks personal data in logs (GDPR Art. 32)"),
        **region_options(),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run(module)


if __name__ == "__main__":
    main()
