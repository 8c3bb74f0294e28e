# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``) and account of an ARN or a region.

One home for the rule: the modules, the filters (``gdpr.aws_monitoring.aws_partition``) and the
roles' templates all ask here, so a policy ARN, a detector ARN and a KMS key policy built for the same
account always agree on the partition.
"""

from __future__ import annotations

DEFAULT_PARTITION = "aws"
# Region name prefixes of the partitions other than ``aws`` (botocore's endpoints.json).
REGION_PREFIXES: tuple[tuple[str, str], ...] = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"))
# Service principals' DNS suffix per partition (``logs.<region>.amazonaws.com`` and the like).
DNS_SUFFIXES: dict[str, str] = {"aws-cn": "amazonaws.com.cn"}
DEFAULT_DNS_SUFFIX = "amazonaws.com"


def partition_from_arn(arn: str) -> str:
    """``arn:aws-cn:iam::123456789012:root`` -> ``aws-cn``; anything not shaped like an ARN -> ``aws``."""
    parts = str(arn or "").split(":")
    return parts[1] if len(parts) > 1 and parts[0] == "arn" and parts[1] else DEFAULT_PARTITION


def account_from_arn(arn: str) -> str:
    """The account field of an ARN (``""`` when it has none, as AWS managed policies)."""
    parts = str(arn or "").split(":")
    return parts[4] if len(parts) > 4 else ""


def partition_from_region(region: str) -> str:
    """``cn-north-1`` -> ``aws-cn``, ``us-gov-west-1`` -> ``aws-us-gov``, any other region -> ``aws``."""
    region = str(region or "")
    return next(
        (partition for prefix, partition in REGION_PREFIXES if region.startswith(prefix)), DEFAULT_PARTITION
    )


def partition_of(value: str) -> str:
    """The partition of an ARN (``arn:...``) or of a region name."""
    value = str(value or "")
    return partition_from_arn(value) if value.startswith("arn:") else partition_from_region(value)


def dns_suffix(partition: str) -> str:
    """DNS suffix of the partition's service principals: ``amazonaws.com`` or ``amazonaws.com.cn``."""
    return DNS_SUFFIXES.get(partition, DEFAULT_DNS_SUFFIX)
