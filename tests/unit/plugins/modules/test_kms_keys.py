"""gdpr.aws_monitoring.kms_keys, run in-process against the embedded AWS (moto, ``aws`` fixture).

moto implements everything the module calls (aliases, tags, rotation, key policies, descriptions).
The tests share the session's moto without a reset (a reset and the per-region KMS set-up that
follows cost seconds): each test works on an alias of its own and looks only at its keys.
Keys "made by the old code" are made by the old code's module, amazon.aws.kms_key, run in-process
with the arguments log_archive's kms_key entry point gave it before this module existed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from unittest import mock

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from log_groups_stubs import ModuleExit

from ansible_collections.amazon.aws.plugins.modules import kms_key as old_module
from ansible_collections.gdpr.aws_monitoring.plugins.modules import kms_keys as mod

REGIONS = ["eu-central-1", "eu-west-1"]
ACCOUNT = "123456789012"
TAG = "gdpr-monitoring:key-alias"
NAMES = {"alias": "caller_alias", "regions": "caller_regions", "service_statements": "caller_statements"}


def logs_statement(region: str) -> dict[str, Any]:
    return {
        "Sid": "CloudWatchLogsInThisRegion",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
    }


def run(args: dict[str, Any], check_mode: bool = False, module: Any = mod) -> ModuleExit:
    args = {"region": "eu-west-1", **args, "_ansible_check_mode": check_mode, "_ansible_diff": True}

    def _exit(self: Any, **kwargs: Any) -> None:
        raise ModuleExit(kwargs, failed=False)

    def _fail(self: Any, msg: str, **kwargs: Any) -> None:
        raise ModuleExit(dict(kwargs, msg=msg), failed=True)

    with (
        patch_module_args(args),
        mock.patch("ansible.module_utils.basic.AnsibleModule.exit_json", _exit),
        mock.patch("ansible.module_utils.basic.AnsibleModule.fail_json", _fail),
        pytest.raises(ModuleExit) as info,
    ):
        module.main()
    return info.value


def keys_args(alias: str, regions: Sequence[str] = tuple(REGIONS), **extra: Any) -> dict[str, Any]:
    regions = list(regions)
    return {
        "alias": alias,
        "regions": regions,
        "description": "CloudWatch Logs encryption for gdpr.aws_monitoring",
        "policy_id": "gdpr-aws-monitoring-cloudwatch-logs",
        "region_statements": {r: [logs_statement(r)] for r in regions},
        "tags": {"ManagedBy": "gdpr.aws_monitoring"},
        "variable_names": NAMES,
        **extra,
    }


def kms(region: str) -> Any:
    return boto3.client("kms", region_name=region)


def policy(region: str, key: str) -> dict[str, Any]:
    return json.loads(kms(region).get_key_policy(KeyId=key, PolicyName="default")["Policy"])


def tags(region: str, key: str) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in kms(region).list_resource_tags(KeyId=key)["Tags"]}


def keys_of(region: str, alias: str) -> list[str]:
    """The region's keys that carry ``alias``'s tag (whatever made them)."""
    return [
        k["KeyArn"] for k in kms(region).list_keys()["Keys"] if tags(region, k["KeyArn"]).get(TAG) == alias
    ]


def has_alias(region: str, alias: str) -> bool:
    return any(a["AliasName"] == alias for a in kms(region).list_aliases()["Aliases"])


def test_check_then_all_regions_in_one_call_then_nothing_to_change(moto_endpoint):
    alias = "alias/gdpr-test-converge"
    checked = run(keys_args(alias), check_mode=True)
    assert not checked.failed, checked.result
    assert checked.result["changed"] is True
    assert checked.result["key_arns"] == {}
    assert checked.result["diff"]["before"] == {r: None for r in REGIONS}
    assert checked.result["diff"]["after"]["eu-west-1"]["policy"]["Statement"][1] == logs_statement(
        "eu-west-1"
    )
    assert [keys_of(r, alias) for r in REGIONS] == [[], []]

    first = run(keys_args(alias))
    assert not first.failed, first.result
    assert first.result["changed"] is True
    assert first.result["region_counts"] == {"done": 2, "refused": 0, "failed": 0}
    for region in REGIONS:
        arn = first.result["key_arns"][region]
        assert arn.startswith(f"arn:aws:kms:{region}:{ACCOUNT}:key/")
        assert kms(region).describe_key(KeyId=alias)["KeyMetadata"]["Arn"] == arn
        assert kms(region).get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"] is True
        assert tags(region, arn) == {"ManagedBy": "gdpr.aws_monitoring", TAG: alias}
        admin, logs = policy(region, arn)["Statement"]
        assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
        assert logs == logs_statement(region)

    second = run(keys_args(alias))
    assert not second.failed, second.result
    assert second.result["changed"] is False
    assert second.result["key_arns"] == first.result["key_arns"]
    assert {r: k["action"] for r, k in second.result["keys"].items()} == {r: "keep" for r in REGIONS}


def old_code_key(region: str, alias: str) -> str:
    """A key as log_archive's kms_key entry point made it through amazon.aws.kms_key (before kms_keys)."""
    old_policy = {
        "Version": "2012-10-17",
        "Id": "gdpr-aws-monitoring-cloudwatch-logs",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            logs_statement(region),
        ],
    }
    made = run(
        {
            "alias": alias,
            "description": "CloudWatch Logs encryption for gdpr.aws_monitoring",
            "enable_key_rotation": True,
            "policy": json.dumps(old_policy, indent=4),
            "tags": {"ManagedBy": "gdpr.aws_monitoring", TAG: alias},
            "purge_tags": False,
            "state": "present",
            "region": region,
        },
        module=old_module,
    )
    assert not made.failed, made.result
    return made.result["key_arn"]


