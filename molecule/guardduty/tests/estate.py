"""GuardDuty in every region of the embedded AWS, for the guardduty scenario.

    estate.py prepare FILE   create a SUSPENDED detector in eu-west-1 (as a user might have one) and
                             write its id to FILE

snapshot() (every region's detectors) is what tests/harness/estate_snapshot.py saves and compares
around the check-mode run (molecule/shared/estate_snapshot.yml).

boto3 reaches moto through AWS_ENDPOINT_URL (set by tests/harness/moto_server.py).
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3

PREPARED_REGION = "eu-west-1"
# The role's tag is given up front: moto 5.2.5 cannot tag an existing detector (TagResource: 404).
PREPARED_TAGS = {"owner": "alice", "ManagedBy": "gdpr.aws_monitoring"}
# A plan the role does not list: it must survive the role's updates.
PREPARED_FEATURES = [{"Name": "LAMBDA_NETWORK_LOGS", "Status": "ENABLED"}]


def regions() -> list[str]:
    answer = boto3.client("ec2", region_name=PREPARED_REGION).describe_regions()
    return sorted(r["RegionName"] for r in answer["Regions"])


def region_detectors(region: str) -> list[dict[str, Any]]:
    client = boto3.client("guardduty", region_name=region)
    detectors = []
    for detector_id in sorted(client.list_detectors()["DetectorIds"]):
        detail = client.get_detector(DetectorId=detector_id)
        detail.pop("ResponseMetadata", None)
        detail["DetectorId"] = detector_id
        detectors.append(detail)
    return detectors


def snapshot() -> dict[str, list[dict[str, Any]]]:
    names = regions()
    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(region_detectors, names)))


def prepare(path: Path) -> int:
    client = boto3.client("guardduty", region_name=PREPARED_REGION)
    if client.list_detectors()["DetectorIds"]:
        print(f"{PREPARED_REGION} already has a detector", file=sys.stderr)
        return 1
    detector_id = client.create_detector(
        Enable=False, FindingPublishingFrequency="SIX_HOURS", Features=PREPARED_FEATURES, Tags=PREPARED_TAGS
    )["DetectorId"]
    path.write_text(json.dumps({"region": PREPARED_REGION, "detector_id": detector_id}))
    print(f"suspended detector {detector_id} in {PREPARED_REGION}")
    return 0


def main(argv: list[str]) -> int:
    command, path = argv[1], Path(argv[2])
    if command == "prepare":
        return prepare(path)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
