"""gdpr.aws_monitoring.guardduty_publishing_destinations, run in-process against botocore's Stubber.

The embedded AWS (moto 5.2.5) has no GuardDuty publishing destinations (Create/List/Describe/Update
answer HTTP 404, measured), so every test here answers at the API boundary with botocore's Stubber.
The Stubber validates each request the module sends against botocore's GuardDuty service model
(required members, types, no unknown keys), so the request shapes are checked as AWS defines them;
the answers are in the shapes the model gives for real GuardDuty.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

from botocore.stub import ANY
from module_run import ModuleExit, run_main
from test_guardduty_detector import StubbedClients

from ansible_collections.gdpr.aws_monitoring.plugins.modules import (
    guardduty_publishing_destinations as module,
)

REGIONS = ["eu-central-1", "eu-west-1"]
BUCKET = "arn:aws:s3:::gdpr-guardduty-findings-123456789012-eu-west-1"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
OTHER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/99999999-2222-3333-4444-555555555555"


def run(stubs: StubbedClients, check_mode: bool = False, **args: Any) -> ModuleExit:
    args = {
        "regions": REGIONS,
        "destination_arn": BUCKET,
        "kms_key_arn": KEY,
        "region": "eu-west-1",
        "variable_names": {"replace_existing": "guardduty_export_replace_destination"},
        "_ansible_check_mode": check_mode,
        **args,
    }

    stubs.known_regions_answer()
    return run_main(
        module, args, mock.patch.object(module, "RegionalClients", lambda _module, _retry=None: stubs)
    )


def detector(stubs: StubbedClients, region: str, destinations: list[dict[str, Any]] | None = None) -> str:
    """ListDetectors, ListPublishingDestinations and a Describe per destination, as GuardDuty answers."""
    detector_id = f"det{region.replace('-', '')}"
    gd = stubs.stub("guardduty", region)
    gd.add_response("list_detectors", {"DetectorIds": [detector_id]}, {})
    listed = [
        {"DestinationId": d["id"], "DestinationType": "S3", "Status": "PUBLISHING"}
        for d in destinations or []
    ]
    gd.add_response("list_publishing_destinations", {"Destinations": listed}, {"DetectorId": detector_id})
    for d in destinations or []:
        gd.add_response(
            "describe_publishing_destination",
            {
                "DestinationId": d["id"],
                "DestinationType": "S3",
                "Status": "PUBLISHING",
                "PublishingFailureStartTimestamp": 0,
                "DestinationProperties": {"DestinationArn": d["arn"], "KmsKeyArn": d["key"]},
            },
            {"DetectorId": detector_id, "DestinationId": d["id"]},
        )
    return detector_id


def test_creates_a_destination_per_region_with_a_client_token():
    stubs = StubbedClients()
    for region in REGIONS:
        detector_id = detector(stubs, region)
        stubs.stub("guardduty", region).add_response(
            "create_publishing_destination",
            {"DestinationId": f"dest-{region}"},
            {
                "DetectorId": detector_id,
                "DestinationType": "S3",
                "DestinationProperties": {"DestinationArn": BUCKET, "KmsKeyArn": KEY},
                "ClientToken": ANY,
            },
        )
    result = run(stubs)
    assert not result.failed, result.result
    assert result.result["changed"] is True
    assert [(d["region"], d["destination_id"], d["actions"]) for d in result.result["destinations"]] == [
        (r, f"dest-{r}", ["create_publishing_destination"]) for r in REGIONS
    ]
    stubs.assert_all_used()


def test_a_matching_destination_is_left_alone():
    stubs = StubbedClients()
    for region in REGIONS:
        detector(stubs, region, [{"id": "d1", "arn": BUCKET, "key": KEY}])
    result = run(stubs)
    assert not result.failed and result.result["changed"] is False, result.result
    assert {d["status"] for d in result.result["destinations"]} == {"PUBLISHING"}
    stubs.assert_all_used()


def test_same_bucket_new_key_is_updated_in_place():
    stubs = StubbedClients()
    for region in REGIONS:
        detector_id = detector(stubs, region, [{"id": "d1", "arn": BUCKET + "/old-prefix", "key": OTHER_KEY}])
        stubs.stub("guardduty", region).add_response(
            "update_publishing_destination",
            {},
            {
                "DetectorId": detector_id,
                "DestinationId": "d1",
                "DestinationProperties": {"DestinationArn": BUCKET, "KmsKeyArn": KEY},
            },
        )
    result = run(stubs)
    assert not result.failed and result.result["changed"] is True, result.result
    assert {tuple(d["actions"]) for d in result.result["destinations"]} == {
        ("update_publishing_destination",)
    }
    stubs.assert_all_used()


def test_a_users_export_elsewhere_is_not_redirected_and_nothing_is_written_anywhere():
    stubs = StubbedClients()
    detector(stubs, "eu-central-1")  # would need a create: must not get one
    detector(stubs, "eu-west-1", [{"id": "theirs", "arn": "arn:aws:s3:::their-bucket", "key": OTHER_KEY}])
    result = run(stubs)
    assert result.failed
    assert (
        "eu-west-1: RuntimeError: the detector already exports to arn:aws:s3:::their-bucket"
        in result.result["msg"]
    )
    assert "guardduty_export_replace_destination=true" in result.result["msg"]
    assert result.result["changed"] is False
    central = result.result["destinations"][0]
    assert (central["region"], central["actions"], central["not_done"]) == (
        "eu-central-1",
        [],
        ["create_publishing_destination"],
    )
    stubs.assert_all_used()  # no create was stubbed: an unexpected write would have raised


def test_replace_existing_redirects_on_purpose():
    stubs = StubbedClients()
    for region in REGIONS:
        detector_id = detector(
            stubs, region, [{"id": "theirs", "arn": "arn:aws:s3:::their-bucket", "key": KEY}]
        )
        stubs.stub("guardduty", region).add_response(
            "update_publishing_destination",
            {},
            {
                "DetectorId": detector_id,
                "DestinationId": "theirs",
                "DestinationProperties": {"DestinationArn": BUCKET, "KmsKeyArn": KEY},
            },
        )
    result = run(stubs, replace_existing=True)
    assert not result.failed and result.result["changed"] is True, result.result
    stubs.assert_all_used()


def test_check_mode_writes_nothing_and_plans_a_region_whose_detector_is_still_to_come():
    stubs = StubbedClients()
    detector(stubs, "eu-central-1")
    stubs.stub("guardduty", "eu-west-1").add_response("list_detectors", {"DetectorIds": []}, {})
    result = run(stubs, check_mode=True)
    assert not result.failed and result.result["changed"] is True, result.result
    by_region = {d["region"]: d for d in result.result["destinations"]}
    assert by_region["eu-west-1"]["detector_id"] is None
    assert by_region["eu-west-1"]["actions"] == ["create_publishing_destination"]
    stubs.assert_all_used()


def test_a_region_without_detector_fails_by_name_and_the_other_is_still_done():
    stubs = StubbedClients()
    stubs.stub("guardduty", "eu-central-1").add_response("list_detectors", {"DetectorIds": []}, {})
    detector(stubs, "eu-west-1", [{"id": "d1", "arn": BUCKET, "key": KEY}])
    result = run(stubs)
    assert result.failed
    assert "eu-central-1: RuntimeError: no GuardDuty detector in this region" in result.result["msg"]
    assert result.result["region_counts"] == {"done": 1, "refused": 0, "failed": 1}
    stubs.assert_all_used()
