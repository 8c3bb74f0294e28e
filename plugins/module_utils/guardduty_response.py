# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for GuardDuty alerts and findings export (role guardduty_response).

Nothing here talks to AWS. The modules ``guardduty_alert_rules`` and ``guardduty_publishing_destination``
read AWS, hand what they read to these functions and carry out the actions they return; the role's
filters use the validation functions so that bad input is refused before any write, naming the
variable, with the same rules the modules apply.

How alerts travel: every covered region has the same EventBridge rules (findings at or above a
severity threshold, and tamper events: GuardDuty detectors deleted or disabled, publishing
destinations deleted, members disassociated). Outside the home region their target is the home
region's default event bus (a cross-region event-bus target, which needs an IAM role EventBridge
assumes); in the home region the same rules match both local and forwarded events and target the
SNS topic. So every region's findings reach one topic and on-call people subscribe once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.log_archive import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    is_managed,
)

# GuardDuty's severity bands (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html):
# Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0. A name means "this band and above".
SEVERITY_NAMES: dict[str, float] = {"LOW": 1.0, "MEDIUM": 4.0, "HIGH": 7.0, "CRITICAL": 9.0}
SEVERITY_MIN, SEVERITY_MAX = 1.0, 10.0
SUBSCRIPTION_PROTOCOLS: tuple[str, ...] = ("email", "email-json", "https", "sqs", "lambda")
TARGET_ID = "gdpr-guardduty-alerts"
FINDING_DETAIL_TYPE = "GuardDuty Finding"
API_CALL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# API calls that take GuardDuty's eyes off an account or region, or its findings' way out.
TAMPER_EVENT_NAMES: tuple[str, ...] = (
    "DeleteDetector",
    "DeletePublishingDestination",
    "DeleteMembers",
    "DisassociateMembers",
    "StopMonitoringMembers",
    "DisassociateFromMasterAccount",
    "DisassociateFromAdministratorAccount",
    "DisableOrganizationAdminAccount",
)
# CloudWatch Logs calls that destroy or shorten the records this collection keeps (CloudTrail's and
# the agents' log groups): the group deleted, its retention removed or changed, its KMS key removed.
# PutRetentionPolicy matches every retention change, including this collection's own (a new group
# gets its retention that way): an alert then names the run's principal in userIdentity.
LOG_TAMPER_EVENT_NAMES: tuple[str, ...] = (
    "DeleteLogGroup",
    "DeleteRetentionPolicy",
    "PutRetentionPolicy",
    "DisassociateKmsKey",
)
LOG_GROUP_PREFIX_RE = re.compile(r"^[A-Za-z0-9_./#-]{1,512}$")

EMAIL_RE = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
ARN_RE = {
    "sqs": re.compile(
        r"^arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$"
    ),
    "lambda": re.compile(
        r"^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$"
    ),
}
HTTPS_RE = re.compile(r"^https://[^\s/?#]+[^\s]*$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
ACCOUNT_RE = re.compile(r"^[0-9]{12}$")
TOPIC_ARN_RE = re.compile(r"^arn:(aws[a-z-]*):sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256})$")


class InvalidInput(ValueError):
    """Input refused before any write; the message names the variable it came from."""


# --- validation ----------------------------------------------------------------------------------


def severity_threshold(value: Any, variable: str = "severity") -> float:
    """A threshold from a number (1-10) or a band name (LOW/MEDIUM/HIGH/CRITICAL)."""
    if isinstance(value, bool):
        raise InvalidInput(
            f"{variable}: {value!r} is not a severity (a number 1-10 or LOW/MEDIUM/HIGH/CRITICAL)"
        )
    if isinstance(value, str) and value.strip().upper() in SEVERITY_NAMES:
        return SEVERITY_NAMES[value.strip().upper()]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{variable}: {value!r} is not a severity; give a number from 1 to 10 or one of "
            + "/".join(SEVERITY_NAMES)
        ) from None
    if not SEVERITY_MIN <= number <= SEVERITY_MAX:
        raise InvalidInput(
            f"{variable}: {value!r} is out of range; GuardDuty severities run from 1 to 10 "
            "(LOW 1, MEDIUM 4, HIGH 7, CRITICAL 9)"
        )
    return number


