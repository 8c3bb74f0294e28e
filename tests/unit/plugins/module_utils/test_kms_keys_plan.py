"""Pure planning of the collection's KMS keys (module_utils/kms_keys.py): policy, merge, refusals."""

from __future__ import annotations

import copy
import datetime

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import kms_keys as plan

ALIAS = "alias/gdpr-monitoring-logs"
REGION = "eu-west-1"
ARN = "arn:aws:kms:eu-west-1:111122223333:key/1111"
LOGS = {
    "Sid": "CloudWatchLogsInThisRegion",
    "Effect": "Allow",
    "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
    "Action": ["kms:Encrypt*", "kms:Decrypt*"],
    "Resource": "*",
}
READER = {
    "Sid": "AuditorsDecrypt",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:role/a"},
}


def desired(statements=(LOGS,)) -> plan.Desired:
    return plan.Desired(
        alias=ALIAS,
        description="CloudWatch Logs encryption",
        policy=plan.key_policy("aws", "111122223333", "gdpr-aws-monitoring", list(statements)),
        tags={"ManagedBy": "gdpr.aws_monitoring", plan.KEY_ALIAS_TAG: ALIAS},
    )


def ours(**overrides) -> plan.KeyRead:
    want = desired()
    read = plan.KeyRead(
        arn=ARN,
        state="Enabled",
        description=want.description,
        rotation=True,
        tags=dict(want.tags),
        policy=copy.deepcopy(want.policy),
    )
    for key, value in overrides.items():
        setattr(read, key, value)
    return read


def test_key_policy_admin_statement_names_the_partition_and_account_first():
    policy = plan.key_policy("aws-cn", "111122223333", "pid", [LOGS])
    assert policy["Id"] == "pid"
    admin, logs = policy["Statement"]
    assert admin["Principal"] == {"AWS": "arn:aws-cn:iam::111122223333:root"}
    assert admin["Sid"] == plan.ADMIN_SID and admin["Action"] == "kms:*"
    assert logs == LOGS


def test_no_key_is_created_with_the_policy_and_tags():
    key_plan = plan.plan_key(None, desired(), REGION, "alias_var")
    assert (key_plan.action, key_plan.changes) == ("create", ["create"])
    assert key_plan.policy == desired().policy
    assert key_plan.tags[plan.KEY_ALIAS_TAG] == ALIAS


def test_a_converged_key_is_kept_as_it_is():
    key_plan = plan.plan_key(ours(), desired(), REGION, "alias_var")
    assert (key_plan.action, key_plan.changes, key_plan.arn) == ("keep", [], ARN)


def test_a_statement_someone_added_is_kept_and_not_rewritten():
    read = ours()
    read.policy["Statement"].append(READER)
    key_plan = plan.plan_key(read, desired(), REGION, "alias_var")
    assert key_plan.action == "keep"


def test_a_changed_statement_of_ours_is_rewritten_and_the_added_one_stays():
    read = ours()
    read.policy["Statement"].append(READER)
    changed = dict(LOGS, Action=["kms:Decrypt*"])
    key_plan = plan.plan_key(read, desired([changed]), REGION, "alias_var")
    assert key_plan.changes == ["policy"]
    sids = {s["Sid"]: s for s in key_plan.policy["Statement"]}
    assert sids["CloudWatchLogsInThisRegion"]["Action"] == ["kms:Decrypt*"]
    assert sids["AuditorsDecrypt"] == READER


def test_rotation_description_and_missing_tags_are_fixed_tags_never_removed():
    read = ours(rotation=False, description="old", tags={plan.KEY_ALIAS_TAG: ALIAS, "team": "sec"})
    key_plan = plan.plan_key(read, desired(), REGION, "alias_var")
    assert key_plan.changes == ["rotation", "description", "tags"]
    assert key_plan.tags == {"ManagedBy": "gdpr.aws_monitoring"}
    after = plan.planned_view(read, key_plan, desired(), ARN)
    assert after["tags"] == {"ManagedBy": "gdpr.aws_monitoring", plan.KEY_ALIAS_TAG: ALIAS, "team": "sec"}


def test_a_key_found_by_its_tag_gets_the_alias():
    key_plan = plan.plan_key(ours(by_alias=False), desired(), REGION, "alias_var")
    assert key_plan.changes == ["alias"]


def test_a_key_the_collection_did_not_create_is_refused_naming_the_variable_and_region():
    read = ours(tags={"team": "app"})
    key_plan = plan.plan_key(read, desired(), REGION, "log_groups_kms_key_alias")
    assert key_plan.action == "refuse" and key_plan.changes == []
    assert key_plan.refusal.startswith("log_groups_kms_key_alias: alias/gdpr-monitoring-logs in eu-west-1")
    assert ARN in key_plan.refusal


def test_a_disabled_or_deleted_key_of_ours_is_refused_not_reenabled():
    for state in ("Disabled", "PendingDeletion"):
        key_plan = plan.plan_key(ours(state=state), desired(), REGION, "alias_var")
        assert key_plan.action == "refuse"
        assert state in key_plan.refusal


def test_oldest_enabled_key_is_the_one_recovered():
    day = datetime.datetime(2026, 1, 1)
    candidates = [
        {"Arn": "k3", "KeyState": "Enabled", "CreationDate": day + datetime.timedelta(days=2)},
        {"Arn": "k1", "KeyState": "PendingDeletion", "CreationDate": day},
        {"Arn": "k2", "KeyState": "Enabled", "CreationDate": day + datetime.timedelta(days=1)},
    ]
    assert plan.oldest_usable(candidates)["Arn"] == "k2"
    assert plan.oldest_usable(candidates[1:2]) is None


def test_alias_and_statement_problems():
    assert plan.alias_problem(ALIAS) is None
    assert "alias/aws/" in plan.alias_problem("alias/aws/s3")
    assert plan.alias_problem("gdpr") is not None
    problems = plan.statement_problems([LOGS, {"Effect": "Allow"}, LOGS, {"Sid": plan.ADMIN_SID}], "var")
    assert problems == [
        "var[1] has no Sid",
        "var[2]: the Sid CloudWatchLogsInThisRegion is used twice",
        f"var[3]: the Sid {plan.ADMIN_SID} is the collection's admin statement",
    ]
