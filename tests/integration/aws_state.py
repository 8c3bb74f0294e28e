"""Read the embedded AWS's state that the site playbook may change, as plain comparable data."""

from __future__ import annotations

from typing import Any

import boto3


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def guardduty_state(region: str) -> list[dict[str, Any]]:
    gd = _client("guardduty", region)
    detectors = []
    for detector_id in sorted(gd.list_detectors()["DetectorIds"]):
        det = gd.get_detector(DetectorId=detector_id)
        detectors.append(
            {
                "id": detector_id,
                "status": det["Status"],
                "frequency": det.get("FindingPublishingFrequency"),
                "features": sorted((f["Name"], f["Status"]) for f in det.get("Features", [])),
            }
        )
    return detectors


def logs_state(region: str) -> dict[str, dict[str, Any]]:
    logs = _client("logs", region)
    groups = {}
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            groups[group["logGroupName"]] = {
                "retention": group.get("retentionInDays"),
                "kms": group.get("kmsKeyId"),
            }
    return groups


def ec2_state(region: str) -> dict[str, dict[str, Any]]:
    ec2 = _client("ec2", region)
    instances = {}
    for page in ec2.get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                instances[inst["InstanceId"]] = {
                    "state": inst["State"]["Name"],
                    "tags": {t["Key"]: t["Value"] for t in inst.get("Tags", [])},
                    "profile": None,
                }
    for assoc in ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]:
        if assoc["State"] in ("associated", "associating") and assoc["InstanceId"] in instances:
            instances[assoc["InstanceId"]]["profile"] = assoc["IamInstanceProfile"]["Arn"]
    return instances


def iam_state() -> dict[str, Any]:
    iam = _client("iam", "us-east-1")
    roles = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
            roles[role["RoleName"]] = sorted(p["PolicyArn"] for p in attached)
    profiles = {}
    for page in iam.get_paginator("list_instance_profiles").paginate():
        for profile in page["InstanceProfiles"]:
            profiles[profile["InstanceProfileName"]] = sorted(r["RoleName"] for r in profile["Roles"])
    return {"roles": roles, "instance_profiles": profiles}


def kms_state(region: str) -> list[str]:
    kms = _client("kms", region)
    aliases = kms.list_aliases()["Aliases"]
    return sorted(a["AliasName"] for a in aliases if not a["AliasName"].startswith("alias/aws/"))


def snapshot(regions: list[str]) -> dict[str, Any]:
    return {
        "iam": iam_state(),
        "regions": {
            region: {
                "guardduty": guardduty_state(region),
                "logs": logs_state(region),
                "ec2": ec2_state(region),
                "kms": kms_state(region),
            }
            for region in regions
        },
    }
