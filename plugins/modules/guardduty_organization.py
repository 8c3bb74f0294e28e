#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guardduty_organization
short_description: GuardDuty for a whole AWS Organization - delegated administrator, auto-enable, members
version_added: 0.2.0
description:
  - Plays the part of the account it runs as, in every listed region (default every region enabled
    for the account) in one call, concurrently.
  - As the organization's B(management account) - turns on trusted access for GuardDuty
    (C(organizations:EnableAWSServiceAccess)) and makes O(admin_account_id) GuardDuty's delegated
    administrator in every region (C(EnableOrganizationAdminAccount)). A region whose delegated
    administrator is another account fails, naming it; it is not replaced.
  - As the B(delegated administrator) (O(admin_account_id)) - sets auto-enable for the organization's
    members (O(auto_enable)) with the protection plans of O(features)
    (C(UpdateOrganizationConfiguration)), and makes every ACTIVE account of the organization a
    GuardDuty member (C(CreateMembers), at most 50 accounts per call), and keeps the plans of existing
    members in step with O(features) (C(GetMemberDetectors), C(UpdateMemberDetectors), 50 accounts per
    call; with V(NEW) AWS leaves existing members as they are). Members whose account left the
    organization, and members someone disassociated, are reported (with a warning), never deleted or
    re-associated.
  - Any other caller is refused before anything is written or read in a region, naming the variable
    and both accounts. Every region is read and planned before anything is written.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  regions:
    description: Regions to cover. Default is every region enabled for the account.
    type: list
    elements: str
  admin_account_id:
    description: The security account that administers GuardDuty for the organization (12 digits).
    type: str
    required: true
  auto_enable:
    description:
      - Which members GuardDuty turns on by itself - V(ALL) (new and existing accounts), V(NEW) (accounts
        that join from now on) or V(NONE).
    type: str
    choices: [ALL, NEW, NONE]
    default: ALL
  features:
    description:
      - Protection plans auto-enabled for the members, as for M(gdpr.aws_monitoring.guardduty_detector)
        (an C(ENABLED) plan is auto-enabled like the members, a C(DISABLED) one is not). Plans not
        listed keep their organization setting.
    type: list
    elements: dict
    default: []
