#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_managed_policy_arns_info
short_description: Tell which IAM managed policy ARNs exist (read only)
version_added: 0.2.0
description:
  - Calls IAM GetPolicy for every ARN given and reports which exist and which do not.
  - Used before an IAM role is created, so that a well-formed but nonexistent policy ARN stops the run
    before anything is written (IAM itself only refuses it when the policy is attached, after the role
    exists).
  - amazon.aws has no module that reads a managed policy by ARN (C(amazon.aws.iam_policy_info) reads
    inline policies; C(amazon.aws.iam_managed_policy) finds policies by name in this account only).
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  arns:
    description: Managed policy ARNs (customer or AWS managed).
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Which of these policies exist
  gdpr.aws_monitoring.iam_managed_policy_arns_info:
    arns:
      - arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy
      - arn:aws:iam::123456789012:policy/AppPolicy
  register: policies

- name: Refuse a missing one
  ansible.builtin.assert:
    that: policies.missing | length == 0
    fail_msg: "not found: {{ policies.missing }}"
"""

RETURN = r"""
existing:
  description: ARNs that exist, in the order given.
  returned: always
  type: list
  elements: str
  sample: ["arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]
missing:
  description: ARNs that IAM does not know (NoSuchEntity), in the order given.
  returned: always
  type: list
  elements: str
  sample: ["arn:aws:iam::123456789012:policy/Typo"]
"""

from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import error_code, retry_decorator


def policy_exists(iam: Any, arn: str) -> bool:
    """True if GetPolicy finds ``arn``; False on NoSuchEntity; any other error propagates."""
    try:
        iam.get_policy(PolicyArn=arn, aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


def split_existing(iam: Any, arns: list[str]) -> dict[str, list[str]]:
    """Partition ``arns`` (duplicates asked once) into existing and missing, keeping their order."""
    found = {arn: policy_exists(iam, arn) for arn in dict.fromkeys(arns)}
    return {
        "existing": [arn for arn, ok in found.items() if ok],
        "missing": [arn for arn, ok in found.items() if not ok],
    }


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec=dict(arns=dict(type="list", elements="str", required=True)),
        supports_check_mode=True,
    )
    iam = module.client("iam", retry_decorator=retry_decorator())
    try:
        result = split_existing(iam, module.params["arns"])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not read the IAM managed policies")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
