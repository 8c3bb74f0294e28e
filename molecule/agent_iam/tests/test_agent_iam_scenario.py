"""Verify of the agent_iam scenario, with boto3 against the (embedded) AWS after converge.

The fleet is molecule/agent_iam/vars/fleet.yml; the play targeted its opted-in instances in eu-west-1 and
eu-central-1 through the aws_ec2 inventory, with the role's defaults (existing_profile: extend).
"""

from __future__ import annotations

import json
import urllib.parse

import estate
import pytest

ROLE = "CloudWatchAgentServerRole"
AGENT_POLICY = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
SSM_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
TARGET_REGIONS = ("eu-west-1", "eu-central-1")


def fleet_entries(**match: object) -> list[dict]:
    return [e for e in estate.fleet()["agent_iam_fleet"] if all(e.get(k) == v for k, v in match.items())]


def instance(entry: dict) -> dict:
    return estate.instances_by_name(entry["region"])[entry["name"]]


def association(entry: dict) -> dict | None:
    return estate.associations(entry["region"]).get(instance(entry)["InstanceId"])


def trust_document(role: dict) -> dict:
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):  # some endpoints return it URL-encoded
        document = json.loads(urllib.parse.unquote(document))
    return document


def test_role_trusts_ec2_and_has_the_agent_policies() -> None:
    role = estate.iam().get_role(RoleName=ROLE)["Role"]
    assert role["Path"] == "/"
    principals = [s["Principal"]["Service"] for s in trust_document(role)["Statement"]]
    assert principals == ["ec2.amazonaws.com"]
    assert estate.attached_policies(ROLE) == sorted([AGENT_POLICY, SSM_POLICY])


def test_instance_profile_holds_the_role() -> None:
    profile = estate.iam().get_instance_profile(InstanceProfileName=ROLE)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [ROLE]


@pytest.mark.parametrize(
    "entry",
    [e for e in fleet_entries(fleet=True) if e["region"] in TARGET_REGIONS and "profile" not in e],
    ids=lambda e: e["name"],
)
def test_targets_without_a_profile_got_the_agent_profile(entry: dict) -> None:
    found = association(entry)
    assert found is not None, f"{entry['name']} has no instance profile"
    assert found["State"] == "associated"
    assert found["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{ROLE}")


def test_stopped_target_is_still_stopped_and_has_the_profile() -> None:
    (entry,) = fleet_entries(name="agent-iam-web-stopped")
    assert instance(entry)["State"]["Name"] == "stopped"
    assert association(entry)["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{ROLE}")


def test_instance_with_its_own_profile_keeps_it_and_its_role_got_the_agent_policies() -> None:
    (entry,) = fleet_entries(name="agent-iam-web-legacy")
    found = association(entry)
    assert found["IamInstanceProfile"]["Arn"].endswith(":instance-profile/LegacyAppProfile")
    attached = estate.attached_policies("LegacyAppRole")
    assert AGENT_POLICY in attached
    assert SSM_POLICY in attached


def test_pre_existing_role_keeps_every_policy_it_had() -> None:
    attached = estate.attached_policies("LegacyAppRole")
    assert "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" in attached
    assert any(arn.endswith(":policy/LegacyAppPolicy") for arn in attached)
    assert len(attached) == 4  # its two plus the agent's two, nothing else
    assert estate.inline_policies("LegacyAppRole") == ["legacy-app-queue"]


@pytest.mark.parametrize(
    "entry",
    [e for e in estate.fleet()["agent_iam_fleet"] if not e["fleet"] or e["region"] not in TARGET_REGIONS],
    ids=lambda e: e["name"],
)
def test_untargeted_instances_are_untouched(entry: dict) -> None:
    assert association(entry) is None
    assert instance(entry)["State"]["Name"] == "running"


def test_rejected_runs_created_nothing() -> None:
    """verify.yml ran the role with bad input under these names first: every run had to fail before
    any change, so none of these roles may exist."""
    names = {
        r["RoleName"] for page in estate.iam().get_paginator("list_roles").paginate() for r in page["Roles"]
    }
    assert not {n for n in names if n.startswith("AgentIamRejected")}
    profiles = estate.iam().list_instance_profiles()["InstanceProfiles"]
    assert not {
        p["InstanceProfileName"] for p in profiles if p["InstanceProfileName"].startswith("AgentIamRejected")
    }
