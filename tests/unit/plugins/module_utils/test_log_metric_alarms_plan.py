"""Pure planning of log_metric_alarms: what differs, what is written, what the diff shows."""

from __future__ import annotations

from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import log_metric_alarms as plan

TOPIC = "arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings"


def params(**extra: Any) -> dict[str, Any]:
    return {
        "log_group_name": "/gdpr/cloudtrail",
        "namespace": "CISBenchmark",
        "name_prefix": "cis-",
        "description_suffix": " - gdpr.aws_monitoring",
        "alarm_actions": [TOPIC],
        "threshold": 1.0,
        "period": 300,
        "evaluation_periods": 1,
        "treat_missing_data": "notBreaching",
        "metrics": [
            {
                "name": "root-account-usage",
                "pattern": '{ $.userIdentity.type = "Root" }',
                "description": "Root",
            },
            {"name": "vpc-changes", "pattern": "{ ($.eventName = CreateVpc) }", "description": "VPC"},
        ],
        **extra,
    }


def as_described(p: dict[str, Any]) -> tuple[dict[str, dict], dict[str, dict]]:
    """The filters and alarms as DescribeMetricFilters/DescribeAlarms return what ``p`` writes."""
    filters, alarms = {}, {}
    for metric in p["metrics"]:
        name = plan.full_name(p, metric)
        described = {**plan.wanted_filter(p, metric), "creationTime": 1}
        del described["logGroupName"]
        filters[name] = described
        alarms[name] = {
            **plan.wanted_alarm(p, metric),
            "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{name}",
            "ActionsEnabled": True,
            "StateValue": "OK",
            "Dimensions": [],
        }
    return filters, alarms


def test_nothing_there_plans_every_filter_then_every_alarm() -> None:
    todo = plan.plan(params(), {}, {})
    assert [f["filterName"] for f in todo.filters] == ["cis-root-account-usage", "cis-vpc-changes"]
    assert todo.filters[0]["metricTransformations"] == [
        {"metricName": "root-account-usage", "metricNamespace": "CISBenchmark", "metricValue": "1"}
    ]
    alarm = todo.alarms[0]
    assert alarm["AlarmName"] == "cis-root-account-usage"
    assert alarm["AlarmDescription"] == "Root - gdpr.aws_monitoring"
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1.0,
    )
    assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == []
    assert todo.changes == [
        "metric filter cis-root-account-usage: create",
        "alarm cis-root-account-usage: create",
        "metric filter cis-vpc-changes: create",
        "alarm cis-vpc-changes: create",
    ]
    assert todo.before["alarms"]["cis-vpc-changes"] == {}
    assert todo.after["metric_filters"]["cis-vpc-changes"]["filterPattern"] == "{ ($.eventName = CreateVpc) }"


def test_what_is_there_as_wanted_plans_nothing() -> None:
    filters, alarms = as_described(params())
    # CloudWatch spells an absent unit "None" and may list no dimensions as {}; the actions' order and
    # a threshold given as an int are not differences either.
    filters["cis-vpc-changes"]["metricTransformations"][0].update({"unit": "None", "dimensions": {}})
    alarms["cis-vpc-changes"]["Threshold"] = 1
    todo = plan.plan(params(), filters, alarms)
    assert (todo.filters, todo.alarms, todo.changes) == ([], [], [])


def test_each_difference_is_named_and_written_whole() -> None:
    filters, alarms = as_described(params())
    filters["cis-root-account-usage"]["filterPattern"] = "{ $.userIdentity.type = Root }"
    filters["cis-vpc-changes"]["metricTransformations"][0]["defaultValue"] = 0.0
    alarms["cis-vpc-changes"]["AlarmActions"] = ["arn:aws:sns:eu-west-1:123456789012:someone-else"]
    alarms["cis-vpc-changes"]["DatapointsToAlarm"] = 1
    del alarms["cis-root-account-usage"]["TreatMissingData"]  # an alarm from before TreatMissingData
    todo = plan.plan(params(), filters, alarms)
    assert todo.changes == [
        "metric filter cis-root-account-usage: update filterPattern",
        "alarm cis-root-account-usage: update TreatMissingData",
        "metric filter cis-vpc-changes: update metricTransformations",
        "alarm cis-vpc-changes: update AlarmActions, DatapointsToAlarm",
    ]
    assert [f["filterName"] for f in todo.filters] == ["cis-root-account-usage", "cis-vpc-changes"]
    assert todo.alarms[1]["AlarmActions"] == [TOPIC] and "DatapointsToAlarm" not in todo.alarms[1]
    assert todo.before["alarms"]["cis-vpc-changes"]["AlarmActions"] == [
        "arn:aws:sns:eu-west-1:123456789012:someone-else"
    ]
    assert todo.after["alarms"]["cis-vpc-changes"]["AlarmActions"] == [TOPIC]
    assert todo.before["alarms"]["cis-root-account-usage"]["TreatMissingData"] == "missing"


def test_filters_and_alarms_of_other_names_are_not_planned() -> None:
    filters, alarms = as_described(params())
    filters["my-own"] = {"filterName": "my-own", "filterPattern": "x", "metricTransformations": []}
    alarms["my-own"] = {"AlarmName": "my-own", "MetricName": "x"}
    assert plan.plan(params(), filters, alarms).changes == []


def test_inputs_the_spec_cannot_express_are_refused() -> None:
    bad = params(period=90, evaluation_periods=0)
    bad["metrics"] = [*bad["metrics"], {"name": "vpc-changes", "pattern": "", "description": ""}]
    assert plan.input_problems(bad) == [
        "metrics: names given more than once: vpc-changes",
        "metrics: a name and a pattern are required: vpc-changes",
        "period: 90 is not 10, 20, 30 or a multiple of 60 seconds",
        "evaluation_periods: 0 is not 1 or more",
    ]
    assert plan.input_problems(params(period=30)) == []
    assert plan.input_problems(params(period=15)) == [
        "period: 15 is not 10, 20, 30 or a multiple of 60 seconds"
    ]
