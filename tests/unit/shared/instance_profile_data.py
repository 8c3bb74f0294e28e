"""Instance profile test data shared by the planning tests (module_utils/instance_profiles.py) and the
module's whole-run tests (modules/instance_profile_attachment.py): one copy of the ARNs and of an
EC2 association's shape. ``tests/unit/shared`` is on pytest's ``pythonpath`` (pytest.ini)."""

from __future__ import annotations

from typing import Any

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.instance_profiles import Profile

ACCOUNT = "123456789012"  # moto's account, so the module tests' ARNs are the embedded AWS's
AGENT = f"arn:aws:iam::{ACCOUNT}:instance-profile/CloudWatchAgentServerRole"
LEGACY = f"arn:aws:iam::{ACCOUNT}:instance-profile/apps/LegacyAppProfile"
AGENT_POLICY = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
SSM_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
S3_POLICY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
TARGET = Profile(name="CloudWatchAgentServerRole", arn=AGENT, roles=["CloudWatchAgentServerRole"])


def association(
    instance_id: str = "i-1", arn: str = LEGACY, state: str = "associated", aid: str = "iip-assoc-1"
) -> dict[str, Any]:
    """An entry of ec2:DescribeIamInstanceProfileAssociations."""
    return {
        "AssociationId": aid,
        "InstanceId": instance_id,
        "IamInstanceProfile": {"Arn": arn, "Id": "AIPAEXAMPLE"},
        "State": state,
    }
