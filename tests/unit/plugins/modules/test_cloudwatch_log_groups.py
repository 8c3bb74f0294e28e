"""Unit tests of gdpr.aws_monitoring.cloudwatch_log_groups.

The planning logic is tested as pure functions. The API calls are tested with botocore's Stubber at
the API boundary (real botocore clients validating every request against the service model): moto
does not implement AssociateKmsKey, and the Stubber also proves that a refused run makes no write
call at all. The Molecule scenario `log_groups` covers the rest against moto.
"""

from __future__ import annotations

import boto3
import pytest
from log_groups_stubs import ACCOUNT, described, group_arn, run_module, stubbed_client

from ansible_collections.gdpr.aws_monitoring.plugins.modules import cloudwatch_log_groups as mod

EU = "eu-west-1"
US = "us-east-1"
KEY_EU = f"arn:aws:kms:{EU}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
KEY_OTHER = f"arn:aws:kms:{EU}:{ACCOUNT}:key/99999999-2222-3333-4444-555555555555"


def wanted(name: str = "/gdpr/prod/nginx/access", region: str = EU, **extra):
    group = {
        "name": name,
        "region": region,
        "retention_in_days": 365,
        "log_group_class": "STANDARD",
        "tags": {},
        "kms_key_id": None,
    }
    group.update(extra)
    return group


# --- planning (pure) ---------------------------------------------------------------------------


def test_missing_group_is_created():
    plan = mod.plan_group(wanted(), None, None, replace_kms_key=False)
    assert plan.actions == ["create"]
    assert plan.decrease is None


def test_raising_retention_is_not_a_decrease():
    plan = mod.plan_group(wanted(retention_in_days=731), {"retentionInDays": 365}, None, False)
    assert plan.actions == ["retention"]
    assert plan.decrease is None


@pytest.mark.parametrize("have", [3653, None], ids=["shorter", "never-expire"])
def test_shortening_or_limiting_never_expire_is_a_decrease(have):
    current = {} if have is None else {"retentionInDays": have}
    plan = mod.plan_group(wanted(retention_in_days=365), current, None, False)
    assert plan.decrease == {"name": "/gdpr/prod/nginx/access", "region": EU, "current": have, "wanted": 365}


def test_unmanaged_retention_is_left_alone():
    plan = mod.plan_group(wanted(retention_in_days=None), {"retentionInDays": 3653}, None, False)
    assert plan.actions == []


def test_key_is_associated_only_when_the_group_has_none():
    assert mod.plan_group(wanted(kms_key_id=KEY_EU), {"retentionInDays": 365}, None, False).actions == [
        "kms_key"
    ]
    same = mod.plan_group(
        wanted(kms_key_id=KEY_EU), {"retentionInDays": 365, "kmsKeyId": KEY_EU}, None, False
    )
    assert same.actions == []


def test_other_key_is_kept_and_reported_unless_replace():
    current = {"retentionInDays": 365, "kmsKeyId": KEY_OTHER}
    kept = mod.plan_group(wanted(kms_key_id=KEY_EU), current, None, replace_kms_key=False)
    assert kept.actions == []
    assert KEY_OTHER in kept.warnings[0]
    replaced = mod.plan_group(wanted(kms_key_id=KEY_EU), current, None, replace_kms_key=True)
    assert replaced.actions == ["kms_key"]


def test_no_key_wanted_never_removes_one():
    plan = mod.plan_group(
        wanted(kms_key_id=None), {"retentionInDays": 365, "kmsKeyId": KEY_OTHER}, None, False
    )
    assert plan.actions == []


def test_other_class_is_reported_not_changed():
    plan = mod.plan_group(
        wanted(log_group_class="STANDARD"),
        {"retentionInDays": 365, "logGroupClass": "INFREQUENT_ACCESS"},
        None,
        False,
    )
    assert plan.actions == []
    assert "cannot be changed" in plan.warnings[0]


