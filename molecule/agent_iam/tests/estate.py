"""Read the agent_iam scenario's estate from the (embedded) AWS with plain boto3.

boto3 finds the endpoint in AWS_ENDPOINT_URL, which the harness exports, so these helpers would read
a real account just the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import yaml

FLEET_FILE = Path(__file__).resolve().parent.parent / "vars" / "fleet.yml"


def fleet() -> dict[str, Any]:
    return yaml.safe_load(FLEET_FILE.read_text())


def iam() -> Any:
    return boto3.client("iam", region_name="us-east-1")


def ec2(region: str) -> Any:
    return boto3.client("ec2", region_name=region)


def instances_by_name(region: str) -> dict[str, dict[str, Any]]:
    found = {}
    for page in ec2(region).get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                if instance["State"]["Name"] != "terminated" and "Name" in tags:
                    found[tags["Name"]] = instance
    return found


def associations(region: str) -> dict[str, dict[str, Any]]:
    """Active instance profile associations by instance id (the instance's own field lags in moto)."""
    found = {}
    pages = ec2(region).get_paginator("describe_iam_instance_profile_associations").paginate()
    for page in pages:
        for association in page["IamInstanceProfileAssociations"]:
            if association["State"] != "disassociated":
                found[association["InstanceId"]] = association
    return found


def attached_policies(role: str) -> list[str]:
    pages = iam().get_paginator("list_attached_role_policies").paginate(RoleName=role)
    return sorted(p["PolicyArn"] for page in pages for p in page["AttachedPolicies"])


def inline_policies(role: str) -> list[str]:
    pages = iam().get_paginator("list_role_policies").paginate(RoleName=role)
    return sorted(name for page in pages for name in page["PolicyNames"])


def snapshot() -> dict[str, Any]:
    """Everything the role could change: roles, their policies, profiles, associations, instances."""
    client = iam()
    roles = [r for page in client.get_paginator("list_roles").paginate() for r in page["Roles"]]
    profiles = [
        p
        for page in client.get_paginator("list_instance_profiles").paginate()
        for p in page["InstanceProfiles"]
    ]
    state: dict[str, Any] = {
        "roles": {
            r["RoleName"]: {
                "path": r["Path"],
                "managed": attached_policies(r["RoleName"]),
                "inline": inline_policies(r["RoleName"]),
            }
            for r in roles
        },
        "instance_profiles": {
            p["InstanceProfileName"]: sorted(r["RoleName"] for r in p["Roles"]) for p in profiles
        },
        "regions": {},
    }
    for region in fleet()["agent_iam_fleet_regions"]:
        state["regions"][region] = {
            "instances": {i["InstanceId"]: i["State"]["Name"] for i in instances_by_name(region).values()},
            "associations": {
                instance_id: [a["IamInstanceProfile"]["Arn"], a["State"]]
                for instance_id, a in sorted(associations(region).items())
            },
        }
    return state