def subscription_problems(subscriptions: Any, variable: str = "subscriptions") -> list[str]:
    """Each malformed entry of ``[{protocol, endpoint}]``, named ``variable[i]``."""
    if not isinstance(subscriptions, list):
        return [f"{variable}: must be a list of {{protocol, endpoint}}"]
    problems = []
    for index, sub in enumerate(subscriptions):
        name = f"{variable}[{index}]"
        if not isinstance(sub, dict):
            problems.append(f"{name}: must be a dict with protocol and endpoint")
            continue
        protocol = str(sub.get("protocol") or "").lower()
        endpoint = str(sub.get("endpoint") or "")
        if protocol not in SUBSCRIPTION_PROTOCOLS:
            problems.append(
                f"{name}.protocol: {sub.get('protocol')!r} is not one of {', '.join(SUBSCRIPTION_PROTOCOLS)}"
            )
            continue
        if protocol.startswith("email") and not EMAIL_RE.match(endpoint):
            problems.append(f"{name}.endpoint: {endpoint!r} is not an email address")
        elif protocol == "https" and not HTTPS_RE.match(endpoint):
            problems.append(f"{name}.endpoint: {endpoint!r} is not an https:// URL")
        elif protocol in ARN_RE and not ARN_RE[protocol].match(endpoint):
            problems.append(f"{name}.endpoint: {endpoint!r} is not an {protocol.upper()} ARN")
    return problems


def parse_topic_arn(arn: str) -> tuple[str, str, str, str]:
    """(partition, region, account, name) of an SNS topic ARN; InvalidInput if it is not one."""
    match = TOPIC_ARN_RE.match(arn or "")
    if not match:
        raise InvalidInput(f"topic_arn: {arn!r} is not an SNS topic ARN")
    partition, region, account, name = match.groups()
    return partition, region, account, name


# --- rules ---------------------------------------------------------------------------------------


def findings_pattern(threshold: float) -> dict[str, Any]:
    """GuardDuty findings at or above ``threshold`` (a numeric filter: 7 matches 7.0 to 10)."""
    number: int | float = int(threshold) if float(threshold).is_integer() else threshold
    return {
        "source": ["aws.guardduty"],
        "detail-type": [FINDING_DETAIL_TYPE],
        "detail": {"severity": [{"numeric": [">=", number]}]},
    }


def tamper_pattern() -> dict[str, Any]:
    return {
        "source": ["aws.guardduty"],
        "detail-type": [API_CALL_DETAIL_TYPE],
        "detail": {"eventSource": ["guardduty.amazonaws.com"], "eventName": list(TAMPER_EVENT_NAMES)},
    }


def log_tamper_pattern(prefixes: list[str]) -> dict[str, Any]:
    """CloudWatch Logs tamper calls on log groups whose names start with one of ``prefixes``."""
    return {
        "source": ["aws.logs"],
        "detail-type": [API_CALL_DETAIL_TYPE],
        "detail": {
            "eventSource": ["logs.amazonaws.com"],
            "eventName": list(LOG_TAMPER_EVENT_NAMES),
            "requestParameters": {"logGroupName": [{"prefix": p} for p in prefixes]},
        },
    }


def log_group_prefix_problems(prefixes: Any, variable: str = "tamper_log_group_prefixes") -> list[str]:
    """Each prefix that is not the start of a CloudWatch Logs group name, named ``variable[i]``.

    An empty string would match every log group of the account (everyone's retention changes would
    page the on-call people), so it is refused like any other malformed prefix. A string is a
    comma-separated list, as Ansible's ``list`` options take it (``-e var=/gdpr,/app``)."""
    if isinstance(prefixes, str):
        prefixes = [p.strip() for p in prefixes.split(",")]
    if not isinstance(prefixes, list):
        return [f"{variable}: must be a list of log group name prefixes"]
    return [
        f"{variable}[{index}]: {prefix!r} is not a log group name prefix (1-512 of A-Za-z0-9_./#-)"
        for index, prefix in enumerate(prefixes)
        if not isinstance(prefix, str) or not LOG_GROUP_PREFIX_RE.match(prefix)
    ]


def disable_pattern() -> dict[str, Any]:
    """UpdateDetector with enable=false: a suspended detector sees nothing (a plain UpdateDetector
    is this collection's own frequency or feature change, not worth waking anyone)."""
    return {
        "source": ["aws.guardduty"],
        "detail-type": [API_CALL_DETAIL_TYPE],
        "detail": {
            "eventSource": ["guardduty.amazonaws.com"],
            "eventName": ["UpdateDetector"],
            "requestParameters": {"enable": [False]},
        },
    }


