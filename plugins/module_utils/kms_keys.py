# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the collection's customer managed KMS keys (module kms_keys, roles log_archive
and log_groups).

No AWS call here: the module reads each region's key, hands what it read to these functions and
applies what they return. The one home of the key policy (the account's admin statement followed by
the callers' service statements), of the rule that finds a key a failed run left without its alias,
and of what the collection may change on a key: it never takes over a key it did not create, never
re-enables one that was disabled, and never drops a statement someone added to its policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.log_archive import (
    merged_policy,
    policies_equal,
)

# On every key the collection creates, from CreateKey on (value: the key's alias). A run that died
# between CreateKey and CreateAlias left a key without its alias; the next run finds it by this tag.
KEY_ALIAS_TAG = "gdpr-monitoring:key-alias"
ADMIN_SID = "AccountAdministersTheKey"
ENABLED = "Enabled"
_ALIAS = re.compile(r"^alias/[a-zA-Z0-9:/_-]+$")


def alias_problem(alias: str) -> str | None:
    """Why ``alias`` cannot name a customer managed key of the collection, or None."""
    if not _ALIAS.match(alias or ""):
        return "must be alias/<name> (letters, digits, : / _ -)"
    if alias.startswith("alias/aws/"):
        return "alias/aws/... names AWS managed keys"
    return None


def statement_problems(statements: list[dict[str, Any]], label: str) -> list[str]:
    """Each statement needs a Sid of its own: the policy is merged with what the key has by Sid."""
    problems = []
    sids = [s.get("Sid") for s in statements]
    for index, sid in enumerate(sids):
        if not sid or not isinstance(sid, str):
            problems.append(f"{label}[{index}] has no Sid")
        elif sid == ADMIN_SID:
            problems.append(f"{label}[{index}]: the Sid {ADMIN_SID} is the collection's admin statement")
        elif sids.index(sid) != index:
            problems.append(f"{label}[{index}]: the Sid {sid} is used twice")
    return problems


def key_policy(
    partition: str, account: str, policy_id: str, statements: list[dict[str, Any]]
) -> dict[str, Any]:
    """The account administers the key (IAM policies then decide who uses it); ``statements`` let the
    services and readers they name use it."""
    admin = {
        "Sid": ADMIN_SID,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return {"Version": "2012-10-17", "Id": policy_id, "Statement": [admin, *statements]}


@dataclass
class KeyRead:
    """A region's key as KMS describes it (found by its alias, or by the tag after a failed run)."""

    arn: str
    state: str
    description: str
    rotation: bool
    tags: dict[str, str]
    policy: dict[str, Any] | None
    by_alias: bool = True


@dataclass
class Desired:
    alias: str
    description: str
    policy: dict[str, Any]
    tags: dict[str, str]


@dataclass
class KeyPlan:
    action: str  # create, update, keep
    arn: str = ""
    changes: list[str] = field(default_factory=list)
    policy: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None


def is_ours(tags: dict[str, str], alias: str) -> bool:
    return tags.get(KEY_ALIAS_TAG) == alias


def oldest_usable(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Among keys carrying the alias tag (KeyMetadata), the oldest enabled one; None if there is none."""
    usable = [c for c in candidates if c.get("KeyState") == ENABLED]
    return min(usable, key=lambda c: (c["CreationDate"], c["Arn"])) if usable else None


def plan_key(read: KeyRead | None, want: Desired, region: str, alias_label: str) -> KeyPlan:
    """What to do with a region's key: create it, update what differs, or refuse (nothing written)."""
    if read is None:
        return KeyPlan("create", changes=["create"], policy=want.policy, tags=want.tags)
    if not is_ours(read.tags, want.alias):
        return KeyPlan(
            "refuse",
            arn=read.arn,
            refusal=(
                f"{alias_label}: {want.alias} in {region} names the key {read.arn}, which "
                f"gdpr.aws_monitoring did not create (no tag {KEY_ALIAS_TAG}={want.alias}); it is left "
                "as it is. Choose another alias, or bring that key as your own key ARN"
            ),
        )
    if read.state != ENABLED:
        return KeyPlan(
            "refuse",
            arn=read.arn,
            refusal=(
                f"the key {read.arn} ({want.alias}) in {region} is {read.state}: enable it (or cancel "
                "its deletion) yourself, or choose another alias; the collection does not undo that decision"
            ),
        )
    changes = [] if read.by_alias else ["alias"]
    policy = merged_policy(read.policy, want.policy)
    if not policies_equal(read.policy, policy):
        changes.append("policy")
    if not read.rotation:
        changes.append("rotation")
    if read.description != want.description:
        changes.append("description")
    missing = {k: v for k, v in want.tags.items() if read.tags.get(k) != v}
    if missing:
        changes.append("tags")
    return KeyPlan(
        "update" if changes else "keep",
        arn=read.arn,
        changes=changes,
        policy=policy if "policy" in changes else None,
        tags=missing,
    )


def key_view(read: KeyRead | None, alias: str) -> dict[str, Any] | None:
    """What diff mode shows of a key."""
    if read is None:
        return None
    return {
        "arn": read.arn,
        "alias": alias if read.by_alias else None,
        "state": read.state,
        "description": read.description,
        "rotation": read.rotation,
        "tags": dict(sorted(read.tags.items())),
        "policy": read.policy,
    }


def planned_view(read: KeyRead | None, plan: KeyPlan, want: Desired, arn: str) -> dict[str, Any]:
    """The key as it is after the plan is applied (``arn`` "" for a key check mode did not create)."""
    before = key_view(read, want.alias) or {"tags": {}, "policy": None}
    return {
        "arn": arn,
        "alias": want.alias,
        "state": ENABLED,
        "description": want.description,
        "rotation": True,
        "tags": dict(sorted({**before["tags"], **want.tags}.items())),
        "policy": plan.policy or before["policy"],
    }
