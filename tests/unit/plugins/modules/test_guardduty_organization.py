"""gdpr.aws_monitoring.guardduty_organization, run in-process against botocore's Stubber.

The embedded AWS (moto 5.2.5) answers HTTP 404 to DescribeOrganizationConfiguration,
UpdateOrganizationConfiguration and CreateMembers (measured), so the delegated administrator's part
is tested here with botocore's Stubber, which checks each request against botocore's GuardDuty and
Organizations service models. The management account's part (EnableOrganizationAdminAccount and
trusted access) also runs on moto: tests/unit/roles/test_guardduty_organization_role.py.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import ANY
from test_guardduty_detector import ModuleExit, StubbedClients

from ansible_collections.gdpr.aws_monitoring.plugins.modules import guardduty_organization as module

REGIONS = ["eu-central-1", "eu-west-1"]
HOME = "eu-west-1"
MANAGEMENT, ADMIN = "111111111111", "222222222222"
FEATURES = [
    {"name": "S3_DATA_EVENTS", "status": "ENABLED"},
    {
        "name": "RUNTIME_MONITORING",
        "status": "ENABLED",
        "additional_configuration": [{"name": "EC2_AGENT_MANAGEMENT", "status": "ENABLED"}],
    },
]
# The plans of a member detector in step with FEATURES (GetMemberDetectors' shape).
MEMBER_FEATURES = [
    {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
    {
        "Name": "RUNTIME_MONITORING",
        "Status": "ENABLED",
        "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}],
    },
]
ORG_FEATURES = [
    {
        "Name": "RUNTIME_MONITORING",
        "AutoEnable": "ALL",
        "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "AutoEnable": "ALL"}],
    },
    {"Name": "S3_DATA_EVENTS", "AutoEnable": "ALL"},
]


def run(stubs: StubbedClients, check_mode: bool = False, **args: Any) -> ModuleExit:
    args = {
        "regions": REGIONS,
        "admin_account_id": ADMIN,
        "features": FEATURES,
        "region": HOME,
        "variable_names": {"admin_account_id": "guardduty_organization_admin_account"},
        "_ansible_check_mode": check_mode,
        "_ansible_diff": True,
        **args,
    }

    def _exit(self: Any, **kwargs: Any) -> None:
        raise ModuleExit(kwargs, failed=False)

    def _fail(self: Any, msg: str, **kwargs: Any) -> None:
        raise ModuleExit(dict(kwargs, msg=msg), failed=True)

    warnings: list[str] = []
    stubs.known_regions_answer()
    patches = [
        mock.patch("ansible.module_utils.basic.AnsibleModule.exit_json", _exit),
        mock.patch("ansible.module_utils.basic.AnsibleModule.fail_json", _fail),
        mock.patch("ansible.module_utils.basic.AnsibleModule.warn", lambda self, w: warnings.append(w)),
        mock.patch.object(module, "RegionalClients", lambda _module, _retry=None: stubs),
    ]
    with patch_module_args(args), pytest.raises(ModuleExit) as info:
        for p in patches:
            p.start()
        try:
            module.main()
        finally:
            for p in patches:
                p.stop()
    info.value.result["warnings_seen"] = warnings
    return info.value


def caller(stubs: StubbedClients, account: str) -> None:
    stubs.stub("sts", HOME).add_response(
        "get_caller_identity",
        {"Account": account, "Arn": f"arn:aws:iam::{account}:user/ops", "UserId": "AIDAEXAMPLE"},
        {},
    )
    stubs.stub("organizations", HOME).add_response(
        "describe_organization",
        {"Organization": {"Id": "o-abcdefghij", "MasterAccountId": MANAGEMENT, "FeatureSet": "ALL"}},
        {},
    )


def accounts(ids: list[str], status: str = "ACTIVE") -> list[dict[str, str]]:
    return [{"Id": a, "Email": f"aws+{a}@example.com", "Name": a, "Status": status} for a in ids]


def administrator(
    stubs: StubbedClients,
    org_accounts: list[dict[str, str]],
    members: dict[str, list[dict[str, Any]]],
    config: dict,
    stale: tuple[str, ...] = (),
) -> dict[str, str]:
    """The delegated administrator's reads: caller, ListAccounts, and per region the detector, the
    organization configuration, the members and the plans of the monitored ones (``stale`` accounts
    with S3 protection off). Returns region -> detector id."""
    caller(stubs, ADMIN)
    stubs.stub("organizations", HOME).add_response("list_accounts", {"Accounts": org_accounts}, {})
    in_org = {a["Id"] for a in org_accounts}
    detectors = {}
    for region in REGIONS:
        detector_id = f"det{region.replace('-', '')}"
        detectors[region] = detector_id
        gd = stubs.stub("guardduty", region)
        gd.add_response("list_detectors", {"DetectorIds": [detector_id]}, {})
        gd.add_response(
            "describe_organization_configuration",
            {"AutoEnable": False, "MemberAccountLimitReached": False, **config},
            {"DetectorId": detector_id},
        )
        gd.add_response(
            "list_members",
            {"Members": members.get(region, [])},
            {"DetectorId": detector_id, "OnlyAssociated": "false"},
        )
        monitored = sorted(
            m["AccountId"]
            for m in members.get(region, [])
            if m["AccountId"] in in_org and m["RelationshipStatus"] == "Enabled"
        )
        for start in range(0, len(monitored), 50):
            chunk = monitored[start : start + 50]
            configs = [
                {
                    "AccountId": a,
                    # Required in the answer by botocore's model (the legacy data sources' view).
                    "DataSources": {
                        k: {"Status": "ENABLED"} for k in ("CloudTrail", "DNSLogs", "FlowLogs", "S3Logs")
                    },
                    "Features": [{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}]
                    if a in stale
                    else MEMBER_FEATURES,
                }
                for a in chunk
            ]
            gd.add_response(
                "get_member_detectors",
                {"MemberDataSourceConfigurations": configs, "UnprocessedAccounts": []},
                {"DetectorId": detector_id, "AccountIds": chunk},
            )
    return detectors


def member(account: str, status: str = "Enabled") -> dict[str, str]:
    return {
        "AccountId": account,
        "MasterId": ADMIN,
        "Email": f"aws+{account}@example.com",
        "RelationshipStatus": status,
        "UpdatedAt": "2026-11-28T00:00:00Z",
    }


def test_administrator_auto_enables_and_creates_members_in_calls_of_50():
    org_ids = [f"{300000000000 + i}" for i in range(120)]
    org_accounts = accounts([MANAGEMENT, ADMIN, *org_ids]) + accounts(["444444444444"], "SUSPENDED")
    # Already members: 10 of the organization, one disassociated by someone, one that left.
    existing = [member(a) for a in org_ids[:10]] + [member(org_ids[10], "Removed"), member("999999999999")]
    stubs = StubbedClients()
    detectors = administrator(stubs, org_accounts, dict.fromkeys(REGIONS, existing), {}, stale=(org_ids[3],))
    wanted = sorted([MANAGEMENT, *org_ids[11:]])
    for region in REGIONS:
        gd = stubs.stub("guardduty", region)
        gd.add_response(
            "update_organization_configuration",
            {},
            {
                "DetectorId": detectors[region],
                "AutoEnableOrganizationMembers": "ALL",
                "Features": ORG_FEATURES,
            },
        )
        for chunk in (wanted[:50], wanted[50:100], wanted[100:]):
            gd.add_response(
                "create_members",
                {"UnprocessedAccounts": []},
                {
                    "DetectorId": detectors[region],
                    "AccountDetails": [{"AccountId": a, "Email": f"aws+{a}@example.com"} for a in chunk],
                },
            )
        # The one member whose S3 protection was turned off is brought back in step.
        gd.add_response(
            "update_member_detectors",
            {"UnprocessedAccounts": []},
            {"DetectorId": detectors[region], "AccountIds": [org_ids[3]], "Features": MEMBER_FEATURES[::-1]},
        )
    result = run(stubs)
    assert not result.failed, result.result
    assert result.result["changed"] is True
    assert result.result["caller"]["roles"] == ["administrator"]
    assert result.result["trusted_access"] == {"enabled": None, "actions": []}
    for entry in result.result["regions"]:
        assert entry["actions"] == [
            "update_organization_configuration",
            *["create_members"] * 3,
            "update_member_detectors",
        ]
        assert entry["members"]["features_updated"] == [org_ids[3]]
        assert entry["members"]["created"] == wanted
        assert entry["members"]["left_organization"] == ["999999999999"]
        assert entry["members"]["not_enabled"] == [
            {"account_id": org_ids[10], "relationship_status": "Removed"}
        ]
        assert entry["organization_configuration"]["auto_enable_organization_members"] == "ALL"
    warnings = " ".join(result.result["warnings_seen"])
    assert "999999999999" in warnings and "not deleted" in warnings
    assert f"{org_ids[10]} (Removed)" in warnings
    stubs.assert_all_used()


def test_administrator_in_step_changes_nothing():
    org_accounts = accounts([MANAGEMENT, ADMIN, "333333333333"])
    config = {
        "AutoEnableOrganizationMembers": "ALL",
        "Features": [*ORG_FEATURES, {"Name": "EKS_AUDIT_LOGS", "AutoEnable": "NONE"}],
    }
    stubs = StubbedClients()
    administrator(
        stubs, org_accounts, {key: [member(MANAGEMENT), member("333333333333")] for key in REGIONS}, config
    )
    result = run(stubs)
    assert not result.failed and result.result["changed"] is False, result.result
    assert all(r["actions"] == [] for r in result.result["regions"])
    # A plan not listed keeps its organization setting (shown as it is).
    features = result.result["regions"][0]["organization_configuration"]["features"]
    assert {"name": "EKS_AUDIT_LOGS", "auto_enable": "NONE", "additional_configuration": []} in features
    stubs.assert_all_used()


def test_administrator_check_mode_plans_and_writes_nothing():
    stubs = StubbedClients()
    administrator(
        stubs, accounts([MANAGEMENT, ADMIN, "333333333333"]), {}, {"AutoEnableOrganizationMembers": "NEW"}
    )
    result = run(stubs, check_mode=True)
    assert not result.failed and result.result["changed"] is True, result.result
    assert [r["actions"] for r in result.result["regions"]] == [
        ["update_organization_configuration", "create_members"]
    ] * 2
    assert (
        result.result["diff"]["before"]["eu-west-1"]["organization_configuration"][
            "auto_enable_organization_members"
        ]
        == "NEW"
    )
    stubs.assert_all_used()  # no write was queued: any write would have raised


def test_unprocessed_accounts_fail_the_region_as_changed():
    stubs = StubbedClients()
    detectors = administrator(
        stubs,
        accounts([MANAGEMENT, ADMIN]),
        {},
        {"AutoEnableOrganizationMembers": "ALL", "Features": ORG_FEATURES},
    )
    for region in REGIONS:
        unprocessed = (
            [{"AccountId": MANAGEMENT, "Result": "Invalid email"}] if region == "eu-central-1" else []
        )
        stubs.stub("guardduty", region).add_response(
            "create_members",
            {"UnprocessedAccounts": unprocessed},
            {"DetectorId": detectors[region], "AccountDetails": ANY},
        )
    result = run(stubs)
    assert result.failed
    assert (
        "eu-central-1: RuntimeError: CreateMembers left accounts out: 111111111111: Invalid email"
        in result.result["msg"]
    )
    assert result.result["changed"] is True
    assert result.result["region_counts"] == {"done": 1, "refused": 0, "failed": 1}
    stubs.assert_all_used()


def test_a_caller_neither_management_nor_administrator_is_refused_before_any_region_is_read():
    stubs = StubbedClients()
    caller(stubs, "555555555555")
    result = run(stubs)
    assert result.failed
    msg = result.result["msg"]
    assert msg.startswith("guardduty_organization_admin_account: the caller's account 555555555555")
    assert MANAGEMENT in msg and ADMIN in msg and "Nothing was changed" in msg
    stubs.assert_all_used()
    assert ("guardduty", "eu-west-1") not in stubs.stubbers


def test_management_delegates_everywhere_but_refuses_another_administrator_with_nothing_written():
    stubs = StubbedClients()
    caller(stubs, MANAGEMENT)
    stubs.stub("organizations", HOME).add_response(
        "list_aws_service_access_for_organization", {"EnabledServicePrincipals": []}, {}
    )
    stubs.stub("guardduty", "eu-central-1").add_response(
        "list_organization_admin_accounts",
        {"AdminAccounts": [{"AdminAccountId": "666666666666", "AdminStatus": "ENABLED"}]},
        {},
    )
    stubs.stub("guardduty", "eu-west-1").add_response(
        "list_organization_admin_accounts", {"AdminAccounts": []}, {}
    )
    result = run(stubs)
    assert result.failed
    assert (
        "eu-central-1: RuntimeError: GuardDuty's delegated administrator here is 666666666666"
        in result.result["msg"]
    )
    assert "guardduty_organization_admin_account" in result.result["msg"]
    # eu-west-1 was planned but not written, and trusted access was not turned on.
    assert result.result["regions"][0]["not_done"] == ["enable_organization_admin_account"]
    assert result.result["changed"] is False
    assert result.result["trusted_access"]["actions"] == []
    stubs.assert_all_used()


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (
            {"admin_account_id": "12345"},
            "guardduty_organization_admin_account: '12345' is not an AWS account id",
        ),
        (
            {"features": [{"name": "RUNTIME_MONITORING"}, {"name": "EKS_RUNTIME_MONITORING"}]},
            "features: RUNTIME_MONITORING and EKS_RUNTIME_MONITORING cannot both be set",
        ),
    ],
)
def test_bad_input_fails_before_any_call(args, named):
    stubs = StubbedClients()
    result = run(stubs, **args)
    assert result.failed and named in result.result["msg"], result.result
    assert set(stubs.stubbers) == {("ec2", "eu-west-1")}  # only the stub the harness always queues
