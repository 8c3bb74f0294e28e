"""gdpr.aws_monitoring.guardduty_alerts, run in-process against the embedded AWS (``aws`` fixture).

The takeover a hostile tester reproduced: a user's topic named gdpr-guardduty-findings with an
AppPublishes statement lost that statement and got KMS set. moto keeps SNS topic attributes and tags
and EventBridge rule tags, so ownership is proved here on moto (one region: no forwarder needed).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from module_run import ModuleExit, run_main

from ansible_collections.gdpr.aws_monitoring.plugins.modules import guardduty_alerts as module

HOME = "eu-west-1"
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{HOME}:{ACCOUNT}:gdpr-guardduty-findings"
KEY = f"arn:aws:kms:{HOME}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OURS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EventBridgeOfThisAccountPublishes",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": TOPIC,
        }
    ],
}
APP = {
    "Sid": "AppPublishes",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": "sns:Publish",
    "Resource": TOPIC,
}


def run(check_mode: bool = False, **extra: Any) -> ModuleExit:
    args = {
        "region": HOME,
        "home_region": HOME,
        "regions": [HOME],
        "topic_arn": TOPIC,
        "topic_kms_key_id": KEY,
        "topic_policy": OURS,
        "variable_names": {"adopt_existing": "caller_adopt"},
        **extra,
        "_ansible_check_mode": check_mode,
    }
    return run_main(module, args)


def sns() -> Any:
    return boto3.client("sns", region_name=HOME)


def events() -> Any:
    return boto3.client("events", region_name=HOME)


def topic() -> dict[str, Any]:
    attributes = sns().get_topic_attributes(TopicArn=TOPIC)["Attributes"]
    return {
        "sids": [s.get("Sid") for s in json.loads(attributes["Policy"])["Statement"]],
        "kms": attributes.get("KmsMasterKeyId"),
    }


def users_topic() -> None:
    sns().create_topic(
        Name="gdpr-guardduty-findings",
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [APP]})},
    )


def test_a_users_topic_and_rule_are_refused_before_any_write_then_adopted_keeping_their_statements(aws):
    users_topic()
    events().put_rule(Name="gdpr-guardduty-tamper", EventPattern=json.dumps({"source": ["my.app"]}))
    before = topic()
    refused = run()
    assert refused.failed
    assert (
        "caller_adopt: the SNS topic 'gdpr-guardduty-findings' in eu-west-1 exists" in refused.result["msg"]
    )
    assert "the EventBridge rule 'gdpr-guardduty-tamper' in eu-west-1" in refused.result["msg"]
    assert topic() == before == {"sids": ["AppPublishes"], "kms": None}
    assert [r["Name"] for r in events().list_rules()["Rules"]] == ["gdpr-guardduty-tamper"]
    assert run(check_mode=True).failed  # --check refuses too (the role runs it before any write)

    adopted = run(adopt_existing=True)
    assert not adopted.failed and adopted.result["changed"], adopted.result
    assert topic() == {"sids": ["AppPublishes", "EventBridgeOfThisAccountPublishes"], "kms": KEY}
    # Adopted, the topic carries the collection's tag: later runs need no adopt_existing.
    again = run()
    assert not again.failed and not again.result["changed"], again.result


def test_what_the_module_made_is_its_own_tagged_and_idempotent(aws):
    first = run()
    assert not first.failed and first.result["changed"], first.result
    tags = {t["Key"]: t["Value"] for t in sns().list_tags_for_resource(ResourceArn=TOPIC)["Tags"]}
    assert tags == {"gdpr-monitoring:managed-by": "gdpr.aws_monitoring"}
    rule_arn = events().describe_rule(Name="gdpr-guardduty-findings")["Arn"]
    assert {
        "Key": "gdpr-monitoring:managed-by",
        "Value": "gdpr.aws_monitoring",
    } in events().list_tags_for_resource(ResourceARN=rule_arn)["Tags"]
    second = run()
    assert not second.failed and not second.result["changed"], second.result


def test_an_untagged_topic_carrying_exactly_the_collections_policy_is_its_own(aws):
    """Topics made before the module tagged (through the module without tags) keep working."""
    sns().create_topic(Name="gdpr-guardduty-findings", Attributes={"Policy": json.dumps(OURS)})
    result = run()
    assert not result.failed, result.result
    assert topic() == {"sids": ["EventBridgeOfThisAccountPublishes"], "kms": KEY}
