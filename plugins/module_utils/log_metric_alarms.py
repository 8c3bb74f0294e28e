# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for metric filters on one log group, each with an alarm (module log_metric_alarms,
used by the cloudtrail role for the CIS monitoring controls).

No AWS call here: the module reads the group's metric filters and the alarms of the wanted names,
hands them to ``plan`` and writes what it returns. A filter or an alarm is compared the way
amazon.aws's cloudwatchlogs_log_group_metric_filter and cloudwatch_metric_alarm compare them (the
modules the role used before), so an estate they made comes out unchanged; a difference is written
whole (PutMetricFilter and PutMetricAlarm replace the filter or alarm of that name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# Each matching log event counts 1: an alarm on the metric's Sum counts the events of a period.
METRIC_VALUE = "1"
STATISTIC = "Sum"
COMPARISON = "GreaterThanOrEqualToThreshold"

# DescribeAlarms fields the alarm is compared on, with the value an absent field stands for.
ALARM_FIELDS: dict[str, Any] = {
    "AlarmDescription": None,
    "MetricName": None,
    "Namespace": None,
    "Statistic": None,
    "ComparisonOperator": None,
    "Threshold": None,
    "Period": None,
    "EvaluationPeriods": None,
    # Alarms made before TreatMissingData existed behave as "missing".
    "TreatMissingData": "missing",
    "AlarmActions": [],
    "OKActions": [],
    "InsufficientDataActions": [],
    "Dimensions": [],
    # Set by hand they change what the alarm means; this plan never sets them.
    "Unit": None,
    "ExtendedStatistic": None,
    "DatapointsToAlarm": None,
    "EvaluateLowSampleCountPercentile": None,
    "Metrics": [],
}
# Order of the actions is not meaningful: compared as sets.
_UNORDERED = ("AlarmActions", "OKActions", "InsufficientDataActions")
# A metric transformation's optional keys; "None" is how CloudWatch spells an absent unit.
_TRANSFORMATION_OPTIONAL = ("defaultValue", "unit", "dimensions")


@dataclass
class Plan:
    """What to write, in order: the filters, then the alarms on their metrics."""

    filters: list[dict[str, Any]] = field(default_factory=list)  # PutMetricFilter parameters
    alarms: list[dict[str, Any]] = field(default_factory=list)  # PutMetricAlarm parameters
    changes: list[str] = field(default_factory=list)
    before: dict[str, dict[str, Any]] = field(default_factory=lambda: {"metric_filters": {}, "alarms": {}})
    after: dict[str, dict[str, Any]] = field(default_factory=lambda: {"metric_filters": {}, "alarms": {}})


def full_name(params: dict[str, Any], metric: dict[str, Any]) -> str:
    """Name of the metric's filter and alarm."""
    return f"{params['name_prefix']}{metric['name']}"


def wanted_filter(params: dict[str, Any], metric: dict[str, Any]) -> dict[str, Any]:
    return {
        "logGroupName": params["log_group_name"],
        "filterName": full_name(params, metric),
        "filterPattern": metric["pattern"],
        "metricTransformations": [
            {
                "metricName": metric["name"],
                "metricNamespace": params["namespace"],
                "metricValue": METRIC_VALUE,
            }
        ],
    }


def wanted_alarm(params: dict[str, Any], metric: dict[str, Any]) -> dict[str, Any]:
    return {
        "AlarmName": full_name(params, metric),
        "AlarmDescription": f"{metric['description']}{params['description_suffix']}",
        "MetricName": metric["name"],
        "Namespace": params["namespace"],
        "Statistic": STATISTIC,
        "ComparisonOperator": COMPARISON,
        "Threshold": float(params["threshold"]),
        "Period": params["period"],
        "EvaluationPeriods": params["evaluation_periods"],
        "TreatMissingData": params["treat_missing_data"],
        "AlarmActions": list(params["alarm_actions"]),
        "OKActions": [],
        "InsufficientDataActions": [],
    }


def _transformation(value: dict[str, Any]) -> dict[str, Any]:
    """A metric transformation without its absent or empty optional keys."""
    shown = {k: value.get(k) for k in ("metricName", "metricNamespace", "metricValue")}
    for key in _TRANSFORMATION_OPTIONAL:
        if value.get(key) not in (None, {}, "None"):
            shown[key] = value[key]
    return shown


def filter_shown(current: dict[str, Any]) -> dict[str, Any]:
    """The fields a filter is compared on, as a diff shows them."""
    return {
        "filterPattern": current.get("filterPattern"),
        "metricTransformations": [_transformation(t) for t in current.get("metricTransformations") or []],
    }


def filter_differences(current: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """Fields of the filter that differ from ``wanted`` (every field for no filter)."""
    if current is None:
        return ["filterPattern", "metricTransformations"]
    shown = filter_shown(current)
    return [k for k, v in filter_shown(wanted).items() if shown[k] != v]


def _alarm_value(alarm: dict[str, Any], key: str) -> Any:
    value = alarm.get(key)
    if value is None or value == []:
        value = ALARM_FIELDS[key]
    if key in _UNORDERED:
        return sorted(value or [])
    if key == "Threshold" and value is not None:
        return float(value)
    return value


def alarm_shown(alarm: dict[str, Any]) -> dict[str, Any]:
    """The fields an alarm is compared on, as a diff shows them."""
    return {key: _alarm_value(alarm, key) for key in ALARM_FIELDS}


def alarm_differences(current: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """Fields of the alarm that differ from ``wanted`` (ActionsEnabled and the alarm's state are not
    part of its definition, as in amazon.aws.cloudwatch_metric_alarm)."""
    if current is None:
        return list(ALARM_FIELDS)
    shown, goal = alarm_shown(current), alarm_shown(wanted)
    return [key for key in ALARM_FIELDS if shown[key] != goal[key]]


# Per kind: its name in messages, its key in the diff, its Plan list, how it is compared and shown.
_KINDS: dict[str, tuple[str, str, Callable[..., list[str]], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "filter": ("metric filter", "metric_filters", filter_differences, filter_shown),
    "alarm": ("alarm", "alarms", alarm_differences, alarm_shown),
}


def _add(out: Plan, kind: str, name: str, current: dict[str, Any] | None, wanted: dict[str, Any]) -> None:
    """Put ``wanted`` in the plan when ``current`` (None: there is none) differs from it."""
    said, key, differences, shown = _KINDS[kind]
    fields = differences(current, wanted)
    if not fields:
        return
    (out.filters if kind == "filter" else out.alarms).append(wanted)
    out.changes.append(f"{said} {name}: " + ("create" if current is None else "update " + ", ".join(fields)))
    out.before[key][name] = shown(current) if current else {}
    out.after[key][name] = shown(wanted)


def plan(
    params: dict[str, Any],
    filters: dict[str, dict[str, Any]],
    alarms: dict[str, dict[str, Any]],
) -> Plan:
    """What to write so that each of ``params['metrics']`` has its filter and its alarm.

    ``filters``: the group's metric filters by name; ``alarms``: the existing alarms by name.
    Filters and alarms of other names are never touched.
    """
    out = Plan()
    for metric in params["metrics"]:
        name = full_name(params, metric)
        _add(out, "filter", name, filters.get(name), wanted_filter(params, metric))
        _add(out, "alarm", name, alarms.get(name), wanted_alarm(params, metric))
    return out


def input_problems(params: dict[str, Any]) -> list[str]:
    """Inputs the argument spec cannot express: unique, non-empty metric names and patterns."""
    problems = []
    names = [m["name"] for m in params["metrics"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(f"metrics: names given more than once: {', '.join(twice)}")
    empty = [m["name"] or "(no name)" for m in params["metrics"] if not m["name"] or not m["pattern"]]
    if empty:
        problems.append(f"metrics: a name and a pattern are required: {', '.join(empty)}")
    if params["period"] not in (10, 20, 30) and (params["period"] < 60 or params["period"] % 60):
        problems.append(f"period: {params['period']} is not 10, 20, 30 or a multiple of 60 seconds")
    if params["evaluation_periods"] < 1:
        problems.append(f"evaluation_periods: {params['evaluation_periods']} is not 1 or more")
    return problems
