"""Pure planning of guardduty_response (module_utils/guardduty_response.py): no AWS involved."""

from __future__ import annotations

import json

import pytest

from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import guardduty_response as gr

TOPIC = "arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings"
ROLE = "arn:aws:iam::123456789012:role/gdpr-guardduty-events-forwarder"


@pytest.mark.parametrize(
    ("value", "threshold"),
    [
        (7, 7.0),
        ("7", 7.0),
        ("4.5", 4.5),
        ("high", 7.0),
        ("CRITICAL", 9.0),
        (" low ", 1.0),
        (10, 10.0),
        (1, 1.0),
    ],
)
def test_severity_threshold_accepts_numbers_and_band_names(value, threshold):
    assert gr.severity_threshold(value, "guardduty_alert_severity") == threshold


@pytest.mark.parametrize("value", [0, 0.9, 11, "10.5", "SEVERE", "", None, True, [7]])
def test_severity_threshold_refuses_naming_the_variable(value):
    with pytest.raises(gr.InvalidInput, match=r"^guardduty_alert_severity: "):
        gr.severity_threshold(value, "guardduty_alert_severity")


def test_subscription_problems_name_each_bad_entry():
    subs = [
        {"protocol": "email", "endpoint": "dpo@example.com"},
        {"protocol": "email", "endpoint": "dpo@localhost"},
        {"protocol": "https", "endpoint": "http://hooks.example.com/x"},
        {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:123456789012:alerts"},
        {"protocol": "sqs", "endpoint": "arn:aws:sns:eu-west-1:123456789012:alerts"},
        {"protocol": "lambda", "endpoint": "arn:aws:lambda:eu-west-1:123456789012:function:pager:live"},
        {"protocol": "lambda", "endpoint": "pager"},
        {"protocol": "sms", "endpoint": "+4912345"},
        "dpo@example.com",
    ]
    problems = gr.subscription_problems(subs, "subs")
    assert [p.split(":", maxsplit=1)[0] for p in problems] == [
        "subs[1].endpoint",
        "subs[2].endpoint",
        "subs[4].endpoint",
        "subs[6].endpoint",
        "subs[7].protocol",
        "subs[8]",
    ]
    assert gr.subscription_problems({"protocol": "email"}, "subs") == [
        "subs: must be a list of {protocol, endpoint}"
    ]


def test_findings_pattern_is_a_numeric_filter_on_severity():
    assert gr.findings_pattern(7.0)["detail"] == {"severity": [{"numeric": [">=", 7]}]}
    assert gr.findings_pattern(4.5)["detail"] == {"severity": [{"numeric": [">=", 4.5]}]}
    assert gr.findings_pattern(7.0)["detail-type"] == ["GuardDuty Finding"]


def test_home_region_rules_target_the_topic_others_the_home_bus_with_the_role():
    home = gr.desired_rules("eu-west-1", "eu-west-1", "gdpr-guardduty", 7.0, TOPIC, ROLE)
    other = gr.desired_rules("us-east-1", "eu-west-1", "gdpr-guardduty", 7.0, TOPIC, ROLE)
    assert [r.name for r in home] == [
        "gdpr-guardduty-findings",
        "gdpr-guardduty-tamper",
        "gdpr-guardduty-tamper-disable",
    ]
    assert {r.target["Arn"] for r in home} == {TOPIC}
    assert all("RoleArn" not in r.target for r in home)
    assert {r.target["Arn"] for r in other} == {"arn:aws:events:eu-west-1:123456789012:event-bus/default"}
    assert {r.target["RoleArn"] for r in other} == {ROLE}
    assert len(gr.desired_rules("us-east-1", "eu-west-1", "p", 7.0, TOPIC, ROLE, tamper=False)) == 1
    with pytest.raises(gr.InvalidInput, match="forwarder_role_arn"):
        gr.desired_rules("us-east-1", "eu-west-1", "p", 7.0, TOPIC, None)


def test_tamper_patterns_cover_the_issue_and_not_every_update():
    names = gr.tamper_pattern()["detail"]["eventName"]
    for name in ("DeleteDetector", "DeletePublishingDestination", "DisassociateMembers"):
        assert name in names
    assert "UpdateDetector" not in names
    assert gr.disable_pattern()["detail"]["requestParameters"] == {"enable": [False]}


def _current(spec: gr.RuleSpec, targets: list[dict]) -> dict:
    rule = {
        "Name": spec.name,
        "State": "ENABLED",
        "Description": spec.description,
        "EventPattern": json.dumps(spec.pattern),
    }
    return gr.rule_view(rule, targets)


def test_plan_rule_creates_then_is_idempotent_and_keeps_other_targets():
    spec = gr.desired_rules("eu-west-1", "eu-west-1", "gdpr-guardduty", 7.0, TOPIC, ROLE)[0]
    actions, after = gr.plan_rule(None, spec, {"Owner": "sec"})
    assert [a.kind for a in actions] == ["put_rule", "put_targets"]
    assert actions[0].params["Tags"] == [{"Key": "Owner", "Value": "sec"}]
    assert json.loads(actions[0].params["EventPattern"]) == spec.pattern
    probe = {"Id": "probe", "Arn": "arn:aws:sqs:eu-west-1:123456789012:probe"}
    current = _current(spec, [probe, spec.target])
    actions, after = gr.plan_rule(current, spec, {"Owner": "sec"})
    assert actions == []
    assert after["targets"] == sorted([probe, spec.target], key=lambda t: t["Id"])


def test_plan_rule_updates_a_changed_threshold_and_a_disabled_rule_without_retagging():
    old = gr.desired_rules("eu-west-1", "eu-west-1", "gdpr-guardduty", 4.0, TOPIC, ROLE)[0]
    new = gr.desired_rules("eu-west-1", "eu-west-1", "gdpr-guardduty", 7.0, TOPIC, ROLE)[0]
    current = _current(old, [new.target])
    current["state"] = "DISABLED"
    actions, _after = gr.plan_rule(current, new, {"Owner": "sec"})
    assert [a.kind for a in actions] == ["put_rule"]
    assert "Tags" not in actions[0].params
    assert actions[0].params["State"] == "ENABLED"


def test_plan_rule_absent_removes_only_our_target_and_keeps_a_rule_others_use():
    spec = gr.desired_rules("eu-west-1", "eu-west-1", "gdpr-guardduty", 7.0, TOPIC, ROLE)[0]
    probe = {"Id": "probe", "Arn": "arn:aws:sqs:eu-west-1:123456789012:probe"}
    actions, after = gr.plan_rule_absent(_current(spec, [probe, spec.target]), spec.name)
    assert [(a.kind, a.params) for a in actions] == [
        ("remove_targets", {"Rule": spec.name, "Ids": [gr.TARGET_ID]})
    ]
    assert after["targets"] == [probe]
    actions, after = gr.plan_rule_absent(_current(spec, [spec.target]), spec.name)
    assert [a.kind for a in actions] == ["remove_targets", "delete_rule"]
    assert after is None
    assert gr.plan_rule_absent(None, spec.name) == ([], None)


def test_subscription_counts_tell_confirmed_from_pending():
    subs = [
        {"Protocol": "email", "Endpoint": "a@example.com", "SubscriptionArn": "PendingConfirmation"},
        {"Protocol": "sqs", "Endpoint": "arn:aws:sqs:eu-west-1:1:q", "SubscriptionArn": f"{TOPIC}:abc"},
    ]
    counts = gr.subscription_counts(subs)
    assert (counts["total"], counts["confirmed"], counts["pending"]) == (2, 1, 1)
    assert [e["confirmed"] for e in counts["endpoints"]] == [False, True]


def _wish(**kwargs) -> gr.TopicWish:
    base = {
        "arn": TOPIC,
        "display_name": "GuardDuty findings",
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:Publish"}]},
        "kms_master_key_id": "arn:aws:kms:eu-west-1:123456789012:key/k",
        "subscriptions": [{"protocol": "email", "endpoint": "dpo@example.com"}],
    }
    return gr.TopicWish(**{**base, **kwargs})


def test_plan_topic_creates_encrypted_with_policy_and_subscribes():
    actions = gr.plan_topic(None, [], _wish(tags={"A": "b"}), compare_policies)
    assert [a.kind for a in actions] == ["create_topic", "subscribe"]
    attributes = actions[0].params["Attributes"]
    assert attributes["KmsMasterKeyId"] == "arn:aws:kms:eu-west-1:123456789012:key/k"
    assert json.loads(attributes["Policy"])["Statement"][0]["Action"] == "sns:Publish"
    assert actions[0].params["Tags"] == [{"Key": "A", "Value": "b"}]
    assert actions[1].params["Endpoint"] == "dpo@example.com"


def test_plan_topic_sets_only_what_differs_and_never_removes_subscriptions_unless_asked():
    wish = _wish()
    current = {
        "arn": TOPIC,
        "display_name": "GuardDuty findings",
        "policy": wish.policy,
        "kms_master_key_id": "",
    }
    theirs = {"Protocol": "https", "Endpoint": "https://x.example", "SubscriptionArn": f"{TOPIC}:theirs"}
    ours = {"Protocol": "email", "Endpoint": "dpo@example.com", "SubscriptionArn": "PendingConfirmation"}
    actions = gr.plan_topic(current, [theirs, ours], wish, compare_policies)
    assert [(a.kind, a.params.get("AttributeName")) for a in actions] == [
        ("set_topic_attributes", "KmsMasterKeyId")
    ]
    current["kms_master_key_id"] = wish.kms_master_key_id
    assert gr.plan_topic(current, [theirs, ours], wish, compare_policies) == []
    purge = gr.plan_topic(current, [theirs, ours], _wish(purge_subscriptions=True), compare_policies)
    assert [(a.kind, a.params) for a in purge] == [("unsubscribe", {"SubscriptionArn": f"{TOPIC}:theirs"})]


def test_subscriptions_after_shows_new_ones_pending():
    actions = gr.plan_topic(None, [], _wish(), compare_policies)
    after = gr.subscriptions_after([], actions)
    assert gr.subscription_counts(after)["pending"] == 1


def test_parse_topic_arn():
    assert gr.parse_topic_arn(TOPIC) == ("aws", "eu-west-1", "123456789012", "gdpr-guardduty-findings")
    with pytest.raises(gr.InvalidInput):
        gr.parse_topic_arn("arn:aws:sqs:eu-west-1:123456789012:q")


BUCKET = "arn:aws:s3:::gdpr-guardduty-findings-123456789012-eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/k1"


def _dest(arn: str, key: str) -> dict:
    return gr.destination_view(
        {
            "DestinationId": "d1",
            "DestinationType": "S3",
            "Status": "PUBLISHING",
            "DestinationProperties": {"DestinationArn": arn, "KmsKeyArn": key},
        }
    )


def test_plan_destination_create_keep_update_and_refuse_a_users_export():
    plan = gr.plan_destination("det", [], BUCKET, KEY, replace=False)
    assert [(a.kind, a.params["DestinationProperties"]) for a in plan.actions] == [
        ("create_publishing_destination", {"DestinationArn": BUCKET, "KmsKeyArn": KEY})
    ]
    assert gr.plan_destination("det", [_dest(BUCKET, KEY)], BUCKET, KEY, replace=False).actions == []
    update = gr.plan_destination(
        "det", [_dest(BUCKET + "/old", "arn:aws:kms:eu-west-1:1:key/old")], BUCKET, KEY, False
    )
    assert [a.kind for a in update.actions] == ["update_publishing_destination"]
    assert update.actions[0].params["DestinationId"] == "d1"
    theirs = gr.plan_destination(
        "det", [_dest("arn:aws:s3:::theirs", KEY)], BUCKET, KEY, False, "guardduty_x"
    )
    assert theirs.actions == [] and "set guardduty_x=true" in theirs.conflict
    replaced = gr.plan_destination("det", [_dest("arn:aws:s3:::theirs", KEY)], BUCKET, KEY, True)
    assert [a.kind for a in replaced.actions] == [
        "update_publishing_destination"
    ] and replaced.conflict is None


def test_guardduty_principals_add_the_regional_ones_of_opt_in_regions_covered():
    statuses = {"eu-west-1": "opt-in-not-required", "af-south-1": "opted-in", "me-south-1": "opted-in"}
    assert gr.guardduty_principals(["eu-west-1", "af-south-1"], statuses) == [
        "guardduty.amazonaws.com",
        "guardduty.af-south-1.amazonaws.com",
    ]
    assert gr.guardduty_principals(["eu-west-1"], statuses) == ["guardduty.amazonaws.com"]


def test_forwarder_policy_planned_even_when_the_role_is_still_to_be_made():
    """A first --check: the role does not exist, so nothing could be read; the policy is planned."""
    arn = "arn:aws:iam::123456789012:role/gdpr/gdpr-guardduty-events-forwarder"
    wanted = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
    }
    actions = gr.plan_role_policy(arn, "p", None, wanted, lambda a, b: a != b)
    assert [(a.kind, a.params["RoleName"], json.loads(a.params["PolicyDocument"])) for a in actions] == [
        ("put_role_policy", "gdpr-guardduty-events-forwarder", wanted)
    ]
    assert gr.plan_role_policy(arn, "p", wanted, wanted, lambda a, b: a != b) == []


