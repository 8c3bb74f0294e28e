"""The config_recorder role on the embedded AWS, controller only (playbooks/config_recorder.yml).

Two regions: eu-west-1 empty, eu-central-1 with someone else's recorder ("default", stopped, recording
only some types). ``--check`` first creates nothing; the converge gives eu-west-1 a recorder of all
supported types with global resources, a delivery channel to the locked-down bucket (log_archive)
and recording on, and leaves eu-central-1's recorder exactly as it was, with a warning; a second run
changes nothing. ``config_recorder_manage_existing`` then takes eu-central-1's recorder over in place.
Bad inputs are refused before any write, naming the variable.

Where moto differs from AWS: it names the service-linked role AWSServiceRoleForconfig (AWS:
AWSServiceRoleForConfig), which is why the module finds the role by its path, not its name; it does
not check that Config may write to the bucket.
"""

from __future__ import annotations

import boto3
import pytest
from controller_play import changed_count, run_play
from test_controller_guards import run_cases

REGIONS = ["eu-west-1", "eu-central-1"]
BUCKET = "gdpr-config-123456789012-eu-west-1"


def config(region: str):
    return boto3.client("config", region_name=region)


def recorder(region: str) -> tuple[dict | None, dict | None]:
    recs = config(region).describe_configuration_recorders()["ConfigurationRecorders"]
    status = config(region).describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    return (recs[0] if recs else None), (status[0] if status else None)


@pytest.fixture
def foreign(aws):
    config("eu-central-1").put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": "arn:aws:iam::123456789012:role/their-config-role",
            "recordingGroup": {"allSupported": False, "resourceTypes": ["AWS::EC2::Instance"]},
        }
    )


def test_check_converge_idempotence_foreign_left_alone_then_managed(foreign):
    check = run_play("config_recorder", {"config_recorder_regions": REGIONS}, "--check", "--diff")
    assert check.returncode == 0, check.stdout[-3000:]
    assert changed_count(check) > 0
    assert recorder("eu-west-1") == (None, None)
    assert boto3.client("s3", region_name="eu-west-1").list_buckets()["Buckets"] == []
    aliases = boto3.client("kms", region_name="eu-west-1").list_aliases()["Aliases"]
    assert [a["AliasName"] for a in aliases if a["AliasName"].startswith("alias/gdpr")] == []

    first = run_play("config_recorder", {"config_recorder_regions": REGIONS})
    assert first.returncode == 0, first.stdout[-3000:]
    assert "already has the recorder 'default'" in first.stdout + first.stderr
    rec, status = recorder("eu-west-1")
    assert rec["name"] == "gdpr-monitoring" and status["recording"] is True
    assert rec["recordingGroup"]["allSupported"] is True
    assert rec["recordingGroup"]["includeGlobalResourceTypes"] is True
    assert "/aws-service-role/config.amazonaws.com/" in rec["roleARN"]
    [channel] = config("eu-west-1").describe_delivery_channels()["DeliveryChannels"]
    assert (channel["s3BucketName"], channel["s3KeyPrefix"]) == (BUCKET, "config")
    assert channel["s3KmsKeyArn"].startswith("arn:aws:kms:eu-west-1:")
    s3 = boto3.client("s3", region_name="eu-west-1")
    assert (
        s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    )
    assert "AWSConfigBucketDelivery" in s3.get_bucket_policy(Bucket=BUCKET)["Policy"]
    theirs, their_status = recorder("eu-central-1")
    assert theirs["name"] == "default" and theirs["recordingGroup"]["allSupported"] is False
    assert not their_status["recording"]

    second = run_play("config_recorder", {"config_recorder_regions": REGIONS})
    assert second.returncode == 0, second.stdout[-3000:]
    assert changed_count(second) == 0, second.stdout[-3000:]

    managed = run_play(
        "config_recorder", {"config_recorder_regions": REGIONS, "config_recorder_manage_existing": True}
    )
    assert managed.returncode == 0, managed.stdout[-3000:]
    theirs, their_status = recorder("eu-central-1")
    assert theirs["name"] == "default" and theirs["recordingGroup"]["allSupported"] is True
    assert theirs["recordingGroup"]["includeGlobalResourceTypes"] is False
    assert their_status["recording"] is True


BAD_INPUTS = {
    "global-region-not-recorded": (
        {"config_recorder_regions": ["eu-central-1"], "config_recorder_global_resources_region": "eu-west-1"},
        "config_recorder_global_resources_region: eu-west-1 is not among the regions recorded",
    ),
    "region-typo": (
        {"config_recorder_regions": ["eu-wset-1"]},
        "eu-wset-1 in config_recorder_regions (did you mean eu-west-1?)",
    ),
    "frequency": ({"config_recorder_delivery_frequency": "Daily"}, "config_recorder_delivery_frequency"),
    # Refused by the bucket module only after the key was made, before the fix (a run wrote a key).
    "negative-retention": ({"config_recorder_retention_days": -5}, "config_recorder_retention_days"),
    "retention-not-a-number": ({"config_recorder_retention_days": "ten"}, "config_recorder_retention_days"),
}


def test_bad_input_is_refused_before_any_write(aws, tmp_path):
    """Every refusal as a case of ONE ansible-playbook run (run_cases); the end state, read after all
    of them, shows that none wrote anything."""
    _run, results = run_cases(
        tmp_path, "config_recorder", {name: case for name, (case, _msg) in BAD_INPUTS.items()}
    )
    for name, (_case, message) in BAD_INPUTS.items():
        assert results[name]["failed"], (name, results[name])
        assert message in results[name]["msg"], (name, results[name]["msg"])
    assert recorder("eu-west-1") == (None, None)
    assert boto3.client("s3", region_name="eu-west-1").list_buckets()["Buckets"] == []
    aliases = boto3.client("kms", region_name="eu-west-1").list_aliases()["Aliases"]
    assert [a["AliasName"] for a in aliases if a["AliasName"].startswith("alias/gdpr")] == []
