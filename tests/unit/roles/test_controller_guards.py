"""agent_iam and log_groups refuse what would take over or mislay something, before any write.

Controller-only runs of the real roles (ansible-playbook on localhost) against the embedded AWS:
  * agent_iam_role_name naming an application's role: refused, its trust policy and description
    untouched; with agent_iam_adopt_existing_role it is taken over (and tagged);
  * a well-formed policy ARN that does not exist: refused naming the variable, no role left behind;
  * filters that select no instance: a warning, or a failure with agent_iam_require_targets;
  * log_groups: a key ARN under another region's map key and an empty prefix are refused before
    anything exists; a key a failed run created without its alias is reused, not doubled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import boto3
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
EXTRA = [
    {"name": "/gdpr/guards/a", "region": "eu-west-1"},
    {"name": "/gdpr/guards/b", "region": "eu-central-1"},
]


def run_role(tmp_path: Path, role: str, extra_vars: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / f"{role}.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable},
                    "roles": [f"gdpr.aws_monitoring.{role}"],
                }
            ]
        )
    )
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            # JSON results: messages are printed whole, as on every ansible-core of the supported range
            # (the YAML format folds and re-quotes them differently on 2.17 and 2.19).
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "False",
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        }
    )
    return subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            json.dumps(extra_vars),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def iam():
    return boto3.client("iam", region_name="us-east-1")


def test_application_role_is_refused_untouched_then_adopted_on_purpose(aws, tmp_path):
    iam().create_role(
        RoleName="AppRole",
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
        Description="the application's role",
    )
    refused = run_role(tmp_path, "agent_iam", {"agent_iam_role_name": "AppRole", "agent_iam_attach": False})
    assert refused.returncode != 0
    assert "agent_iam_role_name: the role 'AppRole'" in refused.stdout
    assert "agent_iam_adopt_existing_role" in refused.stdout
    role = iam().get_role(RoleName="AppRole")["Role"]
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert role["Description"] == "the application's role"
    assert iam().list_attached_role_policies(RoleName="AppRole")["AttachedPolicies"] == []
    assert iam().list_instance_profiles()["InstanceProfiles"] == []

    adopted = run_role(
        tmp_path,
        "agent_iam",
        {"agent_iam_role_name": "AppRole", "agent_iam_attach": False, "agent_iam_adopt_existing_role": True},
    )
    assert adopted.returncode == 0, adopted.stdout[-2000:]
    role = iam().get_role(RoleName="AppRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com"
    assert {"Key": "gdpr-monitoring:managed-by", "Value": "gdpr.aws_monitoring"} in role["Tags"]


def test_foreign_instance_profile_is_refused_too(aws, tmp_path):
    iam().create_instance_profile(InstanceProfileName="CloudWatchAgentServerRole")
    refused = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False})
    assert refused.returncode != 0
    assert "the instance profile 'CloudWatchAgentServerRole'" in refused.stdout
    assert all(r["RoleName"] != "CloudWatchAgentServerRole" for r in iam().list_roles()["Roles"])


def test_own_role_is_recognised_on_the_next_run(aws, tmp_path):
    first = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False})
    assert first.returncode == 0, first.stdout[-2000:]
    second = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False})
    assert second.returncode == 0, second.stdout[-2000:]
    assert "changed=0" in second.stdout


def test_nonexistent_policy_arn_is_refused_before_the_role_exists(aws, tmp_path):
    missing = "arn:aws:iam::123456789012:policy/DoesNotExist"
    result = run_role(
        tmp_path, "agent_iam", {"agent_iam_attach": False, "agent_iam_extra_policy_arns": [missing]}
    )
    assert result.returncode != 0
    assert "agent_iam_extra_policy_arns: these managed policies do not exist" in result.stdout
    assert missing in result.stdout
    assert all(r["RoleName"] != "CloudWatchAgentServerRole" for r in iam().list_roles()["Roles"])


def test_partition_comes_from_the_caller_and_agent_iam_partition_overrides_it(aws, tmp_path):
    """agent_iam_partition used to be required for aws-cn/aws-us-gov; now the caller's ARN decides
    (moto's caller is arn:aws:...), and a value set by the user still wins (moto has no aws-cn
    managed policies, so the override shows as a refusal naming the variable)."""
    derived = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False})
    assert derived.returncode == 0, derived.stdout[-2000:]
    attached = iam().list_attached_role_policies(RoleName="CloudWatchAgentServerRole")["AttachedPolicies"]
    assert "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy" in {p["PolicyArn"] for p in attached}
    overridden = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False, "agent_iam_partition": "aws-cn"})
    assert overridden.returncode != 0
    assert "agent_iam_partition: these managed policies do not exist" in overridden.stdout
    assert "arn:aws-cn:iam::aws:policy/CloudWatchAgentServerPolicy" in overridden.stdout


def test_filters_matching_nothing_warn_or_fail_when_targets_are_required(aws, tmp_path):
    nothing = {
        "agent_iam_instance_filters": {"tag:gdpr_monitoring": "true"},
        "agent_iam_regions": ["eu-west-1"],
    }
    warned = run_role(tmp_path, "agent_iam", nothing)
    assert warned.returncode == 0, warned.stdout[-2000:]
    assert "WARNING agent_iam: no instance matched" in warned.stdout
    required = run_role(tmp_path, "agent_iam", {**nothing, "agent_iam_require_targets": True})
    assert required.returncode != 0
    assert "agent_iam_require_targets: no instance matched" in required.stdout


def test_key_of_another_region_and_empty_prefix_are_refused_before_anything_exists(aws, tmp_path):
    misplaced = run_role(
        tmp_path,
        "log_groups",
        {
            "log_groups_extra": EXTRA,
            "log_groups_data_protection": False,
            "log_groups_kms_key_arns": {"eu-west-1": "arn:aws:kms:eu-central-1:123456789012:key/1234abcd"},
        },
    )
    assert misplaced.returncode != 0
    assert "log_groups_kms_key_arns" in misplaced.stdout and "eu-west-1=eu-central-1" in misplaced.stdout
    empty = run_role(
        tmp_path,
        "log_groups",
        {
            "log_groups_extra": EXTRA,
            "log_groups_data_protection": False,
            "gdpr_monitoring_log_group_prefix": "",
        },
    )
    assert empty.returncode != 0
    assert "gdpr_monitoring_log_group_prefix must be" in empty.stdout
    for region in ("eu-west-1", "eu-central-1"):
        assert boto3.client("logs", region_name=region).describe_log_groups()["logGroups"] == []
        assert boto3.client("kms", region_name=region).list_keys()["Keys"] == []


def test_key_left_without_alias_by_a_failed_run_is_reused(aws, tmp_path):
    settings = {"log_groups_extra": EXTRA[:1], "log_groups_data_protection": False}
    first = run_role(tmp_path, "log_groups", settings)
    assert first.returncode == 0, first.stdout[-2000:]
    kms = boto3.client("kms", region_name="eu-west-1")
    (key,) = kms.list_keys()["Keys"]
    # What a run that failed between CreateKey and CreateAlias leaves behind.
    kms.delete_alias(AliasName="alias/gdpr-monitoring-logs")
    rerun = run_role(tmp_path, "log_groups", settings)
    assert rerun.returncode == 0, rerun.stdout[-2000:]
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key["KeyId"]]
    aliases = [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/gdpr-monitoring-logs"]
    assert [a["TargetKeyId"] for a in aliases] == [key["KeyId"]]
