"""gdpr.aws_monitoring.log_metric_alarms, run in-process against the embedded AWS (moto, ``shared_aws``).

moto implements every call the module makes (DescribeMetricFilters, PutMetricFilter, DescribeAlarms,
PutMetricAlarm), but not AWS's answer for a log group that does not exist: that case is tested with
botocore's Stubber at the clients. The tests share the session's moto without a reset: each works on
a log group and alarm names of its own. Filters and alarms "made by the old code" are made by the modules the
cloudtrail role used before (amazon.aws.cloudwatchlogs_log_group_metric_filter and
cloudwatch_metric_alarm), run in-process with the arguments the role gave them.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from module_run import ModuleExit, run_main

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.amazon.aws.plugins.modules import cloudwatch_metric_alarm as old_alarm
from ansible_collections.amazon.aws.plugins.modules import (
    cloudwatchlogs_log_group_metric_filter as old_filter,
)
from ansible_collections.gdpr.aws_monitoring.plugins.modules import log_metric_alarms as mod

REGION = "eu-west-1"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings"
METRICS = [
    {"name": "root-account-usage", "description": "Use of the root account (CIS 4.3)",
     "pattern": '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }'},
    {"name": "vpc-changes", "description": "VPC changes (CIS 4.14)",
     "pattern": "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) }"},
]  # fmt: skip


def args(group: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "region": REGION,
        "log_group_name": group,
        "namespace": "CISBenchmark",
        "name_prefix": prefix,
        "description_suffix": " - gdpr.aws_monitoring",
        "metrics": METRICS,
        "alarm_actions": [TOPIC],
        **extra,
    }


def run(module_args: dict[str, Any], check_mode: bool = False, module: Any = mod) -> ModuleExit:
    return run_main(module, {**module_args, "_ansible_check_mode": check_mode, "_ansible_diff": True})


def logs() -> Any:
    return boto3.client("logs", region_name=REGION)


def cloudwatch() -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


def filters(group: str) -> dict[str, dict[str, Any]]:
    return {f["filterName"]: f for f in logs().describe_metric_filters(logGroupName=group)["metricFilters"]}


def alarms(prefix: str) -> dict[str, dict[str, Any]]:
    return {a["AlarmName"]: a for a in cloudwatch().describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]}


def make_with_the_old_modules(group: str, prefix: str) -> None:
    """What the cloudtrail role's two looped tasks wrote before this module existed."""
    for metric in METRICS:
        made = run(
            {
                "region": REGION,
                "log_group_name": group,
                "filter_name": f"{prefix}{metric['name']}",
                "filter_pattern": metric["pattern"],
                "metric_transformation": {
                    "metric_name": metric["name"],
                    "metric_namespace": "CISBenchmark",
                    "metric_value": "1",
                },
                "state": "present",
            },
            module=old_filter,
        )
        assert not made.failed, made.result
        made = run(
            {
                "region": REGION,
                "name": f"{prefix}{metric['name']}",
                "description": f"{metric['description']} - gdpr.aws_monitoring",
                "metric_name": metric["name"],
                "namespace": "CISBenchmark",
                "statistic": "Sum",
                "comparison": "GreaterThanOrEqualToThreshold",
                "threshold": 1.0,
                "period": 300,
                "evaluation_periods": 1,
                "treat_missing_data": "notBreaching",
                "alarm_actions": [TOPIC],
                "state": "present",
            },
            module=old_alarm,
        )
        assert not made.failed, made.result


def test_check_then_converge_then_nothing_to_change(shared_aws: str) -> None:
    group, prefix = "/test/lma/fresh", "lma-fresh-"
    logs().create_log_group(logGroupName=group)
    logs().put_metric_filter(
        logGroupName=group,
        filterName="users-own",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "errors", "metricNamespace": "Mine", "metricValue": "1"}],
    )
    checked = run(args(group, prefix), check_mode=True)
    assert not checked.failed, checked.result
    assert checked.result["changed"] and len(checked.result["changes"]) == 4
    assert set(checked.result["diff"]["after"]["alarms"]) == {
        f"{prefix}root-account-usage",
        f"{prefix}vpc-changes",
    }
    assert alarms(prefix) == {} and set(filters(group)) == {"users-own"}

    first = run(args(group, prefix))
    assert not first.failed and first.result["changed"], first.result
    assert first.result["alarms"] == [f"{prefix}root-account-usage", f"{prefix}vpc-changes"]
    made = filters(group)
    assert set(made) == {"users-own", f"{prefix}root-account-usage", f"{prefix}vpc-changes"}
    assert made["users-own"]["filterPattern"] == "ERROR"
    assert made[f"{prefix}vpc-changes"]["metricTransformations"][0]["metricName"] == "vpc-changes"
    made_alarms = alarms(prefix)
    assert {a["AlarmActions"][0] for a in made_alarms.values()} == {TOPIC}
    assert (
        made_alarms[f"{prefix}vpc-changes"]["AlarmDescription"]
        == "VPC changes (CIS 4.14) - gdpr.aws_monitoring"
    )
    assert made_alarms[f"{prefix}vpc-changes"]["TreatMissingData"] == "notBreaching"

    again = run(args(group, prefix))
    assert not again.failed and not again.result["changed"], again.result
    assert again.result["changes"] == []


