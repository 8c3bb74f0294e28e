# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS naming rules for the roles' templates and variables (the rules live in module_utils/arns.py).

No DOCUMENTATION string on purpose: a filter file holding several filters must not have one.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import arns


def aws_partition(value: Any) -> str:
    """The partition of an ARN (``arn:aws-cn:...`` -> ``aws-cn``) or of a region name."""
    return arns.partition_of(str(value or ""))


def aws_dns_suffix(partition: Any) -> str:
    """DNS suffix of a partition's service principals (``logs.<region>.<suffix>``)."""
    return arns.dns_suffix(str(partition or ""))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"aws_partition": aws_partition, "aws_dns_suffix": aws_dns_suffix}
