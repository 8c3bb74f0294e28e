# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the CloudTrail trail (module cloudtrail_trail, role cloudtrail).

No AWS call here: the module reads the trails, hands what it read to these functions and applies
the differences they return.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.log_archive import (
    bucket_name_problem,
    partition_of,
)

_TRAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$")

# Fields of DescribeTrails the trail is compared on, and the UpdateTrail parameter of each.
TRAIL_FIELDS: dict[str, str] = {
    "S3BucketName": "S3BucketName",
    "S3KeyPrefix": "S3KeyPrefix",
    "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents",
    "IsMultiRegionTrail": "IsMultiRegionTrail",
    "LogFileValidationEnabled": "EnableLogFileValidation",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "KmsKeyId": "KmsKeyId",
    "IsOrganizationTrail": "IsOrganizationTrail",
}


def trail_name_problem(name: str) -> str | None:
    if not _TRAIL_NAME.match(name or "") or ".." in name or "--" in name or "_." in name or "._" in name:
        return (
            "3 to 128 letters, digits, periods, underscores and hyphens, beginning and ending with a letter "
            "or digit, without adjacent punctuation"
        )
    return None


def data_bucket_problems(buckets: list[str]) -> list[str]:
    return [f"'{b}' ({problem})" for b in buckets for problem in [bucket_name_problem(b)] if problem]


def trail_arn(name: str, region: str, account: str) -> str:
    return f"arn:{partition_of(region)}:cloudtrail:{region}:{account}:trail/{name}"


def desired_trail(params: dict[str, Any]) -> dict[str, Any]:
    """The trail's fields as DescribeTrails shows them (empty strings: not set)."""
    return {
        "S3BucketName": params["s3_bucket_name"],
        "S3KeyPrefix": params["s3_key_prefix"] or "",
        "IncludeGlobalServiceEvents": True,
        "IsMultiRegionTrail": True,
        "LogFileValidationEnabled": True,
        "CloudWatchLogsLogGroupArn": params["cloudwatch_logs_log_group_arn"] or "",
        "CloudWatchLogsRoleArn": params["cloudwatch_logs_role_arn"] or "",
        "KmsKeyId": params["kms_key_id"] or "",
        "IsOrganizationTrail": bool(params["organization_trail"]),
    }


def _shown(current: dict[str, Any], field: str, like: Any) -> Any:
    """A DescribeTrails field, absent ones as the empty value of their type."""
    value = current.get(field)
    if value is None:
        return "" if isinstance(like, str) else False
    return value


def trail_differences(current: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
    """DescribeTrails field -> wanted value, for the fields that differ (all of them for no trail)."""
    return {
        field: value
        for field, value in wanted.items()
        if current is None or _shown(current, field, value) != value
    }


def trail_call(name: str, fields: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """CreateTrail/UpdateTrail parameters for the changed ``fields``. Empty values are left out
    (nothing this role wants is ever removed from a trail), and the two CloudWatch Logs settings
    always go together, as CloudTrail requires."""
    call: dict[str, Any] = {"Name": name}
    for field, value in fields.items():
        if value != "" or field == "S3KeyPrefix":
            call[TRAIL_FIELDS[field]] = value
    cw_fields = ("CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn")
    if any(f in call for f in cw_fields) and all(wanted[f] for f in cw_fields):
        call.update({f: wanted[f] for f in cw_fields})
    return call


def advanced_selectors(data_buckets: list[str], region: str) -> list[dict[str, Any]]:
    """Every management event, plus object-level data events (reads and writes) of ``data_buckets``."""
    selectors: list[dict[str, Any]] = [
        {
            "Name": "Management events",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
        }
    ]
    if data_buckets:
        partition = partition_of(region)
        selectors.append(
            {
                "Name": "S3 object events of buckets holding personal data",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {
                        "Field": "resources.ARN",
                        "StartsWith": [f"arn:{partition}:s3:::{b}/" for b in sorted(set(data_buckets))],
                    },
                ],
            }
        )
    return selectors


def _canonical_selectors(selectors: list[dict[str, Any]] | None) -> list[str]:
    """Selectors in a comparable form: field selectors keyed and sorted, empty operators dropped."""
    out = []
    for selector in selectors or []:
        fields = []
        for fs in selector.get("FieldSelectors", []):
            ops = {k: sorted(v) for k, v in fs.items() if k != "Field" and v}
            fields.append(json.dumps({"Field": fs["Field"], **ops}, sort_keys=True))
        out.append(json.dumps({"Name": selector.get("Name", ""), "Fields": sorted(fields)}, sort_keys=True))
    return sorted(out)


def selectors_equal(current: list[dict[str, Any]] | None, wanted: list[dict[str, Any]]) -> bool:
    return _canonical_selectors(current) == _canonical_selectors(wanted)


def all_region_trails(
    trails: list[dict[str, Any]], logging: dict[str, bool], exclude: str
) -> list[dict[str, Any]]:
    """Trails of others that already record management events of every region: multi-region,
    global service events on, logging. ``logging``: trail ARN -> IsLogging."""
    return [
        t
        for t in trails
        if t.get("Name") != exclude
        and t.get("IsMultiRegionTrail")
        and t.get("IncludeGlobalServiceEvents")
        and logging.get(t["TrailARN"])
    ]


def trail_summary(trail: dict[str, Any], logging: bool) -> dict[str, Any]:
    return {
        "name": trail.get("Name", ""),
        "arn": trail.get("TrailARN", ""),
        "home_region": trail.get("HomeRegion", ""),
        "multi_region": bool(trail.get("IsMultiRegionTrail")),
        "organization": bool(trail.get("IsOrganizationTrail")),
        "logging": logging,
        "log_file_validation": bool(trail.get("LogFileValidationEnabled")),
        "kms_key_id": trail.get("KmsKeyId") or "",
        "s3_bucket_name": trail.get("S3BucketName") or "",
        "log_group_arn": trail.get("CloudWatchLogsLogGroupArn") or "",
    }