def test_only_missing_or_different_tags_are_set():
    plan = mod.plan_group(
        wanted(tags={"a": "1", "b": "2"}),
        {"retentionInDays": 365},
        {"a": "1", "b": "old", "user": "x"},
        False,
    )
    assert plan.actions == ["tags"]
    assert plan.tags_to_set == {"b": "2"}


def test_request_checks_run_before_any_call():
    with pytest.raises(mod.PlanError, match="key ARN"):
        mod.normalize_request([wanted(kms_key_id="alias/mine")], EU)
    with pytest.raises(mod.PlanError, match="not a valid log group name"):
        mod.normalize_request([wanted(name="bad name")], EU)
    with pytest.raises(mod.PlanError, match="twice"):
        mod.normalize_request([wanted(), wanted(retention_in_days=30)], EU)
    with pytest.raises(mod.PlanError, match="no region"):
        mod.normalize_request([wanted(region=None)], None)
    assert mod.normalize_request([wanted(region=None), wanted()], EU) == [wanted()]


def test_decrease_message_names_every_group():
    msg = mod.decrease_message(
        [
            {"name": "/a", "region": EU, "current": 3653, "wanted": 365},
            {"name": "/b", "region": US, "current": None, "wanted": 30},
        ]
    )
    assert "/a in eu-west-1: 3653 -> 365 days" in msg
    assert "/b in us-east-1: never expire -> 30 days" in msg
    assert "nothing was changed" in msg


# --- API boundary (Stubber) ---------------------------------------------------------------------


def test_describe_batches_names_and_filters_foreign_groups():
    client, stub = stubbed_client(EU)
    names = [f"/g/{i:03d}" for i in range(60)]
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, "/g/000"), described(EU, "/unrelated")], "nextToken": "t"},
        {"logGroupIdentifiers": names[:50]},
    )
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, "/g/001")]},
        {"logGroupIdentifiers": names[:50], "nextToken": "t"},
    )
    stub.add_response(
        "describe_log_groups", {"logGroups": [described(EU, "/g/055")]}, {"logGroupIdentifiers": names[50:]}
    )
    found = mod.describe_groups(client, names)
    assert sorted(found) == ["/g/000", "/g/001", "/g/055"]
    stub.assert_no_pending_responses()


def test_create_sends_class_key_tags_then_retention():
    client, stub = stubbed_client(EU)
    plan = mod.plan_group(
        wanted(kms_key_id=KEY_EU, tags={"a": "1"}, log_group_class="INFREQUENT_ACCESS"), None, None, False
    )
    stub.add_response(
        "create_log_group",
        {},
        {
            "logGroupName": "/gdpr/prod/nginx/access",
            "logGroupClass": "INFREQUENT_ACCESS",
            "kmsKeyId": KEY_EU,
            "tags": {"a": "1"},
        },
    )
    stub.add_response(
        "put_retention_policy", {}, {"logGroupName": "/gdpr/prod/nginx/access", "retentionInDays": 365}
    )
    mod.apply_plan(client, plan)
    stub.assert_no_pending_responses()


def test_create_whose_answer_was_lost_goes_on_to_retention():
    """A retried CreateLogGroup whose first attempt created the group (answer lost) gets
    ResourceAlreadyExists: the group, found without retention, is ours and gets its retention.
    Before, the run failed and left a never-expiring group the guard then refused to shorten."""
    client, stub = stubbed_client(EU)
    name = "/gdpr/prod/nginx/access"
    plan = mod.plan_group(wanted(), None, None, False)
    stub.add_client_error("create_log_group", "ResourceAlreadyExistsException", "exists", 400)
    stub.add_response(
        "describe_log_groups", {"logGroups": [described(EU, name)]}, {"logGroupNamePrefix": name}
    )
    stub.add_response("put_retention_policy", {}, {"logGroupName": name, "retentionInDays": 365})
    mod.apply_plan(client, plan)
    stub.assert_no_pending_responses()


