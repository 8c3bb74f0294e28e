"""agent_iam and log_groups refuse what would take over or mislay something, before any write.

Controller-only runs of the real roles (ansible-playbook on localhost) against the embedded AWS:
  * agent_iam_role_name naming an application's role: refused, its trust policy and description
    untouched; with agent_iam_adopt_existing_role it is taken over (and tagged);
  * a well-formed policy ARN that does not exist: refused naming the variable, no role left behind;
  * filters that select no instance: a warning, or a failure with agent_iam_require_targets;
  * log_groups: a key ARN under another region's map key and an empty prefix are refused before
    anything exists; a key a failed run created without its alias is reused, not doubled.

An ansible-playbook run costs seconds of CPU, most of it before the first task: the refusals of a
role run as cases of one playbook (``run_cases``: the role included once per case inside
block/rescue, each case's outcome and message recorded apart), and the end state is read after
all of them, so every refusal is still shown to have written nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import yaml
from controller_play import ansible_playbook

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


def _ansible_playbook(playbook: Path, extra_vars: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    # JSON results (ansible_env): messages are printed whole, as on every ansible-core of the
    # supported range (the YAML format folds and re-quotes them differently on 2.17 and 2.19).
    return ansible_playbook(
        playbook, "-i", "localhost,", "-c", "local", "-e", json.dumps(extra_vars), timeout=300
    )


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
    return _ansible_playbook(playbook, extra_vars)


def _case_tasks(
    role: str, name: str, case_vars: dict[str, Any], tasks_from: str | None = None
) -> dict[str, Any]:
    """The role with ``case_vars`` in a block whose rescue records the failure instead of ending the
    run; either way the case's outcome (and the role's site-summary fact) lands in guards_results."""
    record = "{{ guards_results | default({}) | combine({%r: %s}) }}"
    succeeded = (
        "{'failed': false, 'summary': agent_iam_attachments}" if role == "agent_iam" else "{'failed': false}"
    )
    return {
        "name": f"case {name}",
        "block": [
            {
                "name": f"{role} for case {name}",
                "ansible.builtin.include_role": {
                    "name": f"gdpr.aws_monitoring.{role}",
                    **({"tasks_from": tasks_from} if tasks_from else {}),
                },
                "vars": case_vars,
            },
            {
                "name": f"case {name} succeeded",
                "ansible.builtin.set_fact": {"guards_results": record % (name, succeeded)},
            },
        ],
        "rescue": [
            {
                "name": f"case {name} failed",
                "ansible.builtin.set_fact": {
                    "guards_results": record % (name, "{'failed': true, 'msg': ansible_failed_result.msg}")
                },
            }
        ],
    }


def run_cases(
    tmp_path: Path, role: str, cases: dict[str, dict[str, Any]], tasks_from: str | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    """Run ``role`` once per case (in order) in ONE ansible-playbook run; return the run and, per
    case, ``{"failed": bool, "msg": the failure message}`` (``summary``: agent_iam's result fact)."""
    results_path = tmp_path / f"{role}-cases.json"
    tasks = [_case_tasks(role, name, case_vars, tasks_from) for name, case_vars in cases.items()]
    tasks.append(
        {
            "name": "Write every case's outcome",
            "ansible.builtin.copy": {"content": "{{ guards_results | to_json }}", "dest": str(results_path)},
        }
    )
    playbook = tmp_path / f"{role}-cases.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable},
                    "tasks": tasks,
                }
            ]
        )
    )
    result = _ansible_playbook(playbook, {})
    assert result.returncode == 0, result.stdout[-3000:]
    results = json.loads(results_path.read_text())
    assert set(results) == set(cases), results
    return result, results


def iam():
    return boto3.client("iam", region_name="us-east-1")


def role_names() -> set[str]:
    return {r["RoleName"] for r in iam().list_roles()["Roles"]}