@dataclass(frozen=True)
class RuleSpec:
    name: str
    pattern: dict[str, Any]
    description: str
    target: dict[str, str]


def event_bus_arn(partition: str, region: str, account: str) -> str:
    return f"arn:{partition}:events:{region}:{account}:event-bus/default"


def rule_target(region: str, home: str, topic_arn: str, role_arn: str | None) -> dict[str, str]:
    """The home region's rules publish to the topic; every other region's forward to the home bus."""
    if region == home:
        return {"Id": TARGET_ID, "Arn": topic_arn}
    partition, _region, account, _name = parse_topic_arn(topic_arn)
    if not role_arn:
        raise InvalidInput("forwarder_role_arn: needed to forward other regions' events to the home region")
    return {"Id": TARGET_ID, "Arn": event_bus_arn(partition, home, account), "RoleArn": role_arn}


def desired_rules(
    region: str,
    home: str,
    prefix: str,
    threshold: float,
    topic_arn: str,
    role_arn: str | None,
    tamper: bool = True,
    log_group_prefixes: list[str] | None = None,
) -> list[RuleSpec]:
    target = rule_target(region, home, topic_arn, role_arn)
    where = "to the SNS topic" if region == home else f"to the default event bus of {home}"
    rules = [
        RuleSpec(
            f"{prefix}-findings",
            findings_pattern(threshold),
            f"GuardDuty findings of severity >= {threshold:g} {where} (gdpr.aws_monitoring)",
            target,
        )
    ]
    if tamper:
        rules += [
            RuleSpec(
                f"{prefix}-tamper",
                tamper_pattern(),
                f"GuardDuty detectors, publishing destinations or members removed {where}"
                " (gdpr.aws_monitoring)",
                target,
            ),
            RuleSpec(
                f"{prefix}-tamper-disable",
                disable_pattern(),
                f"GuardDuty detectors suspended {where} (gdpr.aws_monitoring)",
                target,
            ),
        ]
        if log_group_prefixes:
            rules.append(
                RuleSpec(
                    f"{prefix}-tamper-logs",
                    log_tamper_pattern(log_group_prefixes),
                    # EventBridge keeps at most 512 characters of a description
                    (
                        f"Log groups {', '.join(log_group_prefixes)}* deleted or their retention or"
                        f" key changed {where} (gdpr.aws_monitoring)"
                    )[:512],
                    target,
                )
            )
    return rules


@dataclass
class Action:
    kind: str  # put_rule | put_targets | remove_targets | delete_rule | set_topic_kms
    params: dict[str, Any] = field(default_factory=dict)