notes:
  - Supports check mode and diff mode (per region, before and after).
  - The management account needs C(organizations:DescribeOrganization),
    C(ListAWSServiceAccessForOrganization), C(EnableAWSServiceAccess), C(guardduty:ListOrganizationAdminAccounts),
    C(EnableOrganizationAdminAccount) (and what that call needs, see the guardduty role's README).
  - The delegated administrator needs C(organizations:DescribeOrganization), C(ListAccounts),
    C(guardduty:ListDetectors), C(DescribeOrganizationConfiguration), C(UpdateOrganizationConfiguration),
    C(ListMembers), C(CreateMembers), C(GetMemberDetectors), C(UpdateMemberDetectors). Its detectors
    must exist (the guardduty role) - a region without one fails, naming it (under check mode it is
    shown as planned).
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Management account - the security account administers GuardDuty everywhere
  gdpr.aws_monitoring.guardduty_organization:
    admin_account_id: "210987654321"

- name: Security account (same task, its credentials) - every member monitored with the plans
  gdpr.aws_monitoring.guardduty_organization:
    admin_account_id: "210987654321"
    auto_enable: ALL
    features:
      - {name: S3_DATA_EVENTS, status: ENABLED}
  register: organization
"""

RETURN = r"""
caller:
  description: The account that ran the module, the organization's management account and its parts.
  returned: always
  type: dict
  sample: {"account_id": "123456789012", "management_account_id": "123456789012", "roles": ["management"]}
trusted_access:
  description: Trusted access for GuardDuty (management account only), with the actions taken.
  returned: always
  type: dict
  sample: {"enabled": true, "actions": ["enable_aws_service_access"]}
regions:
  description: Per handled region, what was found and done (in check mode, as planned).
  returned: always
  type: list
  elements: dict
  sample: [{"region": "eu-west-1", "admin_accounts": [{"account_id": "210987654321", "status": "ENABLED"}],
            "changed": true, "actions": ["enable_organization_admin_account"]}]
skipped_regions:
  description: Opt-in regions not enabled for the account that refused (only without O(regions)).
  returned: always
  type: list
  elements: dict
failed_regions:
  description: Regions with an error or another delegated administrator (the module then fails).
  returned: on failure
  type: list
  elements: dict
region_counts:
  description: How many regions were done, refused (skipped) and failed.
  returned: always
  type: dict
  sample: {"done": 17, "refused": 0, "failed": 0}
"""

import re
from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import guardduty_organization as org
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty import (
    features_from_aws,
    features_from_params,
    validate_features,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    PartialWrite,
    RegionalClients,
    RegionOutcome,
    account_region,
    error_code,
    finish,
    region_options,
    region_statuses,
    retry_decorator,
    run_in_regions,
    settle_refusals,
    sort_outcomes,
    target_regions,
    variable_name,
)

WHAT = "GuardDuty organization"  # names the work in warnings and the failure message

ARGUMENT_SPEC: dict[str, Any] = {
    "regions": {"type": "list", "elements": "str"},
    "admin_account_id": {"type": "str", "required": True},
    "auto_enable": {"type": "str", "choices": list(org.AUTO_ENABLE), "default": "ALL"},
    "features": {"type": "list", "elements": "dict", "default": []},
    **region_options(),
}


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        page = getattr(client, operation)(aws_retry=True, **params, **extra)
        items += page.get(key) or []
        token = page.get("NextToken")
        if not token:
            return items


def read_caller(clients: RegionalClients, home: str) -> tuple[str, str | None]:
    """(the caller's account, the organization's management account or None outside one)."""
    account = clients("sts", home).get_caller_identity(aws_retry=True)["Account"]
    try:
        answer = clients("organizations", home).describe_organization(aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "AWSOrganizationsNotInUseException":
            return account, None
        raise
    return account, answer["Organization"].get("MasterAccountId")


def read_member_features(client: Any, detector_id: str | None, accounts: list[str]) -> dict[str, list[dict]]:
    """account -> its detector's plans (GetMemberDetectors, 50 accounts a call)."""
    found: dict[str, list[dict]] = {}
    for chunk in org.batches(accounts):
        answer = client.get_member_detectors(DetectorId=detector_id, AccountIds=chunk, aws_retry=True)
        for config in answer.get("MemberDataSourceConfigurations") or []:
            found[config["AccountId"]] = features_from_aws(config.get("Features"))
    return found


def plan_region(
    region: str, clients: RegionalClients, params: dict[str, Any], context: dict[str, Any], check_mode: bool
) -> dict[str, Any]:
    """Read and plan one region (phase 1: no writes)."""
    client = clients("guardduty", region)
    admin = params["admin_account_id"]
    planned: dict[str, Any] = {"actions": [], "before": {}, "after": {}}
    if org.MANAGEMENT in context["roles"]:
        current = _pages(client, "list_organization_admin_accounts", "AdminAccounts")
        plan = org.plan_admin_account(current, admin, context["admin_variable"])
        if plan.conflict:
            raise RuntimeError(plan.conflict)
        planned["actions"] += plan.actions
        planned["before"]["admin_accounts"] = [
            {"account_id": a.get("AdminAccountId"), "status": a.get("AdminStatus")} for a in current
        ]
        planned["after"]["admin_accounts"] = plan.after
    if org.ADMINISTRATOR in context["roles"]:
        ids = sorted(client.list_detectors(aws_retry=True).get("DetectorIds", []))
        if not ids and not check_mode:
            raise RuntimeError(
                "no GuardDuty detector in this region; run the guardduty role (playbooks/guardduty.yml) first"
            )
        detector_id = ids[0] if ids else None
        config = (
            org.org_config_view(
                client.describe_organization_configuration(DetectorId=detector_id, aws_retry=True)
            )
            if detector_id
            else None
        )
        members = (
            _pages(client, "list_members", "Members", DetectorId=detector_id, OnlyAssociated="false")
            if detector_id
            else []
        )
        actions, after = org.plan_org_config(detector_id, config, params["auto_enable"], context["features"])
        members_plan = org.plan_members(detector_id, context["accounts"], members, admin)
        current = read_member_features(
            client, detector_id, org.monitored_members(context["accounts"], members)
        )
        feature_actions, stale = org.member_feature_updates(
            detector_id, current, context["detector_features"]
        )
        planned["actions"] += actions + members_plan.actions + feature_actions
        planned["detector_id"] = detector_id
        planned["before"]["organization_configuration"] = config
        planned["after"]["organization_configuration"] = after
        planned["members"] = {
            "existing": members_plan.members,
            "created": members_plan.to_create,
            "not_enabled": members_plan.not_enabled,
            "left_organization": members_plan.left_organization,
            "features_updated": stale,
        }
    return planned


def apply_region(region: str, clients: RegionalClients, planned: dict[str, Any]) -> dict[str, Any]:
    """Carry out one region's plan (phase 2). CreateMembers' unprocessed accounts fail the region."""
    client = clients("guardduty", region)
    wrote = False
    try:
        for action in planned["actions"]:
            answer = getattr(client, action.kind)(aws_retry=True, **action.params)
            wrote = True
            unprocessed = (answer or {}).get("UnprocessedAccounts") or []
            if unprocessed:
                raise RuntimeError(
                    "".join(word.title() for word in action.kind.split("_"))
                    + " left accounts out: "
                    + "; ".join(f"{u.get('AccountId')}: {u.get('Result')}" for u in unprocessed)
                )
    except Exception as exc:
        if wrote:
            raise PartialWrite(exc) from exc
        raise
    return planned


def region_entry(outcome: RegionOutcome, blocked: bool) -> dict[str, Any]:
    result = outcome.result
    kinds = [a.kind for a in result["actions"]]
    entry = {
        "region": outcome.region,
        **result["after"],
        "changed": bool(kinds) and not blocked,
        "actions": [] if blocked else kinds,
        # Not done because another region could not be planned: nothing is written anywhere then.
        "not_done": kinds if blocked else [],
    }
    if "members" in result:
        entry["detector_id"] = result["detector_id"]
        entry["members"] = result["members"]
    return entry


def member_warnings(entry: dict[str, Any]) -> list[str]:
    """Members the run leaves as they are, said aloud: accounts gone from the organization, members
    someone disassociated."""
    members = entry.get("members") or {}
    warnings = []
    if members.get("left_organization"):
        warnings.append(
            f"{WHAT}: {entry['region']}: members no longer in the organization (kept, not deleted): "
            + ", ".join(members["left_organization"])
        )
    if members.get("not_enabled"):
        warnings.append(
            f"{WHAT}: {entry['region']}: members not monitored (left as they are): "
            + ", ".join(f"{m['account_id']} ({m['relationship_status']})" for m in members["not_enabled"])
        )
    return warnings


def summarise(
    outcomes: list[RegionOutcome], statuses: dict[str, str], label: str, blocked: bool
) -> tuple[dict[str, Any], list[str], list[dict[str, str]]]:
    report = sort_outcomes(outcomes, WHAT, statuses, label)
    regions, warnings = [], list(report.warnings)
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for outcome in report.done:
        entry = region_entry(outcome, blocked)
        warnings += member_warnings(entry)
        regions.append(entry)
        diff["before"][outcome.region] = outcome.result["before"]
        diff["after"][outcome.region] = outcome.result["after"]
    result = report.result(any(r["changed"] for r in regions), diff, regions=regions)
    return result, warnings, report.failed


def choose_regions(
    module: AnsibleAWSModule, clients: RegionalClients
) -> tuple[list[str], dict[str, str], str]:
    home = account_region(clients, [module.region, *(module.params["regions"] or []), "us-east-1"])
    regions, statuses = target_regions(module, clients("ec2", home), module.params["regions"])
    return regions, statuses, home


def validate(module: AnsibleAWSModule) -> list[dict[str, Any]]:
    """Bad input fails before any AWS call, naming the caller's variable; returns the features."""
    params, names = module.params, module.params["variable_names"]
    admin = params["admin_account_id"]
    if not re.match(r"^[0-9]{12}$", admin or ""):
        module.fail_json(
            msg=f"{variable_name(names, 'admin_account_id')}: {admin!r} is not an AWS account id (12 digits). "
            "Nothing was changed."
        )
    features = features_from_params(params["features"]) or []
    problems = validate_features(features)
    if problems:
        label = variable_name(names, "features")
        module.fail_json(msg="; ".join(p.replace("features:", f"{label}:", 1) for p in problems))
    return features


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    features = validate(module)
    params = module.params
    clients = RegionalClients(module, retry_decorator())
    regions, statuses, home = choose_regions(module, clients)
    admin_variable = variable_name(params["variable_names"], "admin_account_id")
    try:
        caller, management = read_caller(clients, home)
        roles = org.caller_roles(caller, management, params["admin_account_id"], admin_variable)
    except org.Refused as refused:
        module.fail_json(msg=str(refused))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not read the caller and its organization (sts, organizations)")
    context: dict[str, Any] = {
        "roles": roles,
        "admin_variable": admin_variable,
        "features": org.wanted_org_features(features, params["auto_enable"]),
        "detector_features": features,
        "accounts": [],
    }
    trusted: list[Any] = []
    try:
        if org.MANAGEMENT in roles:
            access = _pages(
                clients("organizations", home),
                "list_aws_service_access_for_organization",
                "EnabledServicePrincipals",
            )
            trusted = org.plan_trusted_access(p.get("ServicePrincipal") for p in access)
        if org.ADMINISTRATOR in roles:
            context["accounts"] = _pages(clients("organizations", home), "list_accounts", "Accounts")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not read the organization (organizations). Nothing was changed.")

    workers = params["max_concurrency"]
    planned = run_in_regions(
        regions, lambda r: plan_region(r, clients, params, context, module.check_mode), workers
    )
    if not params["regions"]:
        settle_refusals(planned, lambda: region_statuses(clients("ec2", home)))
    blocked = not module.check_mode and any(o.error and not o.refused for o in planned)
    outcomes = planned
    if not module.check_mode and not blocked:
        if trusted:
            try:
                clients("organizations", home).enable_aws_service_access(aws_retry=True, **trusted[0].params)
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                module.fail_json_aws(
                    exc, msg="Could not turn on trusted access for GuardDuty. Nothing else was changed."
                )
        ready = {o.region: o.result for o in planned if not o.error}
        applied = run_in_regions(sorted(ready), lambda r: apply_region(r, clients, ready[r]), workers)
        outcomes = sorted(applied + [o for o in planned if o.error], key=lambda o: o.region)
    label = variable_name(params["variable_names"], "regions")
    result, warnings, failed = summarise(outcomes, statuses, label, blocked)
    result["caller"] = {"account_id": caller, "management_account_id": management, "roles": roles}
    # None: not the management account's to say (the delegated administrator cannot read it).
    result["trusted_access"] = {
        "enabled": not (blocked and trusted) if org.MANAGEMENT in roles else None,
        "actions": [] if blocked else [a.kind for a in trusted],
    }
    result["changed"] = result["changed"] or bool(trusted and not blocked)
    if org.MANAGEMENT in roles:
        result["diff"]["before"]["trusted_access"] = {org.SERVICE_PRINCIPAL: not trusted}
        result["diff"]["after"]["trusted_access"] = {
            org.SERVICE_PRINCIPAL: result["trusted_access"]["enabled"]
        }
    finish(module, WHAT, result, warnings, failed)


if __name__ == "__main__":
    main()
