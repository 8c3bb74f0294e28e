"""guardduty tasks_from: organization on the embedded AWS (controller-only, the shared moto).

moto has Organizations and GuardDuty's Enable/ListOrganizationAdminAccounts, so the management
account's part runs here end to end: --check first writes nothing, the run delegates GuardDuty to the
security account in both regions and turns on trusted access, the second run is changed=0.
moto answers HTTP 404 to the delegated administrator's calls (UpdateOrganizationConfiguration,
CreateMembers): that part is tested with botocore's Stubber in
tests/unit/plugins/modules/test_guardduty_organization.py, as is a caller that is neither account.
The refusals (no administrator account, an account outside any organization) and the default (off)
run as cases of one playbook run.
"""

from __future__ import annotations

import boto3
from controller_play import changed_count, run_play
from test_controller_guards import run_cases

HOME, OTHER = "eu-west-1", "eu-central-1"
ON = {"guardduty_organization": True, "guardduty_regions": [HOME, OTHER]}


def admin_accounts(region: str) -> list[dict[str, str]]:
    return boto3.client("guardduty", region_name=region).list_organization_admin_accounts()["AdminAccounts"]


def trusted_principals() -> set[str]:
    answer = boto3.client("organizations", region_name="us-east-1").list_aws_service_access_for_organization()
    return {p["ServicePrincipal"] for p in answer["EnabledServicePrincipals"]}


def test_refusals_then_management_delegates_in_every_region(aws, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_REGION", HOME)
    _run, cases = run_cases(
        tmp_path,
        "guardduty",
        {
            "off": {},
            "missing_admin": dict(ON),
            "no_organization": {**ON, "guardduty_organization_admin_account": "210987654321"},
        },
        tasks_from="organization",
    )
    assert cases["off"] == {"failed": False}, cases
    assert cases["missing_admin"]["failed"]
    assert cases["missing_admin"]["msg"].startswith('guardduty_organization_admin_account: "" is not')
    assert cases["no_organization"]["failed"]
    assert "the account 123456789012 is not in an AWS Organization" in cases["no_organization"]["msg"]

    organizations = boto3.client("organizations", region_name="us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    organizations.create_account(Email="security@example.com", AccountName="security")
    security = next(a["Id"] for a in organizations.list_accounts()["Accounts"] if a["Name"] == "security")
    settings = {**ON, "guardduty_organization_admin_account": security}

    checked = run_play("guardduty_organization", settings, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert changed_count(checked) == 1
    assert f'+                "account_id": "{security}"' in checked.stdout, checked.stdout[-3000:]
    assert admin_accounts(HOME) == [] and admin_accounts(OTHER) == []
    assert "guardduty.amazonaws.com" not in trusted_principals()

    first = run_play("guardduty_organization", settings)
    assert first.returncode == 0, first.stdout[-3000:]
    for region in (HOME, OTHER):
        assert admin_accounts(region) == [{"AdminAccountId": security, "AdminStatus": "ENABLED"}]
    assert "guardduty.amazonaws.com" in trusted_principals()

    second = run_play("guardduty_organization", settings)
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second) == 0, second.stdout[-3000:]