def test_create_racing_someone_elses_group_with_retention_fails():
    client, stub = stubbed_client(EU)
    name = "/gdpr/prod/nginx/access"
    plan = mod.plan_group(wanted(), None, None, False)
    stub.add_client_error("create_log_group", "ResourceAlreadyExistsException", "exists", 400)
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, name, retentionInDays=3653)]},
        {"logGroupNamePrefix": name},
    )
    with pytest.raises(Exception, match="ResourceAlreadyExists"):
        mod.apply_plan(client, plan)
    stub.assert_no_pending_responses()


def test_existing_group_gets_retention_key_and_tags():
    client, stub = stubbed_client(EU)
    current = described(EU, "/gdpr/prod/nginx/access", retentionInDays=30)
    plan = mod.plan_group(wanted(kms_key_id=KEY_EU, tags={"a": "1"}), current, {}, False)
    stub.add_response(
        "put_retention_policy", {}, {"logGroupName": "/gdpr/prod/nginx/access", "retentionInDays": 365}
    )
    stub.add_response(
        "associate_kms_key", {}, {"logGroupName": "/gdpr/prod/nginx/access", "kmsKeyId": KEY_EU}
    )
    stub.add_response(
        "tag_resource", {}, {"resourceArn": group_arn(EU, "/gdpr/prod/nginx/access"), "tags": {"a": "1"}}
    )
    mod.apply_plan(client, plan)
    stub.assert_no_pending_responses()


def test_module_refuses_all_decreases_across_regions_without_any_write():
    eu, eu_stub = stubbed_client(EU)
    us, us_stub = stubbed_client(US)
    eu_stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, "/legacy", retentionInDays=3653)]},
        {"logGroupIdentifiers": ["/legacy", "/new"]},
    )
    us_stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(US, "/forever")]},
        {"logGroupIdentifiers": ["/forever"]},
    )
    result = run_module(
        mod,
        {
            "log_groups": [
                {"name": "/legacy", "region": EU, "retention_in_days": 365},
                {"name": "/new", "region": EU, "retention_in_days": 365},
                {"name": "/forever", "region": US, "retention_in_days": 30},
            ]
        },
        {EU: eu, US: us},
    )
    assert result.failed
    assert "/legacy in eu-west-1: 3653 -> 365 days" in result.result["msg"]
    assert "/forever in us-east-1: never expire -> 30 days" in result.result["msg"]
    # Any create/put call would have hit the Stubber without a queued answer and failed differently.
    eu_stub.assert_no_pending_responses()
    us_stub.assert_no_pending_responses()


def test_module_check_mode_reads_only_and_reports_the_change():
    eu, stub = stubbed_client(EU)
    stub.add_response("describe_log_groups", {"logGroups": []}, {"logGroupIdentifiers": ["/new"]})
    result = run_module(
        mod,
        {
            "log_groups": [{"name": "/new", "retention_in_days": 90, "kms_key_id": KEY_EU}],
            "_ansible_diff": True,
        },
        {EU: eu},
        check_mode=True,
    )
    assert not result.failed
    assert result.result["changed"] is True
    assert result.result["log_groups"][0]["actions"] == ["create"]
    assert result.result["diff"]["after"][f"{EU}:/new"]["kms_key_id"] == KEY_EU
    stub.assert_no_pending_responses()


def test_module_with_allow_flag_shortens_and_is_idempotent_after():
    eu, stub = stubbed_client(EU)
    args = {"log_groups": [{"name": "/legacy", "retention_in_days": 365}], "allow_retention_decrease": True}
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, "/legacy", retentionInDays=3653)]},
        {"logGroupIdentifiers": ["/legacy"]},
    )
    stub.add_response("put_retention_policy", {}, {"logGroupName": "/legacy", "retentionInDays": 365})
    first = run_module(mod, dict(args), {EU: eu})
    assert first.result["changed"] is True
    assert first.result["retention_decreases"][0]["current"] == 3653

    stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, "/legacy", retentionInDays=365)]},
        {"logGroupIdentifiers": ["/legacy"]},
    )
    second = run_module(mod, dict(args), {EU: eu})
    assert second.result["changed"] is False
    stub.assert_no_pending_responses()


