"""agent_iam filters: whose role a name is (the collection's tag) and what a role update changes."""

from __future__ import annotations

from ansible_collections.gdpr.aws_monitoring.plugins.filter.agent_iam import foreign, role_changes

TAG = {"gdpr-monitoring:managed-by": "gdpr.aws_monitoring"}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
AGENT = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
APP = "arn:aws:iam::123456789012:policy/AppPolicy"


def wanted(**over):
    base = {
        "path": "/",
        "description": "agent",
        "assume_role_policy_document": TRUST,
        "managed_policies": [AGENT],
        "purge_policies": False,
        "tags": dict(TAG),
        "purge_tags": False,
    }
    return {**base, **over}


def test_nothing_existing_is_not_foreign():
    assert foreign([], [], TAG) == []


def test_untagged_or_otherwise_tagged_role_and_profile_are_foreign():
    roles = [{"role_name": "AppRole", "tags": {"team": "app"}}]
    profiles = [{"instance_profile_name": "AppRole", "tags": {"gdpr-monitoring:managed-by": "someone"}}]
    assert foreign(roles, profiles, TAG) == ["role", "instance profile"]
    assert foreign([{"role_name": "AppRole"}], [], TAG) == ["role"]


def test_tagged_role_and_profile_are_ours():
    assert foreign([{"tags": {**TAG, "team": "x"}}], [{"tags": dict(TAG)}], TAG) == []


def test_new_role_lists_everything_it_will_have():
    changes = role_changes({}, wanted())
    assert changes["role"] == {"before": None, "after": "created"}
    assert changes["managed_policies"]["after"] == [AGENT]


def test_role_as_wanted_changes_nothing_even_when_iam_unwrapped_single_lists():
    current = {
        "path": "/",
        "description": "agent",
        # IAM returns one-element lists as scalars and may order keys differently.
        "assume_role_policy_document": {
            "Statement": {
                "Action": "sts:AssumeRole",
                "Principal": {"Service": ["ec2.amazonaws.com"]},
                "Effect": "Allow",
            },
            "Version": "2012-10-17",
        },
        "managed_policies": [{"policy_arn": AGENT, "policy_name": "CloudWatchAgentServerPolicy"}],
        "tags": dict(TAG),
    }
    assert role_changes(current, wanted()) == {}


def test_application_role_shows_trust_description_policies_and_tags_before_and_after():
    lambda_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    current = {
        "path": "/",
        "description": "the application's role",
        "assume_role_policy_document": lambda_trust,
        "managed_policies": [{"policy_arn": APP}],
        "tags": {"team": "app"},
    }
    changes = role_changes(current, wanted())
    assert changes["assume_role_policy_document"] == {"before": lambda_trust, "after": TRUST}
    assert changes["description"] == {"before": "the application's role", "after": "agent"}
    # Without purge_policies the application's policy stays; with it, it would go.
    assert changes["managed_policies"] == {"before": [APP], "after": sorted([APP, AGENT])}
    assert role_changes(current, wanted(purge_policies=True))["managed_policies"]["after"] == [AGENT]
    assert changes["tags"] == {"before": {"team": "app"}, "after": {"team": "app", **TAG}}
    assert role_changes(current, wanted(purge_tags=True))["tags"]["after"] == TAG
