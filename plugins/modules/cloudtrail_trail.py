#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudtrail_trail
short_description: One multi-region CloudTrail trail, or the all-region trail the account already has
version_added: 0.3.0
description:
  - Makes one multi-region trail in O(region) (its home region) with global service events, log file
    validation, SSE-KMS, delivery to an S3 bucket and to a CloudWatch Logs group, advanced event
    selectors (every management event, plus S3 object-level reads and writes of O(data_event_buckets)),
    and logging started. Optionally an organization trail.
  - When the trail O(name) does not exist and another trail already records every region (multi-region,
    global service events, logging), that trail is reported and reused (O(reuse_existing)); nothing is
    created, so management events are not paid for twice.
  - A trail named O(name) that lacks the collection's C(gdpr-monitoring:managed-by) tag is someone else's -
    refused unless O(adopt_existing).
  - Nothing is ever removed from a trail - no logging stopped, no setting emptied, no tag removed.
  - Why a module of its own - C(amazon.aws.cloudtrail) knows neither organization trails, nor advanced
    event selectors, nor another trail that already covers every region.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  name:
    description: Trail name.
    type: str
    required: true
  s3_bucket_name:
    description: Bucket the trail delivers to (its policy must let CloudTrail write).
    type: str
    required: true
  s3_key_prefix:
    description: Key prefix in the bucket.
    type: str
    default: ""
  kms_key_id:
    description: ARN of the KMS key for SSE-KMS of the log files. Empty only in check mode before the key exists.
    type: str
    default: ""
  cloudwatch_logs_log_group_arn:
    description: ARN of the log group (C(arn:aws:logs:<region>:<account>:log-group:<name>:*)).
    type: str
    default: ""
  cloudwatch_logs_role_arn:
    description: Role CloudTrail assumes to write to the log group.
    type: str
    default: ""
  organization_trail:
    description: Make it an organization trail (run from the management account).
    type: bool
    default: false
  data_event_buckets:
    description: Buckets whose object-level reads and writes are logged (data events).
    type: list
    elements: str
    default: []
  reuse_existing:
    description: Reuse another trail that already records every region instead of creating O(name).
    type: bool
    default: true
extends_documentation_fragment:
  - gdpr.aws_monitoring.owned_resource
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: One trail for every region
  gdpr.aws_monitoring.cloudtrail_trail:
    name: gdpr-trail
    region: eu-west-1
    s3_bucket_name: gdpr-cloudtrail-123456789012-eu-west-1
    kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/abcd
    cloudwatch_logs_log_group_arn: arn:aws:logs:eu-west-1:123456789012:log-group:/gdpr/cloudtrail:*
    cloudwatch_logs_role_arn: arn:aws:iam::123456789012:role/gdpr-cloudtrail-to-cloudwatch
    data_event_buckets: [customer-records]
"""

RETURN = r"""
action:
  description: C(created), C(updated), C(unchanged) or C(reused) (another all-region trail was found).
  returned: always
  type: str
trail:
  description: The trail of record (ours, or the one reused).
  returned: always
  type: dict
  sample: {"name": "gdpr-trail", "arn": "arn:aws:cloudtrail:eu-west-1:123456789012:trail/gdpr-trail",
           "home_region": "eu-west-1", "multi_region": true, "organization": false, "logging": true,
           "log_file_validation": true, "kms_key_id": "arn:aws:kms:...", "s3_bucket_name": "...",
           "log_group_arn": "arn:aws:logs:...:log-group:/gdpr/cloudtrail:*"}
changes:
  description: What was (or, in check mode, would be) written.
  returned: always
  type: list
  elements: str
"""

from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cloudtrail as plan
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.log_archive import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    is_managed,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.owned_resource import (
    label,
    owned_resource_module,
    take_over_refusal,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator


def input_problems(params: dict[str, Any]) -> list[str]:
    problems = []
    name_problem = plan.trail_name_problem(params["name"])
    if name_problem:
        problems.append(
            f"{label(params, 'name')}: '{params['name']}' is not a valid trail name ({name_problem})"
        )
    bad = plan.data_bucket_problems(params["data_event_buckets"])
    if bad:
        problems.append(f"{label(params, 'data_event_buckets')}: not valid S3 bucket names: {', '.join(bad)}")
    return problems


class Trails:
    """Reads of CloudTrail, each trail's status asked in its home region."""

    def __init__(self, module: AnsibleAWSModule, region: str) -> None:
        self.module = module
        self.region = region
        self.clients: dict[str, Any] = {}

    def client(self, region: str) -> Any:
        if region not in self.clients:
            self.clients[region] = self.module.client(
                "cloudtrail", retry_decorator=retry_decorator(), region=region
            )
        return self.clients[region]

    def all(self) -> list[dict[str, Any]]:
        return self.client(self.region).describe_trails(includeShadowTrails=True, aws_retry=True)["trailList"]

    def logging(self, trail: dict[str, Any]) -> bool:
        home = trail.get("HomeRegion") or self.region
        status = self.client(home).get_trail_status(Name=trail["TrailARN"], aws_retry=True)
        return bool(status.get("IsLogging"))

    def tags(self, trail: dict[str, Any]) -> dict[str, str]:
        home = trail.get("HomeRegion") or self.region
        found = self.client(home).list_tags(ResourceIdList=[trail["TrailARN"]], aws_retry=True)
        tag_list = (found.get("ResourceTagList") or [{}])[0].get("TagsList") or []
        return {t["Key"]: t.get("Value", "") for t in tag_list}

    def selectors(self, trail: dict[str, Any]) -> list[dict[str, Any]]:
        found = self.client(self.region).get_event_selectors(TrailName=trail["TrailARN"], aws_retry=True)
        return found.get("AdvancedEventSelectors") or []


