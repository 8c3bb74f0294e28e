"""The pure planning half of instance_profile_attachment (module_utils/instance_profiles.py):
targets, per-instance decisions, role policies, counts and diff, driven with plain data (no AWS).
Whole runs against the embedded AWS are in tests/unit/plugins/modules/test_instance_profile_attachment.py."""

from __future__ import annotations

import pytest
from instance_profile_data import (
    ACCOUNT,
    AGENT,
    AGENT_POLICY,
    LEGACY,
    S3_POLICY,
    SSM_POLICY,
    TARGET,
    association,
)

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import instance_profiles as mod

# --- planning (pure) ---------------------------------------------------------------------------


def test_targets_are_grouped_by_region_deduplicated_and_default_region_filled():
    targets = mod.normalize_targets(
        [
            {"instance_id": "i-1", "region": "eu-west-1"},
            {"instance_id": "i-2", "region": None},
            {"instance_id": "i-1", "region": "eu-west-1"},
        ],
        "eu-central-1",
    )
    assert targets == {"eu-west-1": ["i-1"], "eu-central-1": ["i-2"]}


def test_target_without_instance_id_fails_naming_its_position():
    with pytest.raises(mod.PlanError, match=r"instances\[1\] has no instance_id"):
        mod.normalize_targets([{"instance_id": "i-1"}, {"instance_id": " "}], "eu-west-1")


def test_target_without_any_region_fails():
    with pytest.raises(mod.PlanError, match=r"i-1.*no region"):
        mod.normalize_targets([{"instance_id": "i-1"}], None)


def test_filters_select_attachable_states_unless_the_user_chose_states():
    filters = mod.ec2_filters({"tag:team": ["a", "b"], "tag:env": "prod"})
    assert {"Name": "tag:team", "Values": ["a", "b"]} in filters
    assert {"Name": "tag:env", "Values": ["prod"]} in filters
    assert {"Name": "instance-state-name", "Values": list(mod.ATTACHABLE_STATES)} in filters
    chosen = mod.ec2_filters({"instance-state-name": "running"})
    assert chosen == [{"Name": "instance-state-name", "Values": ["running"]}]


def test_request_needs_targets_regions_for_filters_and_policy_arns():
    base = {
        "instance_profile": "P",
        "instance_profile_path": "/",
        "instances": [],
        "filters": {},
        "regions": [],
        "existing_profile": "extend",
        "policies": [],
        "wait_timeout": 5,
    }
    with pytest.raises(mod.PlanError, match="no targets"):
        mod.request_from_params(base, "eu-west-1")
    with pytest.raises(mod.PlanError, match="no regions"):
        mod.request_from_params({**base, "filters": {"tag:a": "b"}}, None)
    with pytest.raises(mod.PlanError, match="not a policy ARN"):
        mod.request_from_params(
            {**base, "instances": [{"instance_id": "i-1"}], "policies": ["CloudWatchAgentServerPolicy"]},
            "eu-west-1",
        )
    request = mod.request_from_params(
        {**base, "instances": [{"instance_id": "i-1", "region": "us-east-1"}], "filters": {"tag:a": "b"}},
        "eu-west-1",
    )
    assert request.regions == ["eu-west-1", "us-east-1"]
    assert request.filter_regions == ["eu-west-1"]


def test_profile_name_and_predicted_arn():
    assert mod.profile_name_from_arn(LEGACY) == "LegacyAppProfile"
    caller = "arn:aws-cn:sts::123456789012:assumed-role/Deploy/session"
    assert mod.predicted_profile_arn(caller, ACCOUNT, "agents", "Agent") == (
        "arn:aws-cn:iam::123456789012:instance-profile/agents/Agent"
    )
    assert mod.predicted_profile_arn(caller, ACCOUNT, "/", "Agent").endswith(":instance-profile/Agent")


def test_lingering_disassociated_associations_do_not_count():
    index = mod.index_associations(
        [association("i-1", state="disassociated", aid="old"), association("i-1", AGENT, aid="new")]
    )
    assert index["i-1"]["AssociationId"] == "new"
    assert mod.index_associations([association("i-2", state="disassociated")]) == {}


def test_instance_without_profile_is_associated():
    plan = mod.plan_instance("i-1", "eu-west-1", "stopped", None, TARGET, "extend")
    assert (plan.operation, plan.action, plan.before, plan.after) == ("associate", "associated", None, AGENT)


