# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for GuardDuty in an AWS Organization (module guardduty_organization).

Nothing here talks to AWS. Two accounts take part and the module plays whichever it runs as:

* the organization's **management account** turns on trusted access for GuardDuty and makes the
  security account GuardDuty's delegated administrator in every region;
* the **delegated administrator** (the security account) sets auto-enable for the organization's
  members with the protection plans configured, and makes every existing member account a GuardDuty
  member (CreateMembers, at most 50 accounts a call), and keeps the existing members' plans in step
  (UpdateMemberDetectors, 50 a call). Members whose account has left the organization are reported,
  never deleted.

Any other caller is refused before anything is read in a region or written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty import (
    features_differ,
    features_to_aws,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty_response import Action

SERVICE_PRINCIPAL = "guardduty.amazonaws.com"
AUTO_ENABLE: tuple[str, ...] = ("ALL", "NEW", "NONE")
# CreateMembers takes at most 50 account details per call (GuardDuty API reference).
MEMBERS_PER_CALL = 50
MANAGEMENT, ADMINISTRATOR = "management", "administrator"


class Refused(ValueError):
    """The run cannot go on; the message names the variable to change."""


def caller_roles(caller: str, management: str | None, admin: str, admin_variable: str) -> list[str]:
    """What the caller is in the organization: management account, delegated administrator, or both
    (AWS allows the management account to be its own delegated administrator, not recommended).

    ``management`` None: the account is in no organization. Raises Refused otherwise.
    """
    if management is None:
        raise Refused(
            f"guardduty_organization: the account {caller} is not in an AWS Organization "
            "(organizations:DescribeOrganization). Run without guardduty_organization, or from an "
            "account of the organization. Nothing was changed."
        )
    roles = [r for r, account in ((MANAGEMENT, management), (ADMINISTRATOR, admin)) if caller == account]
    if not roles:
        raise Refused(
            f"{admin_variable}: the caller's account {caller} is neither the organization's management "
            f"account ({management}) nor the delegated administrator {admin}. Run the management part "
            f"with the management account's credentials and the rest with {admin}'s. Nothing was changed."
        )
    return roles


# --- management account --------------------------------------------------------------------------


def plan_trusted_access(enabled_principals: Iterable[str]) -> list[Action]:
    """Trusted access lets GuardDuty read the organization's accounts (account-wide, once)."""
    if SERVICE_PRINCIPAL in set(enabled_principals):
        return []
    return [Action("enable_aws_service_access", {"ServicePrincipal": SERVICE_PRINCIPAL})]


@dataclass
class AdminPlan:
    actions: list[Action]
    after: list[dict[str, str]]
    conflict: str | None = None


def plan_admin_account(current: list[dict[str, Any]], admin: str, admin_variable: str) -> AdminPlan:
    """The region's delegated administrator (ListOrganizationAdminAccounts) -> EnableOrganizationAdminAccount.

    Another account already delegated is someone's set-up: it is not replaced (AWS would refuse a
    second one anyway until the first is disabled), the region fails naming it.
    """
    view = sorted(
        ({"account_id": a.get("AdminAccountId"), "status": a.get("AdminStatus")} for a in current),
        key=lambda a: str(a["account_id"]),
    )
    enabled = [a for a in view if a["status"] == "ENABLED"]
    if any(a["account_id"] == admin for a in enabled):
        return AdminPlan([], view)
    others = [a["account_id"] for a in enabled if a["account_id"] != admin]
    if others:
        return AdminPlan(
            [],
            view,
            f"GuardDuty's delegated administrator here is {', '.join(others)}, not {admin} "
            f"({admin_variable}); disable it first (DisableOrganizationAdminAccount) or set "
            f"{admin_variable} to it",
        )
    after = [a for a in view if a["account_id"] != admin] + [{"account_id": admin, "status": "ENABLED"}]
    return AdminPlan([Action("enable_organization_admin_account", {"AdminAccountId": admin})], after)


# --- delegated administrator ---------------------------------------------------------------------


def org_features_from_aws(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """DescribeOrganizationConfiguration ``Features`` -> ``[{name, auto_enable, additional_configuration}]``
    (a plan the answer does not list is NONE)."""
    items = [
        {
            "name": f["Name"],
            "auto_enable": f.get("AutoEnable") or "NONE",
            "additional_configuration": sorted(
                (
                    {"name": a["Name"], "auto_enable": a.get("AutoEnable") or "NONE"}
                    for a in f.get("AdditionalConfiguration") or []
                    if a.get("Name")
                ),
                key=lambda a: a["name"],
            ),
        }
        for f in raw or []
        if f.get("Name")
    ]
    return sorted(items, key=lambda f: f["name"])


def wanted_org_features(features: list[dict[str, Any]], auto_enable: str) -> list[dict[str, Any]]:
    """The detector features (guardduty.features_from_params shape) as organization auto-enable:
    an ENABLED plan is auto-enabled like the members (``auto_enable``), a DISABLED one is NONE."""

    def level(status: str) -> str:
        return auto_enable if status == "ENABLED" else "NONE"

    return [
        {
            "name": f["name"],
            "auto_enable": level(f["status"]),
            "additional_configuration": [
                {"name": a["name"], "auto_enable": level(a["status"])} for a in f["additional_configuration"]
            ],
        }
        for f in features
    ]


def org_features_to_aws(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in features:
        item: dict[str, Any] = {"Name": f["name"], "AutoEnable": f["auto_enable"]}
        if f["additional_configuration"]:
            item["AdditionalConfiguration"] = [
                {"Name": a["name"], "AutoEnable": a["auto_enable"]} for a in f["additional_configuration"]
            ]
        out.append(item)
    return out


def org_config_view(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "auto_enable_organization_members": answer.get("AutoEnableOrganizationMembers") or "NONE",
        "features": org_features_from_aws(answer.get("Features")),
        "member_account_limit_reached": bool(answer.get("MemberAccountLimitReached")),
    }


def _org_features_differ(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[str]:
    have = {f["name"]: f for f in current}
    differ = []
    for want in wanted:
        got = have.get(want["name"], {"auto_enable": "NONE", "additional_configuration": []})
        got_addl = {a["name"]: a["auto_enable"] for a in got["additional_configuration"]}
        if got["auto_enable"] != want["auto_enable"] or any(
            got_addl.get(a["name"], "NONE") != a["auto_enable"] for a in want["additional_configuration"]
        ):
            differ.append(want["name"])
    return differ


def plan_org_config(
    detector_id: str | None, current: dict[str, Any] | None, auto_enable: str, wanted: list[dict[str, Any]]
) -> tuple[list[Action], dict[str, Any]]:
    """UpdateOrganizationConfiguration when the members' auto-enable or a listed plan differs.

    Plans not listed keep their organization setting (GuardDuty leaves features a request omits).
    """
    current = current or {"auto_enable_organization_members": "NONE", "features": []}
    differ = _org_features_differ(current["features"], wanted)
    merged = {f["name"]: f for f in current["features"]}
    merged.update({f["name"]: f for f in wanted})
    after = {
        "auto_enable_organization_members": auto_enable,
        "features": sorted(merged.values(), key=lambda f: f["name"]),
        "member_account_limit_reached": current.get("member_account_limit_reached", False),
    }
    if current["auto_enable_organization_members"] == auto_enable and not differ:
        return [], after
    params: dict[str, Any] = {"DetectorId": detector_id, "AutoEnableOrganizationMembers": auto_enable}
    if wanted:
        params["Features"] = org_features_to_aws(wanted)
    return [Action("update_organization_configuration", params)], after


def batches(items: list[Any], size: int = MEMBERS_PER_CALL) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass
class MembersPlan:
    actions: list[Action]
    to_create: list[str]
    members: int  # member accounts GuardDuty already has (any relationship status)
    not_enabled: list[dict[str, str]] = field(default_factory=list)  # members of the org not monitored
    left_organization: list[str] = field(default_factory=list)  # members whose account left


def plan_members(
    detector_id: str | None, accounts: list[dict[str, Any]], members: list[dict[str, Any]], admin: str
) -> MembersPlan:
    """CreateMembers for every ACTIVE organization account that is not yet a member (in calls of 50).

    ``accounts``: organizations:ListAccounts; ``members``: ListMembers(OnlyAssociated=false).
    A member disassociated by someone is reported, not re-associated (the tamper alert covers it);
    a member whose account left the organization is reported, not deleted.
    """
    active = {a["Id"]: a.get("Email") or "" for a in accounts if a.get("Status", "ACTIVE") == "ACTIVE"}
    in_org = {a["Id"] for a in accounts}
    have = {m["AccountId"]: m for m in members}
    to_create = sorted(a for a in active if a != admin and a not in have)
    actions = [
        Action(
            "create_members",
            {
                "DetectorId": detector_id,
                "AccountDetails": [{"AccountId": a, "Email": active[a]} for a in chunk],
            },
        )
        for chunk in batches(to_create)
    ]
    not_enabled = sorted(
        (
            {"account_id": a, "relationship_status": str(m.get("RelationshipStatus"))}
            for a, m in have.items()
            if a in in_org and m.get("RelationshipStatus") != "Enabled"
        ),
        key=lambda m: m["account_id"],
    )
    left = sorted(a for a in have if a not in in_org)
    return MembersPlan(actions, to_create, len(have), not_enabled, left)


def monitored_members(accounts: list[dict[str, Any]], members: list[dict[str, Any]]) -> list[str]:
    """Members of the organization whose detector the administrator manages (relationship Enabled)."""
    in_org = {a["Id"] for a in accounts}
    return sorted(
        m["AccountId"]
        for m in members
        if m["AccountId"] in in_org and m.get("RelationshipStatus") == "Enabled"
    )


def member_feature_updates(
    detector_id: str | None, member_features: dict[str, list[dict[str, Any]]], wanted: list[dict[str, Any]]
) -> tuple[list[Action], list[str]]:
    """UpdateMemberDetectors (50 accounts a call) for the existing members whose plans differ from
    ``wanted`` (guardduty.features_from_params shape); plans not listed keep their state. Auto-enable
    NEW leaves existing members as they are: this keeps them in step with the configured plans.

    ``member_features``: account -> its features (guardduty.features_from_aws shape, GetMemberDetectors).
    """
    stale = sorted(a for a, have in member_features.items() if features_differ(have, wanted))
    actions = [
        Action(
            "update_member_detectors",
            {"DetectorId": detector_id, "AccountIds": chunk, "Features": features_to_aws(wanted)},
        )
        for chunk in batches(stale)
    ]
    return actions, stale
