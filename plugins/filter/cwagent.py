# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters shared by the agent roles and log_groups (conventions live in module_utils/cwagent.py)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cwagent


def convention_filter(func: Any) -> Any:
    """Turn the shared conventions' errors into filter errors; every cwagent filter file uses it."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except cwagent.ConventionError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@convention_filter
def cwagent_log_groups(fragment: dict[str, Any]) -> list[dict[str, Any]]:
    """Name and class of the groups a rendered fragment writes to. Fragments hold no retention: a
    role's planned retention comes from its plan filter (cwagent_linux_log_groups, ...)."""
    return cwagent.log_groups_from_fragment(fragment)


def cwagent_stored_name(path: str) -> str:
    """The name the agent stores a fragment under (module_utils/cwagent.py, the one rule)."""
    return cwagent.stored_name(path)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "cwagent_log_groups": cwagent_log_groups,
            "cwagent_stored_name": cwagent_stored_name,
        }
