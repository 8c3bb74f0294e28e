"""guardduty_response alerts, end to end on the embedded AWS (controller-only, the shared moto).

What moto can show (measured, /work/shared/ansible-aws-facts.md): EventBridge numeric patterns,
cross-region event-bus targets, SQS targets and SNS -> SQS subscriptions. It does not deliver to SNS
targets, so the routing to the topic is proved with an SQS queue targeted beside the topic on the
home region's rules, and the topic's delivery with an SQS subscription and a direct publish.

  * --check first (with the export) changes nothing; the first run builds it; the second is
    changed=0 and keeps a
    target someone else put on the rules;
  * a finding-shaped event of severity 8 put in a non-home region reaches the home region's queue,
    one of severity 2 does not; a tamper event (DeleteDetector) does, and so does a log group of
    the collection's prefix deleted (DeleteLogGroup), while another group's retention change does not;
  * the topic is encrypted with a customer managed key whose policy lets EventBridge use it, and
    its policy lets only this account's EventBridge publish; subscriptions are counted;
  * bad input (severity out of range, malformed email and queue ARN, a home region the account has
    not enabled, a bucket name S3 refuses) fails before any write, naming the variable.

The export's publishing destinations are not on moto (HTTP 404): with guardduty_export the role
would fail there; tests/unit/plugins/modules/test_guardduty_publishing_destinations.py covers them
with botocore's Stubber.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import yaml
from controller_play import ansible_env, ansible_playbook
from test_controller_guards import run_cases

HOME, OTHER = "eu-west-1", "eu-central-1"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:{HOME}:{ACCOUNT}:gdpr-guardduty-findings"
RULES = (
    "gdpr-guardduty-findings",
    "gdpr-guardduty-tamper",
    "gdpr-guardduty-tamper-disable",
    "gdpr-guardduty-tamper-logs",
)
# The rules a probe queue is targeted beside the topic on: findings, GuardDuty tamper, log tamper.
PROBED = (RULES[0], RULES[1], RULES[3])


def run_role(
    tmp_path: Path, extra_vars: dict[str, Any], *flags: str, evidence_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The response entry point on localhost; with ``evidence_dir``, the evidence report after it
    (as site.yml runs it), reading the same regions, its report written there."""
    evidence = [
        {
            "name": "Evidence",
            "ansible.builtin.include_role": {"name": "gdpr.aws_monitoring.evidence_report"},
            "vars": {
                "evidence_report_dir": str(evidence_dir),
                "evidence_report_regions": [HOME, OTHER],
                "evidence_report_log_group_prefix": "/gdpr/none",
            },
        }
    ]
    playbook = tmp_path / "guardduty_response.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable},
                    "tasks": [
                        {
                            "name": "Response",
                            "ansible.builtin.include_role": {
                                "name": "gdpr.aws_monitoring.guardduty",
                                "tasks_from": "response",
                            },
                        }
                    ],
                    "post_tasks": [
                        {
                            "name": "Result",
                            "ansible.builtin.debug": {"msg": "{{ guardduty_response | to_json }}"},
                        },
                        *(evidence if evidence_dir else []),
                    ],
                }
            ]
        )
    )
    return ansible_playbook(
        playbook,
        "-i",
        "localhost,",
        "-e",
        json.dumps(extra_vars),
        *flags,
        env=ansible_env(AWS_REGION=HOME),
        timeout=300,
    )


