"""After converge: exactly one enabled detector per region with the role's plans and frequency.

Run by verify.yml with boto3 against the embedded AWS (AWS_ENDPOINT_URL). moto 5.2.5 stores and
returns exactly the features it was given, so the plans checked here are what the module sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from estate import PREPARED_TAGS, regions, snapshot

ROLE_PLANS = {
    "S3_DATA_EVENTS": {},
    "EBS_MALWARE_PROTECTION": {},
    "RDS_LOGIN_EVENTS": {},
    "RUNTIME_MONITORING": {"EC2_AGENT_MANAGEMENT": "ENABLED"},
}


@pytest.fixture(scope="module")
def detectors() -> dict:
    return snapshot()


@pytest.fixture(scope="module")
def prepared() -> dict:
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "guardduty_prepared.json"
    return json.loads(path.read_text())


def test_every_region_of_the_account_is_covered(detectors: dict) -> None:
    assert sorted(detectors) == regions()
    assert len(detectors) > 1


def test_exactly_one_enabled_detector_per_region(detectors: dict) -> None:
    wrong = {r: [(d["DetectorId"], d["Status"]) for d in ds] for r, ds in detectors.items() if len(ds) != 1}
    assert wrong == {}
    disabled = [r for r, ds in detectors.items() if ds[0]["Status"] != "ENABLED"]
    assert disabled == []


def test_frequency_is_fifteen_minutes_everywhere(detectors: dict) -> None:
    assert {ds[0]["FindingPublishingFrequency"] for ds in detectors.values()} == {"FIFTEEN_MINUTES"}


def test_role_plans_are_on_everywhere(detectors: dict) -> None:
    for region, (detector,) in detectors.items():
        features = {f["Name"]: f for f in detector.get("Features", [])}
        for name, addl in ROLE_PLANS.items():
            assert features.get(name, {}).get("Status") == "ENABLED", (region, name, features)
            got = {a["Name"]: a["Status"] for a in features[name].get("AdditionalConfiguration", [])}
            assert {k: got.get(k) for k in addl} == addl, (region, name, got)


def test_every_detector_carries_the_role_tag(detectors: dict) -> None:
    untagged = [
        r for r, ds in detectors.items() if ds[0].get("Tags", {}).get("ManagedBy") != "gdpr.aws_monitoring"
    ]
    assert untagged == []


def test_suspended_detector_was_re_enabled_not_replaced(detectors: dict, prepared: dict) -> None:
    (detector,) = detectors[prepared["region"]]
    assert detector["DetectorId"] == prepared["detector_id"]
    assert detector["Status"] == "ENABLED"


def test_users_tag_and_unlisted_plan_survived(detectors: dict, prepared: dict) -> None:
    (detector,) = detectors[prepared["region"]]
    assert detector["Tags"] == PREPARED_TAGS
    features = {f["Name"]: f["Status"] for f in detector["Features"]}
    assert features["LAMBDA_NETWORK_LOGS"] == "ENABLED"