def test_instance_with_the_target_profile_is_unchanged_whatever_its_path():
    other_path = f"arn:aws:iam::{ACCOUNT}:instance-profile/x/CloudWatchAgentServerRole"
    plan = mod.plan_instance("i-1", "eu-west-1", "running", association(arn=other_path), TARGET, "replace")
    assert (plan.operation, plan.action, plan.after) == ("none", "unchanged", other_path)


def test_existing_profile_is_extended_by_default_and_never_replaced():
    plan = mod.plan_instance("i-1", "eu-west-1", "running", association(), TARGET, "extend")
    assert (plan.operation, plan.action, plan.before, plan.after) == ("extend", "extended", LEGACY, LEGACY)


@pytest.mark.parametrize(("state", "operation"), [("running", "replace"), ("stopped", "reassociate")])
def test_replace_uses_the_api_each_state_allows(state, operation):
    plan = mod.plan_instance("i-1", "eu-west-1", state, association(), TARGET, "replace")
    assert (plan.operation, plan.action, plan.before, plan.after) == (operation, "replaced", LEGACY, AGENT)


def test_skip_reports_and_keeps_the_profile():
    plan = mod.plan_instance("i-1", "eu-west-1", "running", association(), TARGET, "skip")
    assert (plan.operation, plan.action, plan.after) == ("skip", "skipped", LEGACY)
    assert "existing_profile=skip" in plan.message


def test_role_policies_lists_only_what_is_missing():
    missing = mod.plan_role_policies(
        {"LegacyAppRole": [S3_POLICY, AGENT_POLICY], "Complete": [AGENT_POLICY, SSM_POLICY]},
        [AGENT_POLICY, SSM_POLICY],
    )
    assert missing == {"LegacyAppRole": [SSM_POLICY]}


def test_extend_settles_to_extended_unchanged_or_skipped():
    roles_of_profile = {"LegacyAppProfile": ["LegacyAppRole"], "Done": ["Complete"], "Empty": []}
    missing = {"LegacyAppRole": [SSM_POLICY]}

    def settled(arn):
        plan = mod.plan_instance("i-1", "eu-west-1", "running", association(arn=arn), TARGET, "extend")
        return mod.settle_extend(plan, roles_of_profile, missing)

    extended = settled(LEGACY)
    assert (extended.action, extended.roles) == ("extended", {"LegacyAppRole": [SSM_POLICY]})
    assert settled(f"arn:aws:iam::{ACCOUNT}:instance-profile/Done").action == "unchanged"
    empty = settled(f"arn:aws:iam::{ACCOUNT}:instance-profile/Empty")
    assert (empty.operation, empty.action) == ("skip", "skipped")
    assert "no role" in empty.message


def test_counts_and_diff_cover_changes_only():
    plans = [
        mod.plan_instance("i-1", "eu-west-1", "running", None, TARGET, "extend"),
        mod.plan_instance("i-2", "eu-west-1", "running", association("i-2", AGENT), TARGET, "extend"),
        mod.plan_instance("i-3", "eu-west-1", "running", association("i-3"), TARGET, "skip"),
    ]
    assert mod.count_actions(plans) == {
        "associated": 1,
        "replaced": 0,
        "extended": 0,
        "skipped": 1,
        "unchanged": 1,
    }
    diff = mod.build_diff(plans, {"LegacyAppRole": [AGENT_POLICY]}, {"LegacyAppRole": [S3_POLICY]})
    assert diff["before"]["instances"] == {"eu-west-1/i-1": None}
    assert diff["after"]["instances"] == {"eu-west-1/i-1": AGENT}
    assert diff["before"]["roles"] == {"LegacyAppRole": [S3_POLICY]}
    assert diff["after"]["roles"] == {"LegacyAppRole": sorted([S3_POLICY, AGENT_POLICY])}


def test_region_sources_name_the_variable_each_region_came_from():
    names = {"regions": "agent_iam_regions", "instances": "agent_iam_instances", "region": "agent_iam_region"}
    params = {
        "instances": [{"instance_id": "i-1", "region": "eu-wset-1"}, {"instance_id": "i-2", "region": None}],
        "filters": {"tag:x": "y"},
        "regions": ["us-eats-1"],
    }
    assert mod.region_sources(params, "eu-west-1", names) == {
        "agent_iam_instances": ["eu-wset-1"],
        "agent_iam_region": ["eu-west-1"],
        "agent_iam_regions": ["us-eats-1"],
    }
    params = {"instances": [], "filters": {"tag:x": "y"}, "regions": []}
    assert mod.region_sources(params, "eu-west-1", {}) == {"region": ["eu-west-1"]}
