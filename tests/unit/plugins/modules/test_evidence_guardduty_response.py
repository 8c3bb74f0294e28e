"""Evidence checks of issue 13 in gdpr_evidence_info: guardduty_alert_rule, guardduty_export,
guardduty_alert_subscriptions.

The module's main() runs against the embedded AWS, which has EventBridge rules and targets, SNS
topics and subscriptions, but no GuardDuty publishing destinations (HTTP 404, measured): there the
export row must be UNKNOWN with the reason, never PASS or FAIL. The export read on an endpoint that
has them (a destination PUBLISHING) is tested with botocore's Stubber, which checks the requests
against botocore's GuardDuty model. moto confirms every subscription at once, so a pending one is
judged directly.
"""

from __future__ import annotations

import json

import boto3
from log_groups_stubs import ModuleExit
from test_gdpr_evidence_info import run_module
from test_guardduty_detector import StubbedClients

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev
from ansible_collections.gdpr.aws_monitoring.plugins.modules import gdpr_evidence_info as mod

EU, DE = "eu-west-1", "eu-central-1"
ACCOUNT = "123456789012"
TOPIC = f"arn:aws:sns:{EU}:{ACCOUNT}:gdpr-guardduty-findings"
BUS = f"arn:aws:events:{EU}:{ACCOUNT}:event-bus/default"
RULE = "gdpr-guardduty-findings"
CHECKS = ("guardduty_alert_rule", "guardduty_export", "guardduty_alert_subscriptions")
PATTERN = json.dumps({"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]})


def _rows(result: ModuleExit) -> dict[tuple[str, str], tuple[str, str]]:
    assert not result.failed, result.result
    return {
        (r["check_id"], r["region"]): (r["status"], r["detail"])
        for r in result.result["rows"]
        if r["check_id"] in CHECKS
    }


def _statuses(result: ModuleExit) -> dict[tuple[str, str], str]:
    return {key: status for key, (status, _detail) in _rows(result).items()}


def test_rules_subscriptions_and_export_judged_only_when_asked(aws: str) -> None:
    for region in (EU, DE):
        boto3.client("guardduty", region_name=region).create_detector(Enable=True)
    args = {"regions": [EU, DE], "instances": []}
    assert _statuses(run_module(mod, args)) == {}

    args.update(guardduty_alerts={"topic_arn": TOPIC}, guardduty_export=True)
    bare = _rows(run_module(mod, args))
    assert {k: s for k, (s, _d) in bare.items()} == {
        ("guardduty_alert_rule", EU): "FAIL",
        ("guardduty_alert_rule", DE): "FAIL",
        ("guardduty_alert_subscriptions", EU): "FAIL",
        ("guardduty_export", EU): "UNKNOWN",
        ("guardduty_export", DE): "UNKNOWN",
    }
    assert bare[("guardduty_alert_subscriptions", EU)][1] == f"the alert topic {TOPIC} does not exist"
    assert "cannot answer guardduty:ListPublishingDestinations" in bare[("guardduty_export", DE)][1]

    sns = boto3.client("sns", region_name=EU)
    sns.create_topic(Name="gdpr-guardduty-findings")
    for region, target in ((EU, TOPIC), (DE, f"arn:aws:sqs:{DE}:{ACCOUNT}:elsewhere")):
        events = boto3.client("events", region_name=region)
        events.put_rule(Name=RULE, EventPattern=PATTERN, State="ENABLED")
        events.put_targets(Rule=RULE, Targets=[{"Id": "t", "Arn": target}])
    drifted = _rows(run_module(mod, args))
    assert drifted[("guardduty_alert_rule", EU)][0] == "PASS"
    assert drifted[("guardduty_alert_rule", DE)] == (
        "FAIL",
        f"rule {RULE} does not send to {BUS} (targets: arn:aws:sqs:{DE}:{ACCOUNT}:elsewhere)",
    )
    assert drifted[("guardduty_alert_subscriptions", EU)][0] == "FAIL"  # a topic nobody subscribed to

    boto3.client("events", region_name=DE).put_targets(Rule=RULE, Targets=[{"Id": "t", "Arn": BUS}])
    boto3.client("events", region_name=EU).disable_rule(Name=RULE)
    queue = boto3.client("sqs", region_name=EU).create_queue(QueueName="oncall")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{EU}:{ACCOUNT}:oncall"
    assert queue.endswith("/oncall")
    sns.subscribe(TopicArn=TOPIC, Protocol="sqs", Endpoint=queue_arn)
    fixed = _rows(run_module(mod, args))
    assert fixed[("guardduty_alert_rule", DE)][0] == "PASS"
    assert fixed[("guardduty_alert_rule", EU)] == (
        "FAIL",
        f"rule {RULE} is DISABLED: this region's findings alert nobody",
    )
    assert fixed[("guardduty_alert_subscriptions", EU)] == (
        "PASS",
        "1 confirmed subscription(s) (sqs), 0 pending",
    )


def test_an_unconfirmed_subscription_alerts_nobody() -> None:
    pending = [{"Protocol": "email", "Endpoint": "dpo@example.com", "SubscriptionArn": "PendingConfirmation"}]
    verdict = ev.judge_guardduty_subscriptions(pending, TOPIC)
    assert verdict.status == "FAIL" and "no confirmed subscription (1 pending)" in verdict.detail


def test_export_read_where_the_endpoint_has_publishing_destinations() -> None:
    """Stubber (moto has no publishing destinations): one destination PUBLISHING passes, one whose
    bucket refused writes fails with its status."""
    stubs = StubbedClients()
    gd = stubs.stub("guardduty", EU)
    for status in ("PUBLISHING", "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"):
        gd.add_response("list_detectors", {"DetectorIds": ["d1"]}, {})
        gd.add_response(
            "list_publishing_destinations",
            {"Destinations": [{"DestinationId": "p1", "DestinationType": "S3", "Status": status}]},
            {"DetectorId": "d1"},
        )
        gd.add_response(
            "describe_publishing_destination",
            {
                "DestinationId": "p1",
                "DestinationType": "S3",
                "Status": status,
                "PublishingFailureStartTimestamp": 0,
                "DestinationProperties": {"DestinationArn": "arn:aws:s3:::findings", "KmsKeyArn": "k"},
            },
            {"DetectorId": "d1", "DestinationId": "p1"},
        )
    passing = ev.judge_guardduty_export(*mod.read_destinations(stubs("guardduty", EU), None))
    failing = ev.judge_guardduty_export(*mod.read_destinations(stubs("guardduty", EU), None))
    assert passing == ev.Verdict("PASS", "findings exported to arn:aws:s3:::findings")
    assert failing.status == "FAIL" and "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY" in failing.detail
    assert ev.judge_guardduty_export([], None).status == "FAIL"
    stubs.assert_all_used()


def test_a_malformed_topic_arn_is_refused_naming_the_variable(moto_endpoint: str) -> None:
    result = run_module(
        mod,
        {
            "regions": [EU],
            "guardduty_alerts": {"topic_arn": "gdpr-guardduty-findings"},
            "variable_names": {"guardduty_alerts": "guardduty_response.alerts.topic.arn"},
        },
    )
    assert result.failed
    assert (
        result.result["msg"]
        == "guardduty_response.alerts.topic.arn: 'gdpr-guardduty-findings' is not an SNS topic ARN"
    )