def stubbed(monkeypatch: pytest.MonkeyPatch) -> dict[str, Stubber]:
    """The module's clients answered by botocore's Stubber (``client`` patched at the module's boundary)."""
    clients = {
        s: boto3.client(s, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
        for s in ("logs", "cloudwatch")
    }

    def client(self: Any, service: str, retry_decorator: Any = None, **_: Any) -> Any:
        return RetryingBotoClientWrapper(clients[service], retry_decorator)

    monkeypatch.setattr(mod.AnsibleAWSModule, "client", client)
    return {s: Stubber(c) for s, c in clients.items()}


def test_a_group_still_to_be_made_is_planned_in_check_mode_and_named_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stubber: moto answers DescribeMetricFilters for a missing group with no filters (and even
    accepts PutMetricFilter on it); AWS answers ResourceNotFoundException."""
    group, prefix = "/test/lma/missing", "lma-missing-"
    stubs = stubbed(monkeypatch)
    names = [f"{prefix}{m['name']}" for m in METRICS]
    for _attempt in range(2):
        stubs["logs"].add_client_error(
            "describe_metric_filters",
            "ResourceNotFoundException",
            "The specified log group does not exist.",
            expected_params={"logGroupName": group, "filterNamePrefix": prefix},
        )
    stubs["cloudwatch"].add_response(
        "describe_alarms", {"MetricAlarms": []}, {"AlarmNames": names, "AlarmTypes": ["MetricAlarm"]}
    )
    with stubs["logs"], stubs["cloudwatch"]:
        checked = run(args(group, prefix), check_mode=True)
        assert not checked.failed and len(checked.result["changes"]) == 4, checked.result
        missing = run(args(group, prefix))
        stubs["logs"].assert_no_pending_responses()
        stubs["cloudwatch"].assert_no_pending_responses()
    assert missing.failed
    assert f"Metric filters and alarms of the log group {group} in {REGION}" in missing.result["msg"]


def test_what_the_old_modules_made_comes_out_unchanged(shared_aws: str) -> None:
    group, prefix = "/test/lma/old", "lma-old-"
    logs().create_log_group(logGroupName=group)
    make_with_the_old_modules(group, prefix)
    result = run(args(group, prefix))
    assert not result.failed and not result.result["changed"], result.result


def test_drift_is_shown_then_put_back_and_other_alarms_are_left_alone(shared_aws: str) -> None:
    group, prefix = "/test/lma/drift", "lma-drift-"
    logs().create_log_group(logGroupName=group)
    assert not run(args(group, prefix)).failed
    cloudwatch().put_metric_alarm(
        AlarmName=f"{prefix}vpc-changes",
        MetricName="vpc-changes",
        Namespace="CISBenchmark",
        Statistic="Sum",
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=5.0,
        Period=300,
        EvaluationPeriods=1,
        AlarmActions=["arn:aws:sns:eu-west-1:123456789012:elsewhere"],
    )
    cloudwatch().put_metric_alarm(
        AlarmName=f"{prefix}users-own",
        MetricName="errors",
        Namespace="Mine",
        Statistic="Sum",
        ComparisonOperator="GreaterThanThreshold",
        Threshold=0.0,
        Period=60,
        EvaluationPeriods=1,
    )
    checked = run(args(group, prefix), check_mode=True)
    assert checked.result["changes"] == [
        f"alarm {prefix}vpc-changes: update AlarmDescription, Threshold, TreatMissingData, AlarmActions"
    ]
    before = checked.result["diff"]["before"]["alarms"][f"{prefix}vpc-changes"]
    assert before["Threshold"] == 5.0 and before["AlarmActions"] == [
        "arn:aws:sns:eu-west-1:123456789012:elsewhere"
    ]
    assert alarms(prefix)[f"{prefix}vpc-changes"]["Threshold"] == 5.0  # check mode wrote nothing

    fixed = run(args(group, prefix))
    assert fixed.result["changed"] and fixed.result["changes"] == checked.result["changes"]
    now = alarms(prefix)
    assert now[f"{prefix}vpc-changes"]["Threshold"] == 1.0 and now[f"{prefix}vpc-changes"][
        "AlarmActions"
    ] == [TOPIC]
    assert now[f"{prefix}users-own"]["Threshold"] == 0.0 and now[f"{prefix}users-own"]["Namespace"] == "Mine"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"period": 45}, "period: 45 is not 10, 20, 30 or a multiple of 60 seconds. Nothing was changed."),
        ({"metrics": METRICS + METRICS[:1]}, "metrics: names given more than once: root-account-usage"),
    ],
)
def test_bad_input_is_refused_before_any_call(extra: dict[str, Any], message: str) -> None:
    # No endpoint needed: the refusal comes before the first client is made.
    refused = run(args("/test/lma/bad", "lma-bad-", **extra))
    assert refused.failed and message in refused.result["msg"]
