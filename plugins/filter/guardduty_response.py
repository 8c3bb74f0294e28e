# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the guardduty_response role: its input checks, with the rules its modules apply.

The rules live in module_utils/guardduty_response.py (one home); these wrappers let the role refuse
bad input before any write, naming the variable.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import guardduty_response as gr


def guardduty_severity_threshold(value: Any, variable: str = "guardduty_alert_severity") -> float:
    """A severity number (1-10) or band name -> the numeric threshold; an error naming ``variable``."""
    try:
        return gr.severity_threshold(value, variable)
    except gr.InvalidInput as exc:
        raise AnsibleFilterError(f"{exc}. Nothing was changed.") from None


def guardduty_severity_problems(value: Any, variable: str = "guardduty_alert_severity") -> list[str]:
    """[] when ``value`` is a severity, else the reason, naming ``variable``."""
    try:
        gr.severity_threshold(value, variable)
    except gr.InvalidInput as exc:
        return [str(exc)]
    return []


def guardduty_subscription_problems(value: Any, variable: str = "guardduty_alert_subscriptions") -> list[str]:
    """Every malformed subscription, named ``variable[i]`` (empty: all fine)."""
    return gr.subscription_problems(value, variable)


def guardduty_log_group_prefix_problems(
    value: Any, variable: str = "guardduty_alert_tamper_log_group_prefixes"
) -> list[str]:
    """Every prefix that is not the start of a log group name, named ``variable[i]`` (empty: all fine)."""
    return gr.log_group_prefix_problems(value, variable)


def guardduty_principals(enabled: list[dict[str, Any]], covered: list[str] | None = None) -> list[str]:
    """GuardDuty's service principals for bucket and key policies, from aws_region_info's ``regions``
    (``region_name``, ``opt_in_status``) and the covered regions (empty: all of them)."""
    statuses = {r["region_name"]: r.get("opt_in_status", "") for r in enabled}
    return gr.guardduty_principals(list(covered or statuses), statuses)


def aws_sdk_region(value: str | None, profile: str | None = None) -> str:
    """``value`` if set, else the region the AWS SDK would use (AWS_REGION, AWS_DEFAULT_REGION, the
    profile's ``region``), else ''. Read from the SDK's own configuration chain, no API call."""
    if value:
        return str(value)
    try:
        import botocore.session  # pylint: disable=import-outside-toplevel
    except ImportError:
        return ""
    session = botocore.session.Session(profile=profile or None)
    try:
        return session.get_config_variable("region") or ""
    except Exception:  # an unknown profile: the modules report it with their own message
        return ""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "guardduty_severity_threshold": guardduty_severity_threshold,
            "guardduty_severity_problems": guardduty_severity_problems,
            "guardduty_subscription_problems": guardduty_subscription_problems,
            "guardduty_log_group_prefix_problems": guardduty_log_group_prefix_problems,
            "guardduty_principals": guardduty_principals,
            "aws_sdk_region": aws_sdk_region,
        }