def rule_view(rule: dict[str, Any] | None, targets: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """DescribeRule + ListTargetsByRule -> what is compared and reported (None: no such rule)."""
    if rule is None:
        return None
    pattern = rule.get("EventPattern")
    return {
        "name": rule.get("Name"),
        "state": rule.get("State"),
        "description": rule.get("Description"),
        "pattern": json.loads(pattern) if pattern else None,
        "targets": sorted(
            ({k: t[k] for k in ("Id", "Arn", "RoleArn") if t.get(k)} for t in targets or []),
            key=lambda t: t["Id"],
        ),
    }


def plan_rule(
    current: dict[str, Any] | None, spec: RuleSpec, tags: dict[str, str] | None
) -> tuple[list[Action], dict[str, Any]]:
    """Actions making the rule match ``spec`` (targets of others are never touched), and the after view."""
    actions: list[Action] = []
    others = [t for t in (current or {}).get("targets") or [] if t["Id"] != TARGET_ID]
    ours = next((t for t in (current or {}).get("targets") or [] if t["Id"] == TARGET_ID), None)
    if (
        current is None
        or current["pattern"] != spec.pattern
        or current["state"] != "ENABLED"
        or current["description"] != spec.description
    ):
        params: dict[str, Any] = {
            "Name": spec.name,
            "EventPattern": json.dumps(spec.pattern, sort_keys=True),
            "State": "ENABLED",
            "Description": spec.description,
        }
        if current is None and tags:
            # PutRule sets tags only when it creates the rule; an existing rule's tags are the user's.
            params["Tags"] = [{"Key": k, "Value": str(v)} for k, v in sorted(tags.items())]
        actions.append(Action("put_rule", params))
    if ours != spec.target:
        actions.append(Action("put_targets", {"Rule": spec.name, "Targets": [dict(spec.target)]}))
    after = {
        "name": spec.name,
        "state": "ENABLED",
        "description": spec.description,
        "pattern": spec.pattern,
        "targets": sorted([*others, dict(spec.target)], key=lambda t: t["Id"]),
    }
    return actions, after


def plan_rule_absent(current: dict[str, Any] | None, name: str) -> tuple[list[Action], dict[str, Any] | None]:
    """Remove this collection's target; the rule goes only if no one else's target is left on it."""
    if current is None:
        return [], None
    actions: list[Action] = []
    others = [t for t in current["targets"] if t["Id"] != TARGET_ID]
    if len(others) < len(current["targets"]):
        actions.append(Action("remove_targets", {"Rule": name, "Ids": [TARGET_ID]}))
    if others:
        return actions, {**current, "targets": others}
    actions.append(Action("delete_rule", {"Name": name}))
    return actions, None


# --- the forwarder role's inline policy -----------------------------------------------------------


def role_name_of(arn: str) -> str:
    """``arn:aws:iam::123456789012:role/path/name`` -> ``name`` (IAM calls take the name, not the path)."""
    return str(arn).rsplit("/", 1)[-1]


def plan_role_policy(
    role_arn: str, name: str, current: dict[str, Any] | None, wanted: dict[str, Any], policies_differ: Any
) -> list[Action]:
    """PutRolePolicy when the forwarder role's inline policy ``name`` is missing or differs.

    Planned here rather than by amazon.aws.iam_policy, which fails under --check on a role still to be
    created: a first ``--check --diff`` then shows the policy that will be put (``current`` None).
    ``policies_differ`` is amazon.aws's compare_policies, passed in to keep this file pure.
    """
    if current is not None and not policies_differ(current, wanted):
        return []
    params = {"RoleName": role_name_of(role_arn), "PolicyName": name, "PolicyDocument": json.dumps(wanted)}
    return [Action("put_role_policy", params)]


# --- topic ---------------------------------------------------------------------------------------


PENDING = ("PendingConfirmation",)


def subscription_counts(subscriptions: list[dict[str, Any]]) -> dict[str, Any]:
    """ListSubscriptionsByTopic -> confirmed/pending counts (an unconfirmed email alerts nobody)."""
    confirmed = [s for s in subscriptions if str(s.get("SubscriptionArn", "")).startswith("arn:")]
    pending = [s for s in subscriptions if s.get("SubscriptionArn") in PENDING]
    return {
        "total": len(subscriptions),
        "confirmed": len(confirmed),
        "pending": len(pending),
        "endpoints": sorted(
            (
                {"protocol": s.get("Protocol"), "endpoint": s.get("Endpoint"), "confirmed": s in confirmed}
                for s in subscriptions
            ),
            key=lambda e: (str(e["protocol"]), str(e["endpoint"])),
        ),
    }


def topic_view(attributes: dict[str, str] | None) -> dict[str, Any] | None:
    """GetTopicAttributes -> what is compared and reported (None: no such topic)."""
    if attributes is None:
        return None
    policy = attributes.get("Policy")
    return {
        "arn": attributes.get("TopicArn"),
        "display_name": attributes.get("DisplayName") or "",
        "kms_master_key_id": attributes.get("KmsMasterKeyId") or "",
        "policy": json.loads(policy) if policy else None,
    }


@dataclass
class TopicWish:
    arn: str
    display_name: str
    policy: dict[str, Any]
    kms_master_key_id: str
    subscriptions: list[dict[str, str]] = field(default_factory=list)
    purge_subscriptions: bool = False
    tags: dict[str, str] = field(default_factory=dict)


def _attribute_text(name: str, value: Any) -> str:
    return json.dumps(value, sort_keys=True) if name == "Policy" else str(value)


def _sub_key(protocol: Any, endpoint: Any) -> tuple[str, str]:
    return (str(protocol).lower(), str(endpoint))


def plan_topic(
    current: dict[str, Any] | None,
    subscriptions: list[dict[str, Any]],
    wish: TopicWish,
    policies_differ: Any,
) -> list[Action]:
    """Create the topic or set its differing attributes; subscribe what is missing.

    Why not community.aws.sns_topic: it has no KMS option, and under --check it fails on a topic
    still to be created (it lists the subscriptions of topic None; measured with community.aws 10).
    Subscriptions are only added; one goes only with ``purge_subscriptions`` and only once confirmed
    (AWS cannot remove a pending one). ``policies_differ(a, b)`` compares policy documents the way
    amazon.aws does (module_utils.policy.compare_policies), passed in to keep this file pure.
    """
    attributes = {
        "DisplayName": wish.display_name,
        "Policy": wish.policy,
        "KmsMasterKeyId": wish.kms_master_key_id,
    }
    actions: list[Action] = []
    name = wish.arn.rsplit(":", 1)[-1]
    if current is None:
        params: dict[str, Any] = {
            "Name": name,
            "Attributes": {
                k: json.dumps(v, sort_keys=True) if k == "Policy" else v for k, v in attributes.items() if v
            },
        }
        if wish.tags:
            params["Tags"] = [{"Key": k, "Value": str(v)} for k, v in sorted(wish.tags.items())]
        actions.append(Action("create_topic", params))
    else:
        have = {
            "DisplayName": current["display_name"],
            "Policy": current["policy"],
            "KmsMasterKeyId": current["kms_master_key_id"],
        }
        for key, value in attributes.items():
            if not value:
                continue
            differs = policies_differ(have[key] or {}, value) if key == "Policy" else have[key] != value
            if differs:
                text = json.dumps(value, sort_keys=True) if key == "Policy" else value
                actions.append(
                    Action(
                        "set_topic_attributes",
                        {"TopicArn": wish.arn, "AttributeName": key, "AttributeValue": text},
                    )
                )
    have_subs = {_sub_key(s.get("Protocol"), s.get("Endpoint")): s for s in subscriptions}
    wanted = {_sub_key(s["protocol"], s["endpoint"]) for s in wish.subscriptions}
    for protocol, endpoint in sorted(wanted - set(have_subs)):
        actions.append(
            Action(
                "subscribe",
                {
                    "TopicArn": wish.arn,
                    "Protocol": protocol,
                    "Endpoint": endpoint,
                    "ReturnSubscriptionArn": True,
                },
            )
        )
    if wish.purge_subscriptions:
        for key in sorted(set(have_subs) - wanted):
            arn = str(have_subs[key].get("SubscriptionArn", ""))
            if arn.startswith("arn:"):
                actions.append(Action("unsubscribe", {"SubscriptionArn": arn}))
    return actions


def subscriptions_after(subscriptions: list[dict[str, Any]], actions: list[Action]) -> list[dict[str, Any]]:
    """The topic's subscriptions once ``actions`` ran (new ones pending until AWS says otherwise)."""
    gone = {a.params["SubscriptionArn"] for a in actions if a.kind == "unsubscribe"}
    after = [s for s in subscriptions if s.get("SubscriptionArn") not in gone]
    after += [
        {
            "Protocol": a.params["Protocol"],
            "Endpoint": a.params["Endpoint"],
            "SubscriptionArn": "PendingConfirmation",
        }
        for a in actions
        if a.kind == "subscribe"
    ]
    return after


# --- ownership: what the collection made, and what it only adopts when told ----------------------


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """SNS/EventBridge ListTagsForResource ``[{Key, Value}]`` -> ``{key: value}``."""
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def topic_owned(tags: dict[str, str], current_policy: Any, wanted_policy: Any, policies_differ: Any) -> bool:
    """The collection's topic: it carries the managed-by tag, or (an estate built by a version that
    created the topic through the module without tags) its policy is exactly the collection's, which
    nobody else would write."""
    if is_managed(tags):
        return True
    return bool(wanted_policy) and bool(current_policy) and not policies_differ(current_policy, wanted_policy)


def rule_owned(tags: dict[str, str], current: dict[str, Any]) -> bool:
    """The collection's rule: the managed-by tag, or (rules made untagged by the module alone) the
    collection's target Id on it, which only this collection puts there."""
    return is_managed(tags) or any(t.get("Id") == TARGET_ID for t in current.get("targets") or [])


def merge_policy(current: dict[str, Any] | None, wanted: dict[str, Any]) -> dict[str, Any]:
    """``wanted`` with the statements of ``current`` it does not replace: a statement is the
    collection's when its Sid is one of ``wanted``'s; every other one (an application's publish
    grant, a statement without Sid) stays, so adopting a topic never shortens its policy."""
    if not current or not wanted:
        return wanted
    ours = {s.get("Sid") for s in wanted.get("Statement") or [] if s.get("Sid")}
    statements = current.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in statements if s.get("Sid") not in ours]
    return {**wanted, "Statement": [*kept, *(wanted.get("Statement") or [])]}