def plan_and_apply(module: AnsibleAWSModule, trails: Trails) -> dict[str, Any]:
    params = module.params
    name, region = params["name"], trails.region
    existing = trails.all()
    ours = next((t for t in existing if t["Name"] == name and t.get("HomeRegion", region) == region), None)
    if ours is None and params["reuse_existing"]:
        logging = {t["TrailARN"]: trails.logging(t) for t in existing if t.get("IsMultiRegionTrail")}
        others = plan.all_region_trails(existing, logging, exclude=name)
        if others:
            # Prefer one that already feeds CloudWatch Logs: the CIS alarms can use its group.
            chosen = sorted(others, key=lambda t: (not t.get("CloudWatchLogsLogGroupArn"), t["TrailARN"]))[0]
            return {
                "changed": False,
                "action": "reused",
                "changes": [],
                "trail": plan.trail_summary(chosen, True),
            }
    tags = trails.tags(ours) if ours else {}
    if ours and not is_managed(tags) and not params["adopt_existing"]:
        module.fail_json(msg=take_over_refusal(params, "trail", "manage it"))
    wanted = plan.desired_trail(params)
    fields = plan.trail_differences(ours, wanted)
    selectors = plan.advanced_selectors(params["data_event_buckets"], region)
    selectors_change = ours is None or not plan.selectors_equal(trails.selectors(ours), selectors)
    logging = trails.logging(ours) if ours else False
    wanted_tags = {**params["tags"], MANAGED_BY_KEY: MANAGED_BY_VALUE}
    missing_tags = {k: v for k, v in wanted_tags.items() if tags.get(k) != v}
    changes = (
        (["create"] if ours is None else ([f"update:{f}" for f in fields] if fields else []))
        + (["event_selectors"] if selectors_change else [])
        + ([] if logging else ["start_logging"])
        + (["tags"] if missing_tags and ours is not None else [])
    )
    arn = ours["TrailARN"] if ours else ""
    if changes and not module.check_mode:
        arn = apply(
            trails.client(region),
            name,
            ours,
            fields,
            wanted,
            selectors,
            selectors_change,
            logging,
            missing_tags,
        )
    after = {**(ours or {}), **wanted, "Name": name, "TrailARN": arn, "HomeRegion": region}
    return {
        "changed": bool(changes),
        "action": "created" if ours is None else ("updated" if changes else "unchanged"),
        "changes": changes,
        "trail": plan.trail_summary(after, True if changes or logging else logging),
        "diff": {
            "before": plan.trail_summary(ours, logging) if ours else {},
            "after": {**plan.trail_summary(after, True), "advanced_event_selectors": selectors},
        },
    }


def apply(
    client: Any,
    name: str,
    ours: dict[str, Any] | None,
    fields: dict[str, Any],
    wanted: dict[str, Any],
    selectors: list[dict[str, Any]],
    selectors_change: bool,
    logging: bool,
    missing_tags: dict[str, str],
) -> str:
    """Write the trail; returns its ARN. Logging starts last, once everything is in place."""
    if ours is None:
        call = plan.trail_call(name, fields, wanted)
        if not call.get("S3KeyPrefix"):
            call.pop("S3KeyPrefix", None)
        call["TagsList"] = [{"Key": k, "Value": v} for k, v in sorted(missing_tags.items())]
        arn = client.create_trail(aws_retry=True, **call)["TrailARN"]
    else:
        arn = ours["TrailARN"]
        if fields:
            client.update_trail(aws_retry=True, **plan.trail_call(arn, fields, wanted))
        if missing_tags:
            tag_list = [{"Key": k, "Value": v} for k, v in sorted(missing_tags.items())]
            client.add_tags(ResourceId=arn, TagsList=tag_list, aws_retry=True)
    if selectors_change:
        client.put_event_selectors(TrailName=arn, AdvancedEventSelectors=selectors, aws_retry=True)
    if not logging:
        client.start_logging(Name=arn, aws_retry=True)
    return arn


def main() -> None:
    module = owned_resource_module(
        dict(
            name=dict(type="str", required=True),
            s3_bucket_name=dict(type="str", required=True),
            s3_key_prefix=dict(type="str", default="", no_log=False),
            kms_key_id=dict(type="str", default="", no_log=False),
            cloudwatch_logs_log_group_arn=dict(type="str", default=""),
            cloudwatch_logs_role_arn=dict(type="str", default=""),
            organization_trail=dict(type="bool", default=False),
            data_event_buckets=dict(type="list", elements="str", default=[]),
            reuse_existing=dict(type="bool", default=True),
        )
    )
    problems = input_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems) + ". Nothing was changed.")
    try:
        result = plan_and_apply(module, Trails(module, module.region))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg=f"CloudTrail in {module.region}: could not read or write the trail")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
