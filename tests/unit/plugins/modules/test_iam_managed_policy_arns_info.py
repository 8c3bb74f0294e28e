"""Unit tests of gdpr.aws_monitoring.iam_managed_policy_arns_info, against the embedded AWS (moto).

moto loads the AWS managed policies (``MOTO_IAM_LOAD_MANAGED_POLICIES``, set by the harness), so an
AWS managed ARN, a customer managed one and a well-formed ARN naming nothing are all real lookups.
An error other than NoSuchEntity is tested with botocore's Stubber at the API boundary.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import retry_decorator
from ansible_collections.gdpr.aws_monitoring.plugins.modules import iam_managed_policy_arns_info as mod

AGENT_POLICY = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
TYPO = "arn:aws:iam::123456789012:policy/NoSuchPolicy"


def test_existing_and_missing_arns_are_told_apart_in_order_once_each(moto_endpoint):
    iam = boto3.client("iam", region_name="us-east-1")
    own = iam.create_policy(
        PolicyName="AppPolicy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    result = mod.split_existing(
        RetryingBotoClientWrapper(iam, retry_decorator()), [TYPO, AGENT_POLICY, own, TYPO]
    )
    assert result == {"existing": [AGENT_POLICY, own], "missing": [TYPO]}


def test_errors_other_than_no_such_entity_are_not_taken_for_missing():
    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(iam) as stub:
        stub.add_client_error("get_policy", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(ClientError):
            mod.policy_exists(RetryingBotoClientWrapper(iam, retry_decorator()), AGENT_POLICY)