def plan_managed_tag(arn: str, tags: dict[str, str]) -> list[Action]:
    """TagResource with the managed-by tag on an existing topic that lacks it (adopted, or made by an
    untagged earlier run): later runs then know it as the collection's without being told."""
    if is_managed(tags):
        return []
    return [
        Action(
            "tag_resource", {"ResourceArn": arn, "Tags": [{"Key": MANAGED_BY_KEY, "Value": MANAGED_BY_VALUE}]}
        )
    ]


def foreign_refusal(kind: str, name: str, region: str, variable: str) -> str:
    """The refusal for a resource of someone else's, named with its region and the adopt variable."""
    return (
        f"{variable}: the {kind} '{name}' in {region} exists and was not created by gdpr.aws_monitoring "
        f"(no {MANAGED_BY_KEY} tag). Choose another name, or set "
        f"{variable}=true to adopt it (its other policy statements and rule targets are kept)."
    )


# --- findings export (publishing destinations) ---------------------------------------------------


def destination_view(described: dict[str, Any]) -> dict[str, Any]:
    """DescribePublishingDestination -> what is compared and reported."""
    props = described.get("DestinationProperties") or {}
    return {
        "destination_id": described.get("DestinationId"),
        "destination_type": described.get("DestinationType"),
        "status": described.get("Status"),
        "destination_arn": props.get("DestinationArn"),
        "kms_key_arn": props.get("KmsKeyArn"),
    }