OURS = {
    "Version": "2012-10-17",
    "Id": "gdpr-guardduty-findings",
    "Statement": [
        {"Sid": "OwnerManagesTheTopic", "Effect": "Allow", "Action": "sns:Subscribe", "Resource": TOPIC},
        {
            "Sid": "EventBridgeOfThisAccountPublishes",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": TOPIC,
        },
    ],
}
APP = {"Sid": "AppPublishes", "Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}
NO_SID = {"Effect": "Allow", "Action": "sns:GetTopicAttributes", "Resource": TOPIC}


def test_merge_policy_keeps_the_users_statements_by_sid_and_replaces_ours():
    stale_ours = {**OURS["Statement"][1], "Action": "sns:*"}
    current = {"Version": "2012-10-17", "Statement": [APP, stale_ours, NO_SID]}
    merged = gr.merge_policy(current, OURS)
    assert merged["Statement"] == [APP, NO_SID, *OURS["Statement"]]
    assert merged["Id"] == OURS["Id"]
    # Merging again is a fixed point: an adopted topic's second run changes nothing.
    assert gr.merge_policy(merged, OURS) == merged
    assert gr.merge_policy({"Statement": APP}, OURS)["Statement"] == [APP, *OURS["Statement"]]
    assert gr.merge_policy(None, OURS) == OURS


def test_adopted_topic_keeps_the_users_statement_and_is_then_idempotent():
    """The hostile tester's case: a user's topic with AppPublishes, adopted. Before the fix the policy
    was replaced by the collection's (AppPublishes gone)."""
    current = {"arn": TOPIC, "display_name": "GuardDuty findings", "kms_master_key_id": ""}
    current["policy"] = {"Version": "2012-10-17", "Statement": [APP]}
    wish = _wish(policy=gr.merge_policy(current["policy"], OURS), subscriptions=[])
    actions = gr.plan_topic(current, [], wish, compare_policies)
    policy = next(a for a in actions if a.params.get("AttributeName") == "Policy")
    assert [s.get("Sid") for s in json.loads(policy.params["AttributeValue"])["Statement"]] == [
        "AppPublishes",
        "OwnerManagesTheTopic",
        "EventBridgeOfThisAccountPublishes",
    ]
    current.update(
        policy=json.loads(policy.params["AttributeValue"]), kms_master_key_id=wish.kms_master_key_id
    )
    again = _wish(policy=gr.merge_policy(current["policy"], OURS), subscriptions=[])
    assert gr.plan_topic(current, [], again, compare_policies) == []


MANAGED = {"gdpr-monitoring:managed-by": "gdpr.aws_monitoring"}


def test_topic_owned_by_tag_or_by_carrying_exactly_the_collections_policy():
    users = {"Version": "2012-10-17", "Statement": [APP]}
    assert gr.topic_owned(MANAGED, users, OURS, compare_policies)
    assert gr.topic_owned({}, OURS, OURS, compare_policies)  # an untagged topic an earlier run made
    assert not gr.topic_owned({}, users, OURS, compare_policies)
    assert not gr.topic_owned({"gdpr-monitoring:managed-by": "someone"}, users, OURS, compare_policies)
    assert not gr.topic_owned(
        {}, {"Version": "2012-10-17", "Statement": [APP, *OURS["Statement"]]}, OURS, compare_policies
    )
    assert not gr.topic_owned({}, None, {}, compare_policies)


def test_rule_owned_by_tag_or_by_the_collections_target():
    theirs = {"targets": [{"Id": "mine", "Arn": "arn:aws:sqs:eu-west-1:123456789012:q"}]}
    ours = {"targets": [*theirs["targets"], {"Id": gr.TARGET_ID, "Arn": TOPIC}]}
    assert gr.rule_owned(MANAGED, theirs)
    assert gr.rule_owned({}, ours)
    assert not gr.rule_owned({}, theirs)
    assert not gr.rule_owned({"Owner": "app"}, {"targets": []})


def test_tag_dict_and_the_refusal_names_resource_region_and_variable():
    assert gr.tag_dict([{"Key": "a", "Value": "b"}]) == {"a": "b"}
    assert gr.tag_dict(None) == {}
    message = gr.foreign_refusal("SNS topic", "t", "eu-west-1", "guardduty_alert_adopt_existing_topic")
    assert message.startswith("guardduty_alert_adopt_existing_topic: the SNS topic 't' in eu-west-1 exists")
    assert "guardduty_alert_adopt_existing_topic=true" in message


def test_plan_managed_tag_only_on_a_topic_without_it():
    assert gr.plan_managed_tag(TOPIC, MANAGED) == []
    (action,) = gr.plan_managed_tag(TOPIC, {"Owner": "app"})
    assert (action.kind, action.params) == (
        "tag_resource",
        {
            "ResourceArn": TOPIC,
            "Tags": [{"Key": "gdpr-monitoring:managed-by", "Value": "gdpr.aws_monitoring"}],
        },
    )


def test_log_tamper_rule_only_with_prefixes_and_matches_the_named_calls():
    without = gr.desired_rules("eu-west-1", "eu-west-1", "p", 7.0, TOPIC, ROLE)
    assert "p-tamper-logs" not in [r.name for r in without]
    rules = gr.desired_rules(
        "us-east-1", "eu-west-1", "p", 7.0, TOPIC, ROLE, log_group_prefixes=["/gdpr", "/x"]
    )
    logs = {r.name: r for r in rules}["p-tamper-logs"]
    detail = logs.pattern["detail"]
    assert logs.pattern["source"] == ["aws.logs"]
    assert {"DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy"} <= set(detail["eventName"])
    assert detail["requestParameters"] == {"logGroupName": [{"prefix": "/gdpr"}, {"prefix": "/x"}]}
    assert logs.target == rules[0].target  # forwarded home like the others
    assert (
        gr.desired_rules(
            "us-east-1", "eu-west-1", "p", 7.0, TOPIC, ROLE, tamper=False, log_group_prefixes=["/g"]
        )[0].name
        == "p-findings"
    )
    long = gr.desired_rules(
        "eu-west-1", "eu-west-1", "p", 7.0, TOPIC, ROLE, log_group_prefixes=["/" + "a" * 500]
    )
    assert len(long[-1].description) == 512  # EventBridge's limit


def test_log_group_prefix_problems_name_each_bad_entry():
    assert gr.log_group_prefix_problems(["/gdpr", "/gdpr/prod"]) == []
    assert gr.log_group_prefix_problems("/gdpr,/app") == []  # -e v=/gdpr,/app
    assert gr.log_group_prefix_problems({"a": 1}, "v") == ["v: must be a list of log group name prefixes"]
    problems = gr.log_group_prefix_problems(["/ok", "", "bad name", 3], "v")
    assert [p.split(":", maxsplit=1)[0] for p in problems] == ["v[1]", "v[2]", "v[3]"]