def test_agent_iam_refusals_write_nothing_then_adoption_on_purpose_works(aws, tmp_path):
    """Every agent_iam refusal in one run (each case its own role name, so no case's refusal stands
    in for another's); the IAM state is read after all of them."""
    iam().create_role(
        RoleName="AppRole",
        AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
        Description="the application's role",
    )
    iam().create_instance_profile(InstanceProfileName="CloudWatchAgentServerRole")
    missing = "arn:aws:iam::123456789012:policy/DoesNotExist"
    nothing = {
        "agent_iam_instance_filters": {"tag:gdpr_monitoring": "true"},
        "agent_iam_regions": ["eu-west-1"],
    }
    _results, refused = run_cases(
        tmp_path,
        "agent_iam",
        {
            "application_role": {"agent_iam_role_name": "AppRole", "agent_iam_attach": False},
            "foreign_profile": {"agent_iam_attach": False},
            "missing_policy": {
                "agent_iam_role_name": "GuardsMissingPolicy",
                "agent_iam_attach": False,
                "agent_iam_extra_policy_arns": [missing],
            },
            # agent_iam_partition used to be required for aws-cn/aws-us-gov; now the caller's ARN
            # decides (see test_own_role_...), and a value set by the user still wins (moto has no
            # aws-cn managed policies, so the override shows as a refusal naming the variable).
            "partition_override": {
                "agent_iam_role_name": "GuardsPartition",
                "agent_iam_attach": False,
                "agent_iam_partition": "aws-cn",
            },
            "targets_required": {
                **nothing,
                "agent_iam_role_name": "GuardsTargets",
                "agent_iam_require_targets": True,
            },
        },
    )
    assert all(case["failed"] for case in refused.values()), refused
    assert "agent_iam_role_name: the role 'AppRole'" in refused["application_role"]["msg"]
    assert "agent_iam_adopt_existing_role" in refused["application_role"]["msg"]
    assert "the instance profile 'CloudWatchAgentServerRole'" in refused["foreign_profile"]["msg"]
    assert (
        "agent_iam_extra_policy_arns: these managed policies do not exist" in refused["missing_policy"]["msg"]
    )
    assert missing in refused["missing_policy"]["msg"]
    assert "agent_iam_partition: these managed policies do not exist" in refused["partition_override"]["msg"]
    assert "arn:aws-cn:iam::aws:policy/CloudWatchAgentServerPolicy" in refused["partition_override"]["msg"]
    assert "agent_iam_require_targets: no instance matched" in refused["targets_required"]["msg"]

    # Nothing any refused case named was written.
    role = iam().get_role(RoleName="AppRole")["Role"]
    assert role["AssumeRolePolicyDocument"] == LAMBDA_TRUST
    assert role["Description"] == "the application's role"
    assert iam().list_attached_role_policies(RoleName="AppRole")["AttachedPolicies"] == []
    assert role_names() == {"AppRole"}
    profiles = iam().list_instance_profiles()["InstanceProfiles"]
    assert [(p["InstanceProfileName"], p["Roles"]) for p in profiles] == [("CloudWatchAgentServerRole", [])]

    # Taken over on purpose; filters matching nothing only warn unless targets are required.
    run, done = run_cases(
        tmp_path,
        "agent_iam",
        {
            "adopt": {
                "agent_iam_role_name": "AppRole",
                "agent_iam_attach": False,
                "agent_iam_adopt_existing_role": True,
            },
            "warned": {**nothing, "agent_iam_role_name": "GuardsWarned"},
        },
    )
    assert not any(case["failed"] for case in done.values()), done
    role = iam().get_role(RoleName="AppRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com"
    assert {"Key": "gdpr-monitoring:managed-by", "Value": "gdpr.aws_monitoring"} in role["Tags"]
    assert "WARNING agent_iam: no instance matched" in run.stdout
    assert done["warned"]["summary"]["warnings"] == [
        "no instance matched agent_iam_instances / agent_iam_instance_filters"
    ]
    assert done["adopt"]["summary"]["warnings"] == []


def test_own_role_gets_the_callers_partition_and_is_recognised_on_the_next_run(aws, tmp_path):
    """The managed policies' partition comes from the caller (moto's is arn:aws:...); the role the
    first run created is the collection's own on the second, which changes nothing."""
    first = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False})
    assert first.returncode == 0, first.stdout[-2000:]
    attached = iam().list_attached_role_policies(RoleName="CloudWatchAgentServerRole")["AttachedPolicies"]
    assert "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy" in {p["PolicyArn"] for p in attached}
    second = run_role(tmp_path, "agent_iam", {"agent_iam_attach": False})
    assert second.returncode == 0, second.stdout[-2000:]
    assert "changed=0" in second.stdout


def test_key_of_another_region_and_empty_prefix_are_refused_before_anything_exists(aws, tmp_path):
    _results, refused = run_cases(
        tmp_path,
        "log_groups",
        {
            "misplaced_key": {
                "log_groups_extra": EXTRA,
                "log_groups_data_protection": False,
                "log_groups_kms_key_arns": {
                    "eu-west-1": "arn:aws:kms:eu-central-1:123456789012:key/1234abcd"
                },
            },
            "empty_prefix": {
                "log_groups_extra": EXTRA,
                "log_groups_data_protection": False,
                "gdpr_monitoring_log_group_prefix": "",
            },
        },
    )
    assert all(case["failed"] for case in refused.values()), refused
    assert "log_groups_kms_key_arns" in refused["misplaced_key"]["msg"]
    assert "eu-west-1=eu-central-1" in refused["misplaced_key"]["msg"]
    assert "gdpr_monitoring_log_group_prefix must be" in refused["empty_prefix"]["msg"]
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
