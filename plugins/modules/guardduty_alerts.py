#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guardduty_alerts
short_description: GuardDuty findings and tamper events of every region to one KMS-encrypted SNS topic
version_added: 0.2.0
description:
  - In every listed region (default every region enabled for the account), in one call and
    concurrently, keeps EventBridge rules on the default event bus for GuardDuty findings at or above
    O(severity) and for tamper events (detectors deleted or suspended, publishing destinations
    deleted, members disassociated, as "AWS API Call via CloudTrail" events).
  - Outside O(home_region) the rules' target is the home region's default event bus (a cross-region
    target, with the IAM role O(forwarder_role_arn) EventBridge assumes); in O(home_region) the same
    rules match local and forwarded events and target O(topic_arn). Findings of every region so reach
    one topic.
  - Only the target with Id C(gdpr-guardduty-alerts) is managed; other targets on the rules are kept.
    O(state=absent) removes that target and deletes a rule only when no other target is left.
  - The topic (in O(home_region)) is created if missing, with O(topic_policy), O(topic_display_name)
    and encryption with O(topic_kms_key_id); those are set again when they differ.
    O(subscriptions) missing on the topic are added; no subscription is removed unless
    O(purge_subscriptions=true), and then only confirmed ones (AWS cannot remove a pending one).
    The result reports the topic's confirmed and pending subscriptions.
    (C(community.aws.sns_topic) has no KMS option and fails under check mode on a topic still to be
    created.)
  - Regions named in O(regions) and O(home_region) are checked against C(ec2:DescribeRegions) before
    any change; a home region the account has not enabled is refused. Errors fail the module after
    every region ran, naming each region; without O(regions), an opt-in region the account has not
    enabled that refuses the request is skipped (see the C(regions) documentation fragment).
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  state:
    description: V(present) keeps the rules; V(absent) removes this module's target (and empty rules).
    type: str
    choices: [present, absent]
    default: present
  regions:
    description: Regions to cover. Default is every region enabled for the account.
    type: list
    elements: str
  home_region:
    description: Region of the SNS topic, where every region's events are gathered.
    type: str
    required: true
  topic_arn:
    description: ARN of the SNS topic in O(home_region). Required with O(state=present).
    type: str
  topic_kms_key_id:
    description: KMS key (ARN or alias) the topic must be encrypted with. Omit to leave the topic's encryption alone.
    type: str
  topic_policy:
    description: Access policy of the topic. Omit to leave it alone.
    type: dict
  topic_display_name:
    description: Display name of the topic (the sender name of email alerts).
    type: str
    default: GuardDuty findings
  subscriptions:
    description: Subscriptions the topic must have.
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: V(email), V(email-json), V(https), V(sqs) or V(lambda).
        type: str
        required: true
        choices: [email, email-json, https, sqs, lambda]
      endpoint:
        description: Email address, https:// URL, queue ARN or function ARN.
        type: str
        required: true
  purge_subscriptions:
    description: Remove confirmed subscriptions not in O(subscriptions).
    type: bool
    default: false
  forwarder_role_arn:
    description:
      - IAM role EventBridge assumes to put events on the home region's bus (C(events:PutEvents)).
        Required with O(state=present) when a region other than O(home_region) is covered.
    type: str
  forwarder_role_policy:
    description:
      - An inline policy the module keeps on the role of O(forwarder_role_arn) (the role must exist
        outside check mode). Under check mode on a role still to be created it is shown as planned,
        which amazon.aws.iam_policy cannot do.
    type: dict
    suboptions:
      name:
        description: Name of the inline policy.
        type: str
        required: true
      document:
        description: The policy document.
        type: dict
        required: true
  severity:
    description: Lowest GuardDuty severity that alerts, a number from 1 to 10 or LOW, MEDIUM, HIGH, CRITICAL.
    type: str
    default: "7"
  rule_prefix:
    description: Rule names are C(<rule_prefix>-findings), C(-tamper), C(-tamper-disable) and C(-tamper-logs).
    type: str
    default: gdpr-guardduty
  tamper:
    description: Also keep the tamper rules.
    type: bool
    default: true
  tamper_log_group_prefixes:
    description:
      - With O(tamper), also alert when a CloudWatch Logs group whose name starts with one of these
        prefixes is deleted, loses or changes its retention, or loses its KMS key (rule
        C(<rule_prefix>-tamper-logs), on the C(AWS API Call via CloudTrail) events of
        C(logs.amazonaws.com)). Empty, no such rule is kept.
      - A retention set by anyone alerts, this collection's own included (a new log group gets its
        retention by C(PutRetentionPolicy)); the alert names the caller.
    type: list
    elements: str
    default: []
  tags:
    description:
      - Tags given to the rules and the topic this module creates (existing ones' tags are left alone),
        always with C(gdpr-monitoring:managed-by=gdpr.aws_monitoring).
    type: dict
    default: {}
  adopt_existing:
    description:
      - An existing topic or rule without the C(gdpr-monitoring:managed-by) tag (and, for a topic, a
        policy other than O(topic_policy); for a rule, without this module's target) is someone
        else's, and the module fails before any change in any region, naming it and its region.
      - V(true) adopts it. The topic's policy then keeps every statement whose Sid is not one of
        O(topic_policy)'s; the rule keeps its other targets.
    type: bool
    default: false
  ownership_check_only:
    description:
      - V(true) only checks that the topic and rules of these names are this collection's (or
        O(adopt_existing) is set), then returns without planning or changing anything. A region whose
        reads fail is not an error here; the full run reports it, after the other regions are done.
      - The role runs this first, so that someone else's topic stops the run before the forwarder role
        and the key are written.
    type: bool
    default: false
notes:
  - Supports check mode and diff mode (rules before/after per region).
  - Needs C(events:DescribeRule), C(ListTargetsByRule), C(PutRule), C(PutTargets), C(TagResource)
    (tags at creation), C(RemoveTargets) and C(DeleteRule) (for V(absent)), C(iam:PassRole) on
    O(forwarder_role_arn), C(sns:CreateTopic), C(TagResource), C(GetTopicAttributes),
    C(SetTopicAttributes), C(ListSubscriptionsByTopic), C(Subscribe), C(Unsubscribe) (purge only),
    C(ec2:DescribeRegions), C(sns:ListTagsForResource) and C(events:ListTagsForResource)
    (ownership); C(iam:GetRolePolicy) and C(PutRolePolicy) with O(forwarder_role_policy).
extends_documentation_fragment:
  - gdpr.aws_monitoring.regions
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: HIGH and CRITICAL findings of every region to one topic in eu-west-1
  gdpr.aws_monitoring.guardduty_alerts:
    home_region: eu-west-1
    topic_arn: arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings
    topic_kms_key_id: arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    forwarder_role_arn: arn:aws:iam::123456789012:role/gdpr-guardduty-events-forwarder
    severity: HIGH
    subscriptions:
      - protocol: email
        endpoint: dpo@example.com
  register: alerts
"""

RETURN = r"""
regions:
  description: Per handled region, its rules as they are (in check mode, would be) after the run.
  returned: always
  type: list
  elements: dict
  sample: [{"region": "eu-west-1", "changed": false, "rules": [{"name": "gdpr-guardduty-findings", "state": "ENABLED", "actions": []}]}]
forwarder_role_policy:
  description: The forwarder role's inline policy (O(forwarder_role_policy)) - C(role), C(name), C(changed), C(actions).
  returned: always
  type: dict
  sample: {"role": "gdpr-guardduty-events-forwarder", "name": "gdpr-guardduty-forward-to-home-bus", "changed": false, "actions": []}
topic:
  description: The topic's ARN, KMS key and subscriptions (C(total), C(confirmed), C(pending), C(endpoints)).
  returned: always
  type: dict
  sample: {"arn": "arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings", "kms_master_key_id": "arn:aws:kms:...",
           "subscriptions": {"total": 1, "confirmed": 0, "pending": 1}}
threshold:
  description: The numeric severity threshold used.
  returned: always
  type: float
  sample: 7.0
skipped_regions:
  description: Opt-in regions not enabled for the account that refused (only without O(regions)).
  returned: always
  type: list
  elements: dict
failed_regions:
  description: Regions with another error (the module then fails).
  returned: on failure
  type: list
  elements: dict
region_counts:
  description: How many regions were done, refused (skipped) and failed.
  returned: always
  type: dict
  sample: {"done": 17, "refused": 0, "failed": 0}
"""

from dataclasses import dataclass
from typing import Any

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import aws_error_code
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty_response import (
    SUBSCRIPTION_PROTOCOLS,
    Action,
    InvalidInput,
    RuleSpec,
    TopicWish,
    desired_rules,
    foreign_refusal,
    log_group_prefix_problems,
    merge_policy,
    parse_topic_arn,
    plan_managed_tag,
    plan_role_policy,
    plan_rule,
    plan_rule_absent,
    plan_topic,
    role_name_of,
    rule_owned,
    rule_view,
    severity_threshold,
    subscription_counts,
    subscription_problems,
    subscriptions_after,
    tag_dict,
    topic_owned,
    topic_view,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.log_archive import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    NOT_OPTED_IN,
    PartialWrite,
    RegionalClients,
    RegionOutcome,
    account_region,
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

WHAT = "GuardDuty alerts"  # names the work in warnings and the failure message

ARGUMENT_SPEC: dict[str, Any] = {
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "regions": {"type": "list", "elements": "str"},
    "home_region": {"type": "str", "required": True},
    "topic_arn": {"type": "str"},
    "topic_kms_key_id": {"type": "str"},
    "topic_policy": {"type": "dict"},
    "topic_display_name": {"type": "str", "default": "GuardDuty findings"},
    "subscriptions": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "protocol": {"type": "str", "required": True, "choices": list(SUBSCRIPTION_PROTOCOLS)},
            "endpoint": {"type": "str", "required": True},
        },
    },
    "purge_subscriptions": {"type": "bool", "default": False},
    "forwarder_role_arn": {"type": "str"},
    "forwarder_role_policy": {
        "type": "dict",
        "options": {
            "name": {"type": "str", "required": True},
            "document": {"type": "dict", "required": True},
        },
    },
    "severity": {"type": "str", "default": "7"},
    "rule_prefix": {"type": "str", "default": "gdpr-guardduty"},
    "tamper": {"type": "bool", "default": True},
    "tamper_log_group_prefixes": {"type": "list", "elements": "str", "default": []},
    "tags": {"type": "dict", "default": {}},
    "adopt_existing": {"type": "bool", "default": False},
    "ownership_check_only": {"type": "bool", "default": False},
    **region_options(),
}
RULE_SUFFIXES = ("findings", "tamper", "tamper-disable", "tamper-logs")


@dataclass
class RuleResult:
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actions: list[Action]


def describe_rule(client: Any, name: str) -> dict[str, Any] | None:
    """DescribeRule's answer, None when there is no such rule."""
    try:
        return client.describe_rule(Name=name, aws_retry=True)
    except Exception as exc:
        if aws_error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def read_rule(client: Any, name: str, rule: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The rule's view (None: no such rule); ``rule``: its DescribeRule answer if already read."""
    rule = rule or describe_rule(client, name)
    if rule is None:
        return None
    targets = client.list_targets_by_rule(Rule=name, aws_retry=True).get("Targets", [])
    return rule_view(rule, targets)


def apply_actions(client: Any, actions: list[Action]) -> None:
    for action in actions:
        if action.kind == "put_targets":
            answer = client.put_targets(aws_retry=True, **action.params)
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"PutTargets refused {answer.get('FailedEntries')}")
        else:
            getattr(client, action.kind)(aws_retry=True, **action.params)


def handle_region(
    region: str, clients: RegionalClients, params: dict[str, Any], check_mode: bool
) -> list[RuleResult]:
    """Read, plan and (unless in check mode) apply one region's rules; regions run this concurrently."""
    client = clients("events", region)
    if params["state"] == "absent":
        names = [f"{params['rule_prefix']}-{s}" for s in RULE_SUFFIXES]
        planned = [(n, read_rule(client, n)) for n in names]
        results = [RuleResult(n, cur, *plan_rule_absent(cur, n)[::-1]) for n, cur in planned]
    else:
        specs: list[RuleSpec] = desired_rules(
            region,
            params["home_region"],
            params["rule_prefix"],
            params["threshold"],
            params["topic_arn"],
            params["forwarder_role_arn"],
            params["tamper"],
            params["tamper_log_group_prefixes"],
        )
        results = []
        for spec in specs:
            current = read_rule(client, spec.name)
            actions, after = plan_rule(current, spec, params["tags"])
            results.append(RuleResult(spec.name, current, after, actions))
    if not check_mode:
        try:
            for result in results:
                apply_actions(client, result.actions)
        except Exception as exc:
            if any(r.actions for r in results):
                raise PartialWrite(exc) from exc
            raise
    return results


def read_topic(client: Any, arn: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(topic view or None, its subscriptions)."""
    try:
        attributes = client.get_topic_attributes(TopicArn=arn, aws_retry=True)["Attributes"]
    except Exception as exc:
        if aws_error_code(exc) == "NotFound":
            return None, []
        raise
    subscriptions: list[dict[str, Any]] = []
    token = None
    while True:
        page = client.list_subscriptions_by_topic(
            TopicArn=arn, aws_retry=True, **({"NextToken": token} if token else {})
        )
        subscriptions.extend(page.get("Subscriptions", []))
        token = page.get("NextToken")
        if not token:
            return topic_view(attributes), subscriptions


def handle_topic(clients: RegionalClients, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Create or align the topic and its subscriptions; the topic's view with its subscription counts."""
    arn = params["topic_arn"]
    client = clients("sns", params["home_region"])
    current, subscriptions = read_topic(client, arn)
    wish = TopicWish(
        arn=arn,
        display_name=params["topic_display_name"] or "",
        # Statements of others (an adopted topic's) are kept by Sid; see merge_policy.
        policy=merge_policy((current or {}).get("policy"), params["topic_policy"] or {}),
        kms_master_key_id=params["topic_kms_key_id"] or "",
        subscriptions=params["subscriptions"],
        purge_subscriptions=params["purge_subscriptions"],
        tags=params["tags"],
    )
    actions = plan_topic(current, subscriptions, wish, compare_policies)
    if current is not None:
        # An adopted (or untagged earlier) topic gets the collection's tag, so that later runs know
        # it without adopt_existing; its other tags stay.
        tags = tag_dict(client.list_tags_for_resource(ResourceArn=arn, aws_retry=True).get("Tags"))
        actions += plan_managed_tag(arn, tags)
    if actions and not check_mode:
        try:
            apply_actions(client, actions)
        except Exception as exc:
            raise PartialWrite(exc) from exc
        if any(a.kind == "subscribe" for a in actions):
            current, subscriptions = read_topic(client, arn)  # AWS says which ones it confirmed at once
    else:
        subscriptions = subscriptions_after(subscriptions, actions)
    view = {
        "arn": arn,
        "kms_master_key_id": wish.kms_master_key_id or (current or {}).get("kms_master_key_id", ""),
        "subscriptions": subscription_counts(subscriptions),
        "changed": bool(actions),
        "actions": [a.kind for a in actions],
    }
    return view


def rule_names(params: dict[str, Any]) -> list[str]:
    if params["state"] == "absent":
        suffixes = RULE_SUFFIXES
    elif not params["tamper"]:
        suffixes = RULE_SUFFIXES[:1]
    else:
        suffixes = RULE_SUFFIXES if params["tamper_log_group_prefixes"] else RULE_SUFFIXES[:3]
    return [f"{params['rule_prefix']}-{s}" for s in suffixes]


def foreign_rules(client: Any, params: dict[str, Any]) -> list[str]:
    """The rules of this module's names in the client's region that exist and are someone else's."""
    foreign = []
    for name in rule_names(params):
        rule = describe_rule(client, name)
        if rule is None:
            continue
        tags = tag_dict(client.list_tags_for_resource(ResourceARN=rule["Arn"], aws_retry=True).get("Tags"))
        if not rule_owned(tags, read_rule(client, name, rule) or {}):
            foreign.append(name)
    return foreign


def foreign_topic(clients: RegionalClients, params: dict[str, Any]) -> bool:
    """The topic exists and is someone else's."""
    if params["state"] != "present":
        return False
    client = clients("sns", params["home_region"])
    current, _subscriptions = read_topic(client, params["topic_arn"])
    if current is None:
        return False
    answer = client.list_tags_for_resource(ResourceArn=params["topic_arn"], aws_retry=True)
    owned = topic_owned(
        tag_dict(answer.get("Tags")), current["policy"], params["topic_policy"], compare_policies
    )
    return not owned


def refuse_foreign(
    module: AnsibleAWSModule, clients: RegionalClients, params: dict[str, Any], regions: list[str]
) -> None:
    """Fail before any write in any region when a topic or rule of these names is someone else's
    and adopt_existing is off. A region whose reads fail is left to the run, which reports it."""
    if params["adopt_existing"]:
        return
    variable = variable_name(params["variable_names"], "adopt_existing")
    problems = []
    if foreign_topic(clients, params):
        name = params["topic_arn"].rsplit(":", 1)[-1]
        problems.append(foreign_refusal("SNS topic", name, params["home_region"], variable))
    outcomes = run_in_regions(
        regions,
        lambda region: foreign_rules(clients("events", region), params),
        params["max_concurrency"],
    )
    for outcome in outcomes:
        for name in outcome.result or []:
            problems.append(foreign_refusal("EventBridge rule", name, outcome.region, variable))
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.")


def validated_params(module: AnsibleAWSModule) -> dict[str, Any]:
    """The module's params plus ``threshold``; fails naming the caller's variable on bad input."""
    params = dict(module.params)
    params["tags"] = {**params["tags"], MANAGED_BY_KEY: MANAGED_BY_VALUE}
    names = params["variable_names"]
    try:
        params["threshold"] = severity_threshold(params["severity"], variable_name(names, "severity"))
        problems = subscription_problems(params["subscriptions"], variable_name(names, "subscriptions"))
        problems += log_group_prefix_problems(
            params["tamper_log_group_prefixes"], variable_name(names, "tamper_log_group_prefixes")
        )
        if problems:
            raise InvalidInput("; ".join(problems))
        if params["state"] == "present":
            if not params["topic_arn"]:
                raise InvalidInput(f"{variable_name(names, 'topic_arn')}: required with state=present")
            _partition, topic_region, _account, _name = parse_topic_arn(params["topic_arn"])
            if topic_region != params["home_region"]:
                raise InvalidInput(
                    f"{variable_name(names, 'topic_arn')}: the topic is in {topic_region}, "
                    f"not in the home region {params['home_region']}"
                )
    except InvalidInput as exc:
        module.fail_json(msg=str(exc))
    return params


def choose_regions(
    module: AnsibleAWSModule, clients: RegionalClients, params: dict[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """Regions to work (the home region always among them) and, for named regions, their statuses.

    Fails before any change on an unknown region or a home region the account has not enabled.
    """
    names = params["variable_names"]
    home = params["home_region"]
    ec2 = clients("ec2", account_region(clients, [home, module.region, "us-east-1"]))
    regions, statuses = target_regions(
        module, ec2, params["regions"], {variable_name(names, "home_region"): [home]}
    )
    if statuses.get(home) == NOT_OPTED_IN:
        module.fail_json(
            msg=f"{variable_name(names, 'home_region')}: the account has not enabled {home}; "
            "alerts gathered there would go nowhere. Enable the region or choose another. Nothing was changed."
        )
    needs_role = params["state"] == "present" and any(r != home for r in regions)
    if needs_role and not params["forwarder_role_arn"]:
        module.fail_json(
            msg=f"{variable_name(names, 'forwarder_role_arn')}: required to forward other regions' events"
        )
    return sorted(set(regions) | {home}), statuses if params["regions"] else {}


def summarise(
    outcomes: list[RegionOutcome], statuses: dict[str, str], label: str
) -> tuple[dict[str, Any], list[str], list[dict]]:
    report = sort_outcomes(outcomes, WHAT, statuses, label)
    regions = []
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    for outcome in report.done:
        rules = outcome.result
        regions.append(
            {
                "region": outcome.region,
                "changed": any(r.actions for r in rules),
                "rules": [
                    {**(r.after or {"name": r.name, "state": None}), "actions": [a.kind for a in r.actions]}
                    for r in rules
                ],
            }
        )
        diff["before"][outcome.region] = {r.name: r.before for r in rules}
        diff["after"][outcome.region] = {r.name: r.after for r in rules}
    result = report.result(any(r["changed"] for r in regions), diff, regions=regions)
    return result, report.warnings, report.failed


def ensure_topic(
    clients: RegionalClients, params: dict[str, Any], check_mode: bool
) -> tuple[dict, dict | None]:
    """(topic view, failure or None): a topic error is reported with the regions' errors."""
    if params["state"] != "present":
        return {}, None
    try:
        return handle_topic(clients, params, check_mode), None
    except PartialWrite as partial:
        exc = partial.cause
        failure = {"region": params["home_region"], "error": f"SNS topic: {type(exc).__name__}: {exc}"}
        return {"changed": True}, failure
    except Exception as exc:
        failure = {"region": params["home_region"], "error": f"SNS topic: {type(exc).__name__}: {exc}"}
        return {"changed": False}, failure


def handle_forwarder_policy(
    clients: RegionalClients, params: dict[str, Any], check_mode: bool
) -> tuple[dict[str, Any], dict[str, Any], dict | None]:
    """(result view, diff before/after, failure or None) of the forwarder role's inline policy."""
    wish = params["forwarder_role_policy"]
    if params["state"] != "present" or not wish or not params["forwarder_role_arn"]:
        return {}, {}, None
    arn, name = params["forwarder_role_arn"], wish["name"]
    client = clients("iam", params["home_region"])
    view = {"role": role_name_of(arn), "name": name, "changed": False, "actions": []}
    try:
        try:
            current = client.get_role_policy(RoleName=role_name_of(arn), PolicyName=name, aws_retry=True)[
                "PolicyDocument"
            ]
        except Exception as exc:
            if aws_error_code(exc) != "NoSuchEntity":  # no such policy, or (check mode) no role yet
                raise
            current = None
        actions = plan_role_policy(arn, name, current, wish["document"], compare_policies)
        if actions and not check_mode:
            apply_actions(client, actions)
    except Exception as exc:
        failure = {
            "region": params["home_region"],
            "error": f"IAM policy {name}: {type(exc).__name__}: {exc}",
        }
        return view, {}, failure
    view.update(changed=bool(actions), actions=[a.kind for a in actions])
    return view, {"before": current, "after": wish["document"]}, None


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = validated_params(module)
    clients = RegionalClients(module, retry_decorator())
    regions, statuses = choose_regions(module, clients, params)
    refuse_foreign(module, clients, params, regions)
    if params["ownership_check_only"]:
        # A denied region must not stop the other regions here: the full run reports it, after them.
        module.exit_json(changed=False, regions=regions)
    # The topic first: the home region's rules then point at a topic that exists.
    topic, topic_failure = ensure_topic(clients, params, module.check_mode)
    # The forwarder's permission before the rules that use it.
    policy, policy_diff, policy_failure = handle_forwarder_policy(clients, params, module.check_mode)
    outcomes = run_in_regions(
        regions,
        lambda region: handle_region(region, clients, params, module.check_mode),
        params["max_concurrency"],
    )
    if not params["regions"]:
        # Only regions the module chose itself may be refusals (see module_utils/regions.py).
        settle_refusals(outcomes, lambda: region_statuses(clients("ec2", params["home_region"])))
    label = variable_name(params["variable_names"], "regions")
    result, warnings, failed = summarise(outcomes, statuses, label)
    failed[:0] = [f for f in (topic_failure, policy_failure) if f]
    result["changed"] = result["changed"] or bool(topic.get("changed")) or bool(policy.get("changed"))
    result.update(topic=topic, forwarder_role_policy=policy, threshold=params["threshold"])
    if policy_diff:
        result["diff"]["before"]["forwarder_role_policy"] = policy_diff["before"]
        result["diff"]["after"]["forwarder_role_policy"] = policy_diff["after"]
    finish(module, WHAT, result, warnings, failed)


if __name__ == "__main__":
    main()
