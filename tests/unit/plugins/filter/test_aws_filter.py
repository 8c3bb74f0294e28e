"""The aws_partition / aws_dns_suffix filters: the templates' view of module_utils/arns.py."""

from __future__ import annotations

from ansible_collections.gdpr.aws_monitoring.plugins.filter.aws import FilterModule

FILTERS = FilterModule().filters()


def test_partition_of_the_caller_arn_or_a_region():
    assert FILTERS["aws_partition"]("arn:aws-cn:sts::210987654321:assumed-role/ops/me") == "aws-cn"
    assert FILTERS["aws_partition"]("arn:aws:iam::123456789012:user/moto") == "aws"
    assert FILTERS["aws_partition"]("us-gov-west-1") == "aws-us-gov"
    assert FILTERS["aws_partition"](None) == "aws"


def test_service_principal_suffix_follows_the_partition():
    suffix = FILTERS["aws_dns_suffix"]
    assert [suffix(p) for p in ("aws", "aws-cn", "aws-us-gov")] == [
        "amazonaws.com",
        "amazonaws.com.cn",
        "amazonaws.com",
    ]