@dataclass
class DestinationPlan:
    actions: list[Action]
    after: dict[str, Any] | None
    conflict: str | None = None  # a user's destination elsewhere, not replaced unless asked


def plan_destination(
    detector_id: str | None,
    current: list[dict[str, Any]],
    destination_arn: str,
    kms_key_arn: str,
    replace: bool,
    replace_variable: str = "replace_existing",
) -> DestinationPlan:
    """One S3 publishing destination on the detector, pointing at the bucket with the key.

    GuardDuty allows one S3 destination per detector: an existing one is updated in place, but one
    pointing at another bucket is someone's export, only redirected with ``replace``. ``detector_id``
    None: the detector is still to be created (check mode after the guardduty role's plan).
    """
    wanted = {"DestinationArn": destination_arn, "KmsKeyArn": kms_key_arn}
    after = {
        "destination_id": None,
        "destination_type": "S3",
        "status": None,
        "destination_arn": destination_arn,
        "kms_key_arn": kms_key_arn,
    }
    s3 = [d for d in current if d.get("destination_type") == "S3"]
    if not s3:
        params = {"DetectorId": detector_id, "DestinationType": "S3", "DestinationProperties": wanted}
        return DestinationPlan([Action("create_publishing_destination", params)], after)
    have = s3[0]
    after.update(destination_id=have["destination_id"], status=have["status"])
    if (have["destination_arn"], have["kms_key_arn"]) == (destination_arn, kms_key_arn):
        return DestinationPlan([], after)
    same_bucket = _bucket_of(have["destination_arn"]) == _bucket_of(destination_arn)
    if not same_bucket and not replace:
        conflict = (
            f"the detector already exports to {have['destination_arn']} (destination "
            f"{have['destination_id']}); set {replace_variable}=true to point it at {destination_arn}"
        )
        return DestinationPlan([], dict(have), conflict)
    params = {
        "DetectorId": detector_id,
        "DestinationId": have["destination_id"],
        "DestinationProperties": wanted,
    }
    return DestinationPlan([Action("update_publishing_destination", params)], after)


def _bucket_of(arn: str | None) -> str:
    """``arn:aws:s3:::bucket/prefix`` -> ``bucket``."""
    return str(arn or "").split(":::", 1)[-1].split("/", 1)[0]


def guardduty_principals(
    regions: list[str], statuses: dict[str, str], dns_suffix: str = "amazonaws.com"
) -> list[str]:
    """GuardDuty's service principals: the global one plus the regional one of each opt-in region
    covered (opt-in regions sign their writes as ``guardduty.<region>.amazonaws.com``)."""
    regional = sorted(f"guardduty.{r}.{dns_suffix}" for r in regions if statuses.get(r) == "opted-in")
    return [f"guardduty.{dns_suffix}", *regional]
