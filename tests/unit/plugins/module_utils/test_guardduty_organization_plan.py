"""Pure planning of guardduty_organization (module_utils/guardduty_organization.py): no AWS involved."""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import guardduty_organization as org

VAR = "guardduty_organization_admin_account"


def test_caller_roles():
    assert org.caller_roles("1", "1", "2", VAR) == [org.MANAGEMENT]
    assert org.caller_roles("2", "1", "2", VAR) == [org.ADMINISTRATOR]
    # AWS lets the management account administer GuardDuty itself (not recommended): both parts run.
    assert org.caller_roles("1", "1", "1", VAR) == [org.MANAGEMENT, org.ADMINISTRATOR]
    with pytest.raises(org.Refused, match=f"^{VAR}: the caller's account 3 is neither"):
        org.caller_roles("3", "1", "2", VAR)
    with pytest.raises(org.Refused, match="not in an AWS Organization"):
        org.caller_roles("3", None, "2", VAR)


def test_admin_account_plan():
    enabled = [{"AdminAccountId": "2", "AdminStatus": "ENABLED"}]
    assert org.plan_admin_account(enabled, "2", VAR).actions == []
    # An administrator being removed is not one: the wanted one is enabled.
    removing = [{"AdminAccountId": "5", "AdminStatus": "DISABLE_IN_PROGRESS"}]
    plan = org.plan_admin_account(removing, "2", VAR)
    assert [a.kind for a in plan.actions] == ["enable_organization_admin_account"] and plan.conflict is None
    plan = org.plan_admin_account([{"AdminAccountId": "5", "AdminStatus": "ENABLED"}], "2", VAR)
    assert plan.actions == [] and "is 5, not 2" in plan.conflict and VAR in plan.conflict


def test_trusted_access_once():
    assert org.plan_trusted_access(["guardduty.amazonaws.com", "config.amazonaws.com"]) == []
    assert [a.params for a in org.plan_trusted_access(["config.amazonaws.com"])] == [
        {"ServicePrincipal": "guardduty.amazonaws.com"}
    ]


def test_org_features_follow_auto_enable_and_disabled_plans_are_none():
    wanted = org.wanted_org_features(
        [
            {"name": "S3_DATA_EVENTS", "status": "ENABLED", "additional_configuration": []},
            {
                "name": "RUNTIME_MONITORING",
                "status": "ENABLED",
                "additional_configuration": [{"name": "EC2_AGENT_MANAGEMENT", "status": "DISABLED"}],
            },
        ],
        "NEW",
    )
    assert org.org_features_to_aws(wanted) == [
        {"Name": "S3_DATA_EVENTS", "AutoEnable": "NEW"},
        {
            "Name": "RUNTIME_MONITORING",
            "AutoEnable": "NEW",
            "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "AutoEnable": "NONE"}],
        },
    ]
    # A sub-option AWS does not list counts as NONE: no update when NONE is wanted.
    current = org.org_config_view(
        {
            "AutoEnableOrganizationMembers": "NEW",
            "Features": [
                {"Name": "S3_DATA_EVENTS", "AutoEnable": "NEW"},
                {"Name": "RUNTIME_MONITORING", "AutoEnable": "NEW"},
            ],
        }
    )
    actions, after = org.plan_org_config("d", current, "NEW", wanted)
    assert actions == [] and after["auto_enable_organization_members"] == "NEW"
    actions, _after = org.plan_org_config("d", current, "ALL", wanted)
    assert [a.params["AutoEnableOrganizationMembers"] for a in actions] == ["ALL"]


def test_members_in_calls_of_fifty_without_the_administrator_or_inactive_accounts():
    accounts = [{"Id": f"{i:012d}", "Email": f"{i}@example.com", "Status": "ACTIVE"} for i in range(1, 102)]
    accounts.append({"Id": "999", "Email": "x@example.com", "Status": "SUSPENDED"})
    plan = org.plan_members(
        "d", accounts, [{"AccountId": "000000000001", "RelationshipStatus": "Enabled"}], "000000000002"
    )
    assert [len(a.params["AccountDetails"]) for a in plan.actions] == [50, 49]
    assert "000000000002" not in plan.to_create and "999" not in plan.to_create
    assert plan.left_organization == [] and plan.not_enabled == []
    assert org.batches(list(range(100))) == [list(range(50)), list(range(50, 100))]


def test_existing_members_out_of_step_are_updated_fifty_at_a_time():
    wanted = [{"name": "S3_DATA_EVENTS", "status": "ENABLED", "additional_configuration": []}]
    in_step = [
        {"name": "S3_DATA_EVENTS", "status": "ENABLED", "additional_configuration": []},
        # A plan not configured here is someone's choice: it does not make a member stale.
        {"name": "EKS_AUDIT_LOGS", "status": "ENABLED", "additional_configuration": []},
    ]
    off = [{"name": "S3_DATA_EVENTS", "status": "DISABLED", "additional_configuration": []}]
    members = {f"{i:012d}": (off if i % 2 else in_step) for i in range(120)}
    actions, stale = org.member_feature_updates("d", members, wanted)
    assert stale == sorted(a for a in members if int(a) % 2)
    assert [len(a.params["AccountIds"]) for a in actions] == [50, 10]
    assert actions[0].params["Features"] == [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}]
    accounts = [{"Id": a} for a in ("1", "2", "3")]
    listed = [
        {"AccountId": "1", "RelationshipStatus": "Enabled"},
        {"AccountId": "2", "RelationshipStatus": "Removed"},
        {"AccountId": "9", "RelationshipStatus": "Enabled"},
    ]
    assert org.monitored_members(accounts, listed) == ["1"]
