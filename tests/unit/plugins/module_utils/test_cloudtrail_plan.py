"""Planning rules of the trail (module_utils/cloudtrail.py)."""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import cloudtrail as plan

PARAMS = {
    "s3_bucket_name": "trail-bucket",
    "s3_key_prefix": "",
    "cloudwatch_logs_log_group_arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/gdpr/cloudtrail:*",
    "cloudwatch_logs_role_arn": "arn:aws:iam::123456789012:role/delivery",
    "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/k",
    "organization_trail": False,
}


@pytest.mark.parametrize("name", ["ab", "-trail", "trail-", "a..b", "a--b", "has space", "a" * 129])
def test_invalid_trail_names(name):
    assert plan.trail_name_problem(name)


@pytest.mark.parametrize("name", ["gdpr-trail", "Org.Trail_1", "abc"])
def test_valid_trail_names(name):
    assert plan.trail_name_problem(name) is None


def test_a_new_trail_differs_in_everything_an_equal_one_in_nothing():
    wanted = plan.desired_trail(PARAMS)
    assert set(plan.trail_differences(None, wanted)) == set(wanted)
    # DescribeTrails leaves out unset fields: an absent prefix equals "".
    current = {k: v for k, v in wanted.items() if k != "S3KeyPrefix"}
    assert plan.trail_differences(current, wanted) == {}
    assert plan.trail_differences({**current, "LogFileValidationEnabled": False}, wanted) == {
        "LogFileValidationEnabled": True
    }


def test_update_call_never_empties_a_setting_and_sends_cloudwatch_settings_together():
    wanted = plan.desired_trail(PARAMS)
    call = plan.trail_call("arn", {"CloudWatchLogsRoleArn": wanted["CloudWatchLogsRoleArn"]}, wanted)
    assert call["CloudWatchLogsLogGroupArn"] == PARAMS["cloudwatch_logs_log_group_arn"]
    unknown_key = plan.desired_trail({**PARAMS, "kms_key_id": ""})
    assert "KmsKeyId" not in plan.trail_call("arn", {"KmsKeyId": ""}, unknown_key)
    assert plan.trail_call("arn", {"LogFileValidationEnabled": True}, wanted) == {
        "Name": "arn",
        "EnableLogFileValidation": True,
    }


def test_selectors_log_management_events_and_the_named_buckets_objects():
    assert plan.advanced_selectors([], "eu-west-1") == [
        {
            "Name": "Management events",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
        }
    ]
    selectors = plan.advanced_selectors(["b", "a", "b"], "cn-north-1")
    arns = selectors[1]["FieldSelectors"][2]
    assert arns == {"Field": "resources.ARN", "StartsWith": ["arn:aws-cn:s3:::a/", "arn:aws-cn:s3:::b/"]}
    reordered = [selectors[1], {**selectors[0], "FieldSelectors": list(selectors[0]["FieldSelectors"])}]
    with_empty_ops = [
        {**selectors[0], "FieldSelectors": [{**selectors[0]["FieldSelectors"][0], "NotEquals": []}]}
    ]
    assert plan.selectors_equal(reordered, selectors)
    assert plan.selectors_equal(with_empty_ops, selectors[:1])
    assert not plan.selectors_equal(selectors[:1], selectors)


def test_only_logging_multi_region_trails_with_global_events_of_others_are_reused():
    def trail(name, multi=True, global_events=True):
        return {
            "Name": name,
            "TrailARN": f"arn:{name}",
            "IsMultiRegionTrail": multi,
            "IncludeGlobalServiceEvents": global_events,
        }

    trails = [
        trail("ours"),
        trail("single", multi=False),
        trail("noglobal", global_events=False),
        trail("stopped"),
    ]
    trails.append(trail("org"))
    logging = {
        "arn:ours": True,
        "arn:single": True,
        "arn:noglobal": True,
        "arn:stopped": False,
        "arn:org": True,
    }
    assert [t["Name"] for t in plan.all_region_trails(trails, logging, exclude="ours")] == ["org"]


def test_bad_data_event_buckets_are_named():
    assert plan.data_bucket_problems(["good-bucket", "Bad_Bucket"]) == [
        "'Bad_Bucket' (3 to 63 characters of a-z 0-9 . -, beginning and ending with a letter or digit)"
    ]
