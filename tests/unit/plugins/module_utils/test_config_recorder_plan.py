"""Planning of the config_recorders module (plugins/module_utils/config_recorder.py): pure, no AWS."""

from __future__ import annotations

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.config_recorder import (
    Desired,
    channel_view,
    plan_region,
    recorder_view,
    service_linked_role_arn,
)

ROLE = "arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
DESIRED = Desired(
    recorder_name="gdpr-monitoring",
    global_region="eu-west-1",
    role_arn=ROLE,
    bucket_name="b",
    key_prefix="config",
)


def aws_recorder(name: str, include_global: bool, recording: bool, all_supported: bool = True) -> dict:
    raw = {
        "name": name,
        "roleARN": ROLE,
        "recordingGroup": {
            "allSupported": all_supported,
            "includeGlobalResourceTypes": include_global,
            "resourceTypes": [],
            "recordingStrategy": {"useOnly": "ALL_SUPPORTED_RESOURCE_TYPES"},
        },
    }
    return recorder_view(raw, {"name": name, "recording": recording})


def aws_channel(name: str, bucket: str = "b", prefix: str = "config") -> dict:
    return channel_view({"name": name, "s3BucketName": bucket, "s3KeyPrefix": prefix})


def test_empty_region_gets_recorder_channel_and_start_global_only_in_the_global_region():
    home = plan_region("eu-west-1", None, None, DESIRED)
    other = plan_region("eu-central-1", None, None, DESIRED)
    assert [a.kind for a in home.actions] == ["put_recorder", "put_channel", "start"]
    assert home.status == "created"
    group = home.actions[0].params["ConfigurationRecorder"]["recordingGroup"]
    assert group == {"allSupported": True, "includeGlobalResourceTypes": True, "resourceTypes": []}
    other_group = other.actions[0].params["ConfigurationRecorder"]["recordingGroup"]
    assert other_group["includeGlobalResourceTypes"] is False
    channel = home.actions[1].params["DeliveryChannel"]
    assert channel == {
        "name": "gdpr-monitoring",
        "s3BucketName": "b",
        "s3KeyPrefix": "config",
        "configSnapshotDeliveryProperties": {"deliveryFrequency": "TwentyFour_Hours"},
    }


def test_own_recorder_as_wished_is_unchanged_and_drift_is_fixed():
    same = plan_region(
        "eu-west-1", aws_recorder("gdpr-monitoring", True, True), aws_channel("gdpr-monitoring"), DESIRED
    )
    assert (same.status, same.actions) == ("unchanged", [])
    drift = plan_region(
        "eu-west-1",
        aws_recorder("gdpr-monitoring", False, False),
        aws_channel("gdpr-monitoring", "x"),
        DESIRED,
    )
    assert [a.kind for a in drift.actions] == ["put_recorder", "put_channel", "start"]
    assert drift.status == "updated"
    assert any("include_global_resource_types" in d for d in drift.differences)
    assert any("bucket_name" in d for d in drift.differences)


def test_someone_elses_recorder_is_left_alone_unless_manage_existing():
    theirs = aws_recorder("default", False, False, all_supported=False)
    plan = plan_region("eu-west-1", theirs, aws_channel("default", "their-bucket"), DESIRED)
    assert (plan.status, plan.actions) == ("foreign", [])
    assert plan.after == plan.before
    managed = plan_region(
        "eu-west-1",
        theirs,
        aws_channel("default", "their-bucket"),
        Desired(**{**DESIRED.__dict__, "manage_existing": True}),
    )
    kinds = [a.kind for a in managed.actions]
    assert kinds == ["put_recorder", "put_channel", "start"]
    # Updated in place under its own name: a recorder cannot be renamed, a region holds one.
    assert managed.actions[0].params["ConfigurationRecorder"]["name"] == "default"
    assert managed.actions[1].params["DeliveryChannel"]["name"] == "default"


def test_own_recorder_with_anothers_channel_keeps_that_channel():
    plan = plan_region(
        "eu-west-1", aws_recorder("gdpr-monitoring", True, True), aws_channel("legacy", "x"), DESIRED
    )
    assert plan.actions == []
    assert plan.differences == ["delivery channel 'legacy' is not this recorder's: left alone"]


def test_service_linked_role_arn():
    assert service_linked_role_arn("aws", "111122223333") == ROLE