def test_module_reports_a_failed_region_without_touching_the_others():
    eu, eu_stub = stubbed_client(EU)
    us, us_stub = stubbed_client(US)
    eu_stub.add_response("describe_log_groups", {"logGroups": []}, {"logGroupIdentifiers": ["/a"]})
    us_stub.add_client_error(
        "describe_log_groups", service_error_code="AccessDeniedException", http_status_code=400
    )
    result = run_module(
        mod,
        {
            "log_groups": [
                {"name": "/a", "region": EU, "retention_in_days": 30},
                {"name": "/b", "region": US, "retention_in_days": 30},
            ]
        },
        {EU: eu, US: us},
    )
    assert result.failed
    assert result.result["failed_regions"] == [US]
    assert "Nothing was changed" in result.result["msg"]
    eu_stub.assert_no_pending_responses()


def test_module_failing_after_a_write_reports_changed_and_counts_regions():
    """Issue 10: a region that failed after a write must report changed (the run did change AWS)."""
    eu, eu_stub = stubbed_client(EU)
    us, us_stub = stubbed_client(US)
    eu_stub.add_response("describe_log_groups", {"logGroups": []}, {"logGroupIdentifiers": ["/a"]})
    eu_stub.add_response("create_log_group", {}, {"logGroupName": "/a", "logGroupClass": "STANDARD"})
    eu_stub.add_client_error("put_retention_policy", service_error_code="OperationAbortedException")
    us_stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(US, "/b", retentionInDays=30)]},
        {"logGroupIdentifiers": ["/b"]},
    )
    result = run_module(
        mod,
        {
            "log_groups": [
                {"name": "/a", "region": EU, "retention_in_days": 30},
                {"name": "/b", "region": US, "retention_in_days": 30},
            ]
        },
        {EU: eu, US: us},
    )
    assert result.failed
    assert result.result["changed"] is True
    assert result.result["failed_regions"] == [EU]
    assert "OperationAbortedException" in result.result["msg"] and EU in result.result["msg"]
    assert result.result["region_counts"] == {"done": 1, "refused": 0, "failed": 1}
    eu_stub.assert_no_pending_responses()


def test_module_counts_regions_when_all_is_well():
    eu, stub = stubbed_client(EU)
    stub.add_response(
        "describe_log_groups",
        {"logGroups": [described(EU, "/a", retentionInDays=30)]},
        {"logGroupIdentifiers": ["/a"]},
    )
    result = run_module(mod, {"log_groups": [{"name": "/a", "retention_in_days": 30}]}, {EU: eu})
    assert result.result["changed"] is False
    assert result.result["region_counts"] == {"done": 1, "refused": 0, "failed": 0}


def test_unknown_region_is_rejected_before_any_group_is_read_or_made(moto_endpoint):
    """Issue 10 item 6: a region typo failed only after the valid regions were written (moto)."""
    result = run_module(
        mod,
        {
            "log_groups": [
                {"name": "/gdpr/typo/a", "region": EU, "retention_in_days": 30},
                {"name": "/gdpr/typo/b", "region": "eu-wset-1", "retention_in_days": 30},
            ],
            "variable_names": {"log_groups": "log_groups_extra[].region"},
        },
        None,
    )
    assert result.failed
    assert "eu-wset-1 in log_groups_extra[].region (did you mean eu-west-1?)" in result.result["msg"]
    assert result.result["unknown_regions"] == ["eu-wset-1"]
    logs = boto3.client("logs", region_name=EU)
    assert logs.describe_log_groups(logGroupNamePrefix="/gdpr/typo")["logGroups"] == []
