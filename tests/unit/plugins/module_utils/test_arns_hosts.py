"""The partition/account rule (module_utils/arns.py) and a host's region (module_utils/hosts.py):
one home each, used by the modules, the filters and the roles' templates."""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import arns, hosts


@pytest.mark.parametrize(
    ("arn", "partition", "account"),
    [
        ("arn:aws:sts::123456789012:assumed-role/Admin/me", "aws", "123456789012"),
        ("arn:aws-cn:iam::210987654321:user/ops", "aws-cn", "210987654321"),
        ("arn:aws-us-gov:iam::111122223333:root", "aws-us-gov", "111122223333"),
        ("arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy", "aws", "aws"),
        ("not-an-arn", "aws", ""),
        ("", "aws", ""),
    ],
)
def test_partition_and_account_of_an_arn(arn, partition, account):
    assert arns.partition_from_arn(arn) == partition
    assert arns.account_from_arn(arn) == account


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("eu-west-1", "aws"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-east-1", "aws"),
        ("", "aws"),
    ],
)
def test_partition_of_a_region(region, partition):
    assert arns.partition_from_region(region) == partition
    assert arns.partition_of(region) == partition


def test_partition_of_takes_an_arn_or_a_region():
    assert arns.partition_of("arn:aws-cn:iam::210987654321:root") == "aws-cn"
    assert arns.partition_of("us-gov-east-1") == "aws-us-gov"


def test_service_principal_suffix_per_partition():
    assert arns.dns_suffix("aws") == "amazonaws.com"
    assert arns.dns_suffix("aws-us-gov") == "amazonaws.com"
    assert arns.dns_suffix("aws-cn") == "amazonaws.com.cn"


@pytest.mark.parametrize(
    ("host_vars", "region"),
    [
        ({"placement": {"region": "eu-central-1"}}, "eu-central-1"),
        ({"placement": {"availability_zone": "eu-west-1a"}}, "us-east-1"),
        ({"placement": "rack 4"}, "us-east-1"),  # another inventory's meaning of the name
        ({"placement": None}, "us-east-1"),
        ({}, "us-east-1"),
    ],
)
def test_host_region_from_placement_else_the_default(host_vars, region):
    assert hosts.host_region(host_vars, "us-east-1") == region


def test_host_region_without_a_default_is_none():
    assert hosts.host_region({}) is None