def test_keys_made_by_the_old_code_are_kept_unchanged(moto_endpoint):
    alias = "alias/gdpr-test-old-code"
    old = {"eu-west-1": old_code_key("eu-west-1", alias)}
    before = policy("eu-west-1", old["eu-west-1"])
    done = run(keys_args(alias))
    assert not done.failed, done.result
    assert {r: done.result["keys"][r]["action"] for r in REGIONS} == {
        "eu-central-1": "create",
        "eu-west-1": "keep",
    }
    assert done.result["key_arns"]["eu-west-1"] == old["eu-west-1"]
    assert policy("eu-west-1", old["eu-west-1"]) == before
    assert run(keys_args(alias)).result["changed"] is False


def test_someone_elses_key_and_a_disabled_key_are_refused_before_any_write(moto_endpoint):
    alias = "alias/gdpr-test-refusals"
    foreign = kms("eu-west-1").create_key(Description="the app team's")["KeyMetadata"]["Arn"]
    kms("eu-west-1").create_alias(AliasName=alias, TargetKeyId=foreign)
    foreign_policy = policy("eu-west-1", foreign)
    disabled = old_code_key("eu-central-1", alias)
    # moto answers DisableKey by ARN with HTTP 500 (measured): the key ID is what AWS accepts too.
    kms("eu-central-1").disable_key(KeyId=disabled.split("/")[-1])
    fresh_alias = "alias/gdpr-test-refusals-elsewhere"

    refused = run(keys_args(alias))
    assert refused.failed
    msg = refused.result["msg"]
    assert f"caller_alias: {alias} in eu-west-1 names the key {foreign}" in msg
    assert f"the key {disabled} ({alias}) in eu-central-1 is Disabled" in msg
    assert msg.endswith("Nothing was changed.")
    assert sorted(f["region"] for f in refused.result["failed_regions"]) == ["eu-central-1", "eu-west-1"]
    assert policy("eu-west-1", foreign) == foreign_policy
    assert tags("eu-west-1", foreign) == {}
    assert kms("eu-central-1").describe_key(KeyId=disabled)["KeyMetadata"]["KeyState"] == "Disabled"

    # One refused region stops the others too: nothing is created where the alias is free.
    kms("eu-central-1").create_alias(
        AliasName=fresh_alias, TargetKeyId=kms("eu-central-1").create_key()["KeyMetadata"]["KeyId"]
    )
    partly = run(keys_args(fresh_alias))
    assert partly.failed and "eu-central-1 names the key" in partly.result["msg"]
    assert not has_alias("eu-west-1", fresh_alias) and keys_of("eu-west-1", fresh_alias) == []


def test_a_key_a_failed_run_left_without_alias_is_found_by_its_tag(moto_endpoint):
    alias = "alias/gdpr-test-orphan"
    orphan = kms("eu-west-1").create_key(Tags=[{"TagKey": TAG, "TagValue": alias}])["KeyMetadata"]["Arn"]
    done = run(keys_args(alias, ["eu-west-1"]))
    assert not done.failed, done.result
    assert done.result["keys"]["eu-west-1"]["arn"] == orphan
    assert done.result["keys"]["eu-west-1"]["changes"] == [
        "alias",
        "policy",
        "rotation",
        "description",
        "tags",
    ]
    assert keys_of("eu-west-1", alias) == [orphan]
    assert kms("eu-west-1").describe_key(KeyId=alias)["KeyMetadata"]["Arn"] == orphan


def test_a_statement_the_user_added_survives_a_change_of_ours(moto_endpoint):
    alias = "alias/gdpr-test-user-statement"
    arn = run(keys_args(alias, ["eu-west-1"])).result["key_arns"]["eu-west-1"]
    reader = {
        "Sid": "AuditorsDecrypt",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    extended = policy("eu-west-1", arn)
    extended["Statement"].append(reader)
    kms("eu-west-1").put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(extended))
    assert run(keys_args(alias, ["eu-west-1"])).result["changed"] is False

    narrower = dict(logs_statement("eu-west-1"), Action=["kms:Decrypt*"])
    done = run(keys_args(alias, ["eu-west-1"], region_statements={"eu-west-1": [narrower]}))
    assert done.result["keys"]["eu-west-1"]["changes"] == ["policy"]
    sids = {s["Sid"]: s for s in policy("eu-west-1", arn)["Statement"]}
    assert sids["AuditorsDecrypt"] == reader
    assert sids["CloudWatchLogsInThisRegion"]["Action"] == ["kms:Decrypt*"]


def test_bad_input_fails_naming_the_callers_variables(moto_endpoint):
    alias = "alias/gdpr-test-bad-input"
    no_sid = run(keys_args(alias, service_statements=[{"Effect": "Allow"}]))
    assert no_sid.failed and "caller_statements[0] has no Sid" in no_sid.result["msg"]
    aws_alias = run(keys_args("alias/aws/s3"))
    assert aws_alias.failed and aws_alias.result["msg"].startswith("KMS keys: caller_alias: alias/aws/s3")
    typo = run(keys_args(alias, ["eu-wset-1"], region_statements={}))
    assert typo.failed and "eu-wset-1 in caller_regions" in typo.result["msg"]
    assert [keys_of(r, alias) for r in REGIONS] == [[], []]