def recap(run: subprocess.CompletedProcess[str]) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*(.*)", run.stdout.split("PLAY RECAP")[-1])
    assert match, run.stdout[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def result_fact(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    match = re.findall(r'"msg": "(\{.*\})"', run.stdout)
    assert match, run.stdout[-2000:]
    return json.loads(json.loads(f'"{match[-1]}"'))


def client(service: str, region: str = HOME) -> Any:
    return boto3.client(service, region_name=region)


def nothing_exists() -> list[str]:
    """What of the role's resources exists (empty: nothing was written)."""
    found = [
        f"rule {r['Name']} in {reg}"
        for reg in (HOME, OTHER)
        for r in client("events", reg).list_rules()["Rules"]
    ]
    found += [t["TopicArn"] for t in client("sns").list_topics()["Topics"]]
    found += [r["RoleName"] for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith("gdpr")]
    found += [a["AliasName"] for a in client("kms").list_aliases()["Aliases"] if "gdpr" in a["AliasName"]]
    return found


def receive(queue_url: str) -> list[dict[str, Any]]:
    sqs = client("sqs")
    messages = []
    for _attempt in range(3):
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += answer.get("Messages", [])
        if not answer.get("Messages"):
            break
    return [json.loads(m["Body"]) for m in messages]


def put_finding(region: str, severity: float, finding_id: str) -> None:
    detail = {
        "schemaVersion": "2.0",
        "id": finding_id,
        "severity": severity,
        "type": "UnauthorizedAccess:EC2/SSHBruteForce",
    }
    answer = client("events", region).put_events(
        Entries=[{"Source": "aws.guardduty", "DetailType": "GuardDuty Finding", "Detail": json.dumps(detail)}]
    )
    assert answer["FailedEntryCount"] == 0


def test_alerts_check_converge_idempotent_and_delivered(aws, tmp_path):
    sqs = client("sqs")
    subscriber = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    subscriber_arn = sqs.get_queue_attributes(QueueUrl=subscriber, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    extra = {
        "guardduty_export": False,
        "guardduty_regions": [HOME, OTHER],
        "guardduty_alert_severity": "HIGH",
        "guardduty_alert_subscriptions": [
            {"protocol": "sqs", "endpoint": subscriber_arn},
            {"protocol": "email", "endpoint": "dpo@example.com"},
        ],
    }

    # --check with the export too: moto has no detector here, so the destinations are only planned
    # (the calls moto lacks are never made); key, bucket, topic, rules and role are planned as well.
    checked = run_role(tmp_path, {**extra, "guardduty_export": True}, "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert recap(checked)["changed"] > 0
    planned = result_fact(checked)
    assert [d["actions"] for d in planned["export"]["destinations"]] == [
        ["create_publishing_destination"]
    ] * 2
    assert planned["export"]["bucket"]["name"] == f"gdpr-guardduty-findings-{ACCOUNT}-{HOME}"
    assert nothing_exists() == []
    assert client("s3").list_buckets()["Buckets"] == []
    # The forwarder role's inline policy is in the first --check --diff, though the role does not
    # exist yet (amazon.aws.iam_policy could not read it and the policy used to be left out).
    assert '+    "forwarder_role_policy": {' in checked.stdout, checked.stdout[-3000:]
    assert (
        f"arn:aws:events:{HOME}:{ACCOUNT}:event-bus/default"
        in checked.stdout.split('"forwarder_role_policy"')[-1]
    )

    first = run_role(tmp_path, extra)
    assert first.returncode == 0, first.stdout[-3000:]
    for region in (HOME, OTHER):
        assert sorted(r["Name"] for r in client("events", region).list_rules()["Rules"]) == sorted(RULES)
    inline = client("iam").get_role_policy(
        RoleName="gdpr-guardduty-events-forwarder", PolicyName="gdpr-guardduty-forward-to-home-bus"
    )["PolicyDocument"]
    assert inline["Statement"] == [
        {
            "Sid": "PutEventsOnTheHomeBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": f"arn:aws:events:{HOME}:{ACCOUNT}:event-bus/default",
        }
    ]

    # A queue targeted beside the topic on the home rules: moto does not deliver to SNS targets.
    probe = sqs.create_queue(QueueName="probe")["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for rule in PROBED:
        client("events").put_targets(Rule=rule, Targets=[{"Id": "probe", "Arn": probe_arn}])

    # The evidence report after it, as in site.yml: the rule of every region and the confirmed
    # subscriptions are judged from what the run kept (the export is off: no export rows).
    evidence_dir = tmp_path / "evidence"
    evidence_dir.mkdir()
    second = run_role(tmp_path, extra, evidence_dir=evidence_dir)
    assert second.returncode == 0, second.stdout[-3000:]
    assert recap(second)["changed"] == 0, second.stdout[-3000:]
    report = json.loads((evidence_dir / "report.json").read_text())
    judged = {
        (r["check_id"], r["region"]): r["status"]
        for r in report["rows"]
        if r["check_id"].startswith(("guardduty_alert", "guardduty_export"))
    }
    assert judged == {
        ("guardduty_alert_rule", HOME): "PASS",
        ("guardduty_alert_rule", OTHER): "PASS",
        ("guardduty_alert_subscriptions", HOME): "PASS",
    }, report["rows"]
    home_targets = client("events").list_targets_by_rule(Rule=RULES[0])["Targets"]
    assert {t["Id"]: t["Arn"] for t in home_targets} == {
        "gdpr-guardduty-alerts": TOPIC_ARN,
        "probe": probe_arn,
    }
    other_target = client("events", OTHER).list_targets_by_rule(Rule=RULES[0])["Targets"][0]
    assert other_target["Arn"] == f"arn:aws:events:{HOME}:{ACCOUNT}:event-bus/default"
    assert other_target["RoleArn"].endswith(":role/gdpr-guardduty-events-forwarder")

    fact = result_fact(second)
    subs = fact["alerts"]["topic"]["subscriptions"]
    # moto confirms every subscription at once (AWS leaves email pending until its owner clicks);
    # counting pending ones is tested in tests/unit/plugins/module_utils/test_guardduty_response_plan.py.
    assert (subs["total"], subs["confirmed"], subs["pending"]) == (2, 2, 0), subs

    # moto raises (HTTP 500) on an SNS target, before the targets after it: for the delivery check the
    # role's topic target leaves the home rules, the queue beside it stands in for the topic.
    for rule in PROBED:
        client("events").remove_targets(Rule=rule, Ids=["gdpr-guardduty-alerts"])
    high, low = f"high-{uuid.uuid4()}", f"low-{uuid.uuid4()}"
    put_finding(OTHER, 8.0, high)
    put_finding(OTHER, 2.0, low)
    api_calls = [
        ("aws.guardduty", {"eventSource": "guardduty.amazonaws.com", "eventName": "DeleteDetector"}),
        # The default prefix (/gdpr) covers the agents' and CloudTrail's groups; another group's
        # retention is its owner's business.
        (
            "aws.logs",
            {
                "eventSource": "logs.amazonaws.com",
                "eventName": "DeleteLogGroup",
                "requestParameters": {"logGroupName": "/gdpr/prod/linux/system/auth"},
            },
        ),
        (
            "aws.logs",
            {
                "eventSource": "logs.amazonaws.com",
                "eventName": "PutRetentionPolicy",
                "requestParameters": {"logGroupName": "/app/orders", "retentionInDays": 1},
            },
        ),
    ]
    client("events", OTHER).put_events(
        Entries=[
            {"Source": source, "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(detail)}
            for source, detail in api_calls
        ]
    )
    arrived = receive(probe)
    ids = [e["detail"].get("id") for e in arrived if e["detail-type"] == "GuardDuty Finding"]
    assert ids == [high], arrived
    assert sorted(
        (e["detail"]["eventName"], e["detail"].get("requestParameters", {}).get("logGroupName"))
        for e in arrived
        if e["detail-type"] != "GuardDuty Finding"
    ) == [("DeleteDetector", None), ("DeleteLogGroup", "/gdpr/prod/linux/system/auth")], arrived

    client("sns").publish(TopicArn=TOPIC_ARN, Message="direct publish")
    assert [m["Message"] for m in receive(subscriber)] == ["direct publish"]

    attributes = client("sns").get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    key_arn = attributes["KmsMasterKeyId"]
    assert key_arn == client("kms").describe_key(KeyId="alias/gdpr-guardduty-findings")["KeyMetadata"]["Arn"]
    key_policy = json.loads(client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    events_statement = [
        s for s in key_policy["Statement"] if s.get("Principal", {}).get("Service") == "events.amazonaws.com"
    ]
    assert events_statement and "kms:GenerateDataKey*" in events_statement[0]["Action"]
    publishers = [
        s for s in json.loads(attributes["Policy"])["Statement"] if "sns:Publish" in str(s["Action"])
    ]
    assert [s["Principal"] for s in publishers] == [{"Service": "events.amazonaws.com"}]
    assert publishers[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


USER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AppPublishes",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sns:Publish",
            "Resource": TOPIC_ARN,
        }
    ],
}


def users_topic_and_rule() -> dict[str, Any]:
    """A user's topic of the alert topic's name (with an application's publish grant) and a user's
    rule of a tamper rule's name in the other region: what the collection must not take over."""
    client("sns").create_topic(Name="gdpr-guardduty-findings", Attributes={"Policy": json.dumps(USER_POLICY)})
    events = client("events", OTHER)
    events.put_rule(Name=RULES[1], EventPattern=json.dumps({"source": ["my.app"]}), State="ENABLED")
    events.put_targets(Rule=RULES[1], Targets=[{"Id": "mine", "Arn": f"arn:aws:sqs:{OTHER}:{ACCOUNT}:mine"}])
    return users_things()


def users_things() -> dict[str, Any]:
    attributes = client("sns").get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]
    events = client("events", OTHER)
    return {
        "policy": json.loads(attributes["Policy"]),
        "kms": attributes.get("KmsMasterKeyId"),
        "rule": events.describe_rule(Name=RULES[1])["EventPattern"],
        "targets": events.list_targets_by_rule(Rule=RULES[1])["Targets"],
        "rules": [r["Name"] for reg in (HOME, OTHER) for r in client("events", reg).list_rules()["Rules"]],
    }


def test_bad_input_fails_before_any_write_naming_the_variable(aws, tmp_path, monkeypatch):
    """Every refusal as a case of ONE playbook run (run_cases: block/rescue per case, the message of
    each kept apart); nothing exists after all of them but the user's topic and rule, untouched:
    a topic and a rule of the alert names without the collection's tag are refused (the takeover
    reproduced by a hostile tester: the topic's policy was replaced and KMS set on it)."""
    monkeypatch.setenv("AWS_REGION", HOME)
    base = {"guardduty_export": False, "guardduty_regions": [HOME, OTHER]}
    users = users_topic_and_rule()
    _run, cases = run_cases(
        tmp_path,
        "guardduty",
        {
            "input": {
                **base,
                "guardduty_alert_severity": 11,
                "guardduty_regions": [HOME, "eu_west_2"],
                "guardduty_alert_subscriptions": [
                    {"protocol": "email", "endpoint": "dpo-at-example.com"},
                    {"protocol": "sqs", "endpoint": "arn:aws:sqs:eu-west-1:12345:q"},
                ],
                # "" would match every log group of the account
                "guardduty_alert_tamper_log_group_prefixes": ["/gdpr", ""],
            },
            "home_region": {**base, "guardduty_home_region": "eu-west-9"},
            "bucket": {**base, "guardduty_export": True, "guardduty_export_bucket": "Findings_Bucket"},
            "takeover": base,
        },
        tasks_from="response",
    )
    named = {
        "input": [
            "guardduty_alert_severity: 11 is out of range",
            "guardduty_regions: not region names: eu_west_2",
            "guardduty_alert_subscriptions[0].endpoint: 'dpo-at-example.com' is not an email address",
            "guardduty_alert_subscriptions[1].endpoint: 'arn:aws:sqs:eu-west-1:12345:q' is not an SQS",
            "guardduty_alert_tamper_log_group_prefixes[1]: '' is not a log group name prefix",
        ],
        "home_region": ["guardduty_home_region: eu-west-9 is not a region enabled"],
        "bucket": ["guardduty_export_bucket", "Findings_Bucket"],
        "takeover": [
            f"guardduty_alert_adopt_existing_topic: the SNS topic 'gdpr-guardduty-findings' in {HOME} exists",
            f"the EventBridge rule '{RULES[1]}' in {OTHER} exists",
            "guardduty_alert_adopt_existing_topic=true",
        ],
    }
    for case, texts in named.items():
        assert cases[case]["failed"], cases
        for text in texts:
            assert text in cases[case]["msg"], (case, cases[case]["msg"])
    assert users_things() == users
    assert nothing_exists() == [f"rule {RULES[1]} in {OTHER}", TOPIC_ARN]
    assert client("s3").list_buckets()["Buckets"] == []
