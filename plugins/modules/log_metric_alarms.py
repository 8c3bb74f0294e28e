#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: log_metric_alarms
short_description: Metric filters on one CloudWatch Logs group, each with an alarm, in one call
version_added: 0.4.0
description:
  - For each of O(metrics), a metric filter on O(log_group_name) that counts the matching log events
    (value 1 each) into a metric of O(namespace), and an alarm on that metric's sum (greater than or
    equal to O(threshold) over O(period) seconds) notifying O(alarm_actions). The filter and the alarm
    are named O(name_prefix) followed by the metric's name.
  - Reads every filter of the group and every alarm of those names first (two or three calls), then
    writes only the filters and alarms that differ, each replaced whole as PutMetricFilter and
    PutMetricAlarm do. Filters and alarms of other names are never read for changes nor touched.
  - Compares exactly as C(amazon.aws.cloudwatchlogs_log_group_metric_filter) and
    C(amazon.aws.cloudwatch_metric_alarm) do, so what they made comes out unchanged.
  - Why a module of its own - those modules take one filter or one alarm per task; the cloudtrail role's
    14 CIS controls cost 28 tasks (about 35 s a run, most of it module start-up), this one call about 2 s.
  - Supports check mode and diff mode (the filters and alarms that change, before and after). In check
    mode a log group that does not exist yet (made by the same run) has no filters - all are planned.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  log_group_name:
    description: The log group the filters read.
    type: str
    required: true
  namespace:
    description: CloudWatch namespace of the metrics.
    type: str
    required: true
  metrics:
    description: One filter and one alarm each.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Metric name; with O(name_prefix), the name of the filter and of the alarm.
        type: str
        required: true
      pattern:
        description: The filter pattern (CloudWatch Logs filter and pattern syntax).
        type: str
        required: true
      description:
        description: The alarm's description (followed by O(description_suffix)).
        type: str
        default: ""
  name_prefix:
    description: Prefix of every filter and alarm name.
    type: str
    default: ""
  description_suffix:
    description: Appended to every alarm description.
    type: str
    default: ""
  alarm_actions:
    description: ARNs the alarms notify when they go into ALARM (an SNS topic).
    type: list
    elements: str
    default: []
  threshold:
    description: Alarm when the count of a period is at least this.
    type: float
    default: 1.0
  period:
    description: Seconds per period (10, 20, 30 or a multiple of 60).
    type: int
    default: 300
  evaluation_periods:
    description: Periods the alarm looks at.
    type: int
    default: 1
  treat_missing_data:
    description: What a period without data means to the alarm.
    type: str
    choices: [breaching, notBreaching, ignore, missing]
    default: notBreaching
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: CIS metric filters and alarms on the trail's log group
  gdpr.aws_monitoring.log_metric_alarms:
    region: eu-west-1
    log_group_name: /gdpr/cloudtrail
    namespace: CISBenchmark
    name_prefix: cis-
    description_suffix: " - gdpr.aws_monitoring"
    alarm_actions: [arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings]
    metrics:
      - name: root-account-usage
        description: Use of the root account (CIS 4.3)
        pattern: '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS }'
"""

RETURN = r"""
filters:
  description: Names of the metric filters, one per metric.
  returned: always
  type: list
  elements: str
  sample: ["cis-root-account-usage"]
alarms:
  description: Names of the alarms, one per metric.
  returned: always
  type: list
  elements: str
  sample: ["cis-root-account-usage"]
changes:
  description: What was (or, in check mode, would be) written, one line per filter or alarm.
  returned: always
  type: list
  elements: str
  sample: ["metric filter cis-root-account-usage: create", "alarm cis-vpc-changes: update AlarmActions"]
"""

from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import log_metric_alarms as plan
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import aws_error_code
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator

# DescribeAlarms takes at most 100 names a call.
ALARM_NAMES_PER_CALL = 100


def read_filters(logs: Any, group: str, prefix: str, check_mode: bool) -> dict[str, dict[str, Any]]:
    """The group's metric filters by name. A group the same run makes does not exist under --check."""
    query = {"logGroupName": group, **({"filterNamePrefix": prefix} if prefix else {})}
    try:
        pages = paginated_query_with_retries(logs, "describe_metric_filters", retry_decorator(), **query)
    except botocore.exceptions.ClientError as exc:
        if check_mode and aws_error_code(exc) == "ResourceNotFoundException":
            return {}
        raise
    return {f["filterName"]: f for f in pages.get("metricFilters") or []}


def read_alarms(cloudwatch: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), ALARM_NAMES_PER_CALL):
        chunk = names[start : start + ALARM_NAMES_PER_CALL]
        answer = cloudwatch.describe_alarms(AlarmNames=chunk, AlarmTypes=["MetricAlarm"], aws_retry=True)
        found.update({a["AlarmName"]: a for a in answer.get("MetricAlarms") or []})
    return found


def write(logs: Any, cloudwatch: Any, todo: plan.Plan) -> None:
    """Filters first: an alarm watches the metric its filter feeds."""
    for call in todo.filters:
        logs.put_metric_filter(aws_retry=True, **call)
    for call in todo.alarms:
        cloudwatch.put_metric_alarm(aws_retry=True, **call)


def run(module: AnsibleAWSModule) -> dict[str, Any]:
    params = module.params
    logs = module.client("logs", retry_decorator=retry_decorator())
    cloudwatch = module.client("cloudwatch", retry_decorator=retry_decorator())
    names = [plan.full_name(params, m) for m in params["metrics"]]
    filters = read_filters(logs, params["log_group_name"], params["name_prefix"], module.check_mode)
    todo = plan.plan(params, filters, read_alarms(cloudwatch, names))
    if todo.changes and not module.check_mode:
        write(logs, cloudwatch, todo)
    result: dict[str, Any] = {
        "changed": bool(todo.changes),
        "filters": names,
        "alarms": names,
        "changes": todo.changes,
    }
    if module._diff:
        result["diff"] = {"before": todo.before, "after": todo.after}
    return result


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(
            log_group_name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            metrics=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str", required=True),
                    pattern=dict(type="str", required=True),
                    description=dict(type="str", default=""),
                ),
            ),
            name_prefix=dict(type="str", default=""),
            description_suffix=dict(type="str", default=""),
            alarm_actions=dict(type="list", elements="str", default=[]),
            threshold=dict(type="float", default=1.0),
            period=dict(type="int", default=300),
            evaluation_periods=dict(type="int", default=1),
            treat_missing_data=dict(
                type="str", default="notBreaching", choices=["breaching", "notBreaching", "ignore", "missing"]
            ),
        ),
        supports_check_mode=True,
    )
    if not module.region:
        module.fail_json(msg="region is required")
    problems = plan.input_problems(module.params)
    if problems:
        module.fail_json(msg="; ".join(problems) + ". Nothing was changed.")
    where = f"log group {module.params['log_group_name']} in {module.region}"
    try:
        result = run(module)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(
            exc, msg=f"Metric filters and alarms of the {where}: could not read or write them"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
