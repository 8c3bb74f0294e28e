"""gdpr.aws_monitoring.guardduty_detector, run in-process.

Two kinds of tests:

* Stubber tests. botocore's Stubber answers at the API boundary with the shapes REAL GuardDuty
  returns (validated against botocore's service model), for what moto does not model the way AWS
  does: a GetDetector listing every feature (CLOUD_TRAIL, DNS_LOGS, ... and both runtime features),
  UpdateDetector merging features, TagResource/UntagResource (moto 5.2.5 answers them with HTTP 404),
  regions that refuse or deny the request, and throttling (moto never throttles).
* moto tests (the ``aws`` fixture). What moto 5.2.5 does, measured here:
  - CreateDetector stores ``Features`` and GetDetector returns exactly those (not all features);
  - UpdateDetector with ``Features`` REPLACES the stored list (AWS merges);
  - a region may hold several detectors;
  - Tags come back from GetDetector, but TagResource/UntagResource/ListTagsForResource are HTTP 404.
  The module echoes the detector's other updatable features in every update, so it is idempotent
  and keeps unlisted features on moto as on AWS; the tests below prove that on moto.
"""

from __future__ import annotations

import datetime
from typing import Any
from unittest import mock

import boto3
import botocore.exceptions
import pytest
from botocore.stub import ANY, Stubber
from module_run import ModuleExit, run_main

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import RetryPolicy
from ansible_collections.gdpr.aws_monitoring.plugins.modules import guardduty_detector as module

ACCOUNT = "123456789012"
SERVICE_ROLE = "AWSServiceRoleForAmazonGuardDuty"
WHEN = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


def run(
    args: dict[str, Any], clients: Any = None, check_mode: bool = False, diff: bool = False
) -> ModuleExit:
    """Run main(); ``clients`` (a callable like RegionalClients) replaces the real clients if given."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    args.setdefault("region", "eu-west-1")
    patches = []
    if clients is not None and args.get("regions") and not clients.regions_known:
        clients.known_regions_answer()  # the check of the named regions (ec2:DescribeRegions)
    if clients is not None:
        patches.append(mock.patch.object(module, "RegionalClients", lambda _module, _retry=None: clients))
    return run_main(module, args, *patches)


# --- Stubber helpers -----------------------------------------------------------------------------


class StubbedClients:
    """Stands in for RegionalClients: a Stubber-backed real botocore client per (service, region)."""

    def __init__(self) -> None:
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], Any] = {}
        self.regions_known = False
        self.sleeps: list[float] = []

    def known_regions_answer(self, statuses: dict[str, str] | None = None) -> None:
        """DescribeRegions(AllRegions=True) as AWS answers it: every region with its OptInStatus."""
        self.regions_known = True
        self.stub("ec2", "eu-west-1").add_response(
            "describe_regions", {"Regions": region_list(statuses or {})}, {"AllRegions": True}
        )

    def stub(self, service: str, region: str) -> Stubber:
        key = (service, region)
        if key not in self.stubbers:
            client = boto3.client(
                service,
                region_name=region,
                aws_access_key_id="AKIATESTTESTTESTTEST",
                aws_secret_access_key="test",  # not a secret: the Stubber answers
                endpoint_url=None,
            )
            self.stubbers[key] = Stubber(client)
            self.stubbers[key].activate()
            # The module's own retry policy, sleeping in no time (the sleeps are recorded).
            self.clients[key] = RetryingBotoClientWrapper(client, RetryPolicy(sleep=self.sleeps.append))
        return self.stubbers[key]

    def __call__(self, service: str, region: str) -> Any:
        return self.clients[(service, region)]

    def assert_all_used(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


STANDARD_REGIONS = ("eu-central-1", "eu-south-1", "eu-west-1", "eu-west-2", "us-east-1")


def region_list(statuses: dict[str, str]) -> list[dict[str, str]]:
    """DescribeRegions' Regions: the standard ones (opt-in not required) plus ``statuses``."""
    every = {r: "opt-in-not-required" for r in STANDARD_REGIONS}
    every.update(statuses)
    return [
        {"RegionName": r, "Endpoint": f"ec2.{r}.amazonaws.com", "OptInStatus": status}
        for r, status in sorted(every.items())
    ]


def discovered(stubs: StubbedClients, enabled: list[str]) -> None:
    """DescribeRegions(AllRegions=False, opt-in filter): what the module works without regions."""
    stubs.regions_known = True
    stubs.stub("ec2", "eu-west-1").add_response(
        "describe_regions",
        {"Regions": [{"RegionName": r, "OptInStatus": "opt-in-not-required"} for r in enabled]},
        {"AllRegions": False, "Filters": ANY},
    )


def real_detector(
    status: str = "ENABLED",
    frequency: str = "SIX_HOURS",
    enabled: tuple[str, ...] = (),
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """GetDetector as real GuardDuty answers it: every feature listed, with UpdatedAt stamps."""

    def feat(name: str, *addl: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "Name": name,
            "Status": "ENABLED" if name in enabled else "DISABLED",
            "UpdatedAt": WHEN,
        }
        if addl:
            item["AdditionalConfiguration"] = [
                {
                    "Name": a,
                    "Status": "ENABLED" if f"{name}/{a}" in enabled else "DISABLED",
                    "UpdatedAt": WHEN,
                }
                for a in addl
            ]
        return item

    return {
        "CreatedAt": "2024-01-01T00:00:00.000Z",
        "FindingPublishingFrequency": frequency,
        "ServiceRole": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/guardduty.amazonaws.com/{SERVICE_ROLE}",
        "Status": status,
        "UpdatedAt": "2024-01-01T00:00:00.000Z",
        "DataSources": {
            "CloudTrail": {"Status": "ENABLED"},
            "DNSLogs": {"Status": "ENABLED"},
            "FlowLogs": {"Status": "ENABLED"},
            "S3Logs": {"Status": "DISABLED"},
        },
        "Tags": dict(tags or {}),
        "Features": [
            {"Name": "CLOUD_TRAIL", "Status": "ENABLED", "UpdatedAt": WHEN},
            {"Name": "DNS_LOGS", "Status": "ENABLED", "UpdatedAt": WHEN},
            {"Name": "FLOW_LOGS", "Status": "ENABLED", "UpdatedAt": WHEN},
            feat("S3_DATA_EVENTS"),
            feat("EKS_AUDIT_LOGS"),
            feat("EBS_MALWARE_PROTECTION"),
            feat("RDS_LOGIN_EVENTS"),
            feat("EKS_RUNTIME_MONITORING", "EKS_ADDON_MANAGEMENT"),
            feat("LAMBDA_NETWORK_LOGS"),
            feat(
                "RUNTIME_MONITORING",
                "EKS_ADDON_MANAGEMENT",
                "ECS_FARGATE_AGENT_MANAGEMENT",
                "EC2_AGENT_MANAGEMENT",
            ),
        ],
    }


GDPR_FEATURES = [
    {"name": "S3_DATA_EVENTS"},
    {"name": "EBS_MALWARE_PROTECTION"},
    {"name": "RDS_LOGIN_EVENTS"},
    {"name": "RUNTIME_MONITORING", "additional_configuration": [{"name": "EC2_AGENT_MANAGEMENT"}]},
]
GDPR_ENABLED = (
    "S3_DATA_EVENTS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "RUNTIME_MONITORING",
    "RUNTIME_MONITORING/EC2_AGENT_MANAGEMENT",
)


def existing(stubs: StubbedClients, region: str, detector: dict[str, Any], did: str = "d" * 32) -> Stubber:
    stub = stubs.stub("guardduty", region)
    stub.add_response("list_detectors", {"DetectorIds": [did]}, {})
    stub.add_response("get_detector", detector, {"DetectorId": did})
    return stub


def refusing(stubs: StubbedClients, region: str, code: str) -> None:
    stubs.stub("guardduty", region).add_client_error(
        "list_detectors", service_error_code=code, service_message="not for you", http_status_code=403
    )


# --- Stubber: real AWS shapes --------------------------------------------------------------------


def test_real_aws_update_sends_wanted_plus_echoed_features_but_never_both_runtime_features():
    """Real GetDetector lists CLOUD_TRAIL/DNS_LOGS/FLOW_LOGS (not updatable) and both runtime features
    (AWS rejects both in one update). The request must hold neither, and must echo the rest."""
    stubs = StubbedClients()
    stub = existing(stubs, "eu-west-1", real_detector(enabled=("LAMBDA_NETWORK_LOGS",)))
    expected_features = [
        {"Name": "EBS_MALWARE_PROTECTION", "Status": "ENABLED"},
        {"Name": "EKS_AUDIT_LOGS", "Status": "DISABLED"},
        {"Name": "LAMBDA_NETWORK_LOGS", "Status": "ENABLED"},
        {"Name": "RDS_LOGIN_EVENTS", "Status": "ENABLED"},
        {
            "Name": "RUNTIME_MONITORING",
            "Status": "ENABLED",
            "AdditionalConfiguration": [
                {"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"},
                {"Name": "ECS_FARGATE_AGENT_MANAGEMENT", "Status": "DISABLED"},
                {"Name": "EKS_ADDON_MANAGEMENT", "Status": "DISABLED"},
            ],
        },
        {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
    ]
    stub.add_response(
        "update_detector",
        {},
        {
            "DetectorId": "d" * 32,
            "FindingPublishingFrequency": "FIFTEEN_MINUTES",
            "Features": expected_features,
        },
    )
    out = run(
        {
            "regions": ["eu-west-1"],
            "finding_publishing_frequency": "FIFTEEN_MINUTES",
            "features": GDPR_FEATURES,
        },
        stubs,
    )
    assert not out.failed, out.result
    stubs.assert_all_used()
    region = out.result["detectors"][0]
    assert region["changed"] and region["actions"] == ["update"]
    enabled = {f["name"] for f in region["features"] if f["status"] == "ENABLED"}
    assert {"S3_DATA_EVENTS", "RUNTIME_MONITORING", "LAMBDA_NETWORK_LOGS", "CLOUD_TRAIL"} <= enabled


def test_real_aws_detector_already_right_is_left_alone():
    stubs = StubbedClients()
    existing(stubs, "eu-west-1", real_detector(frequency="FIFTEEN_MINUTES", enabled=GDPR_ENABLED))
    out = run(
        {
            "regions": ["eu-west-1"],
            "finding_publishing_frequency": "FIFTEEN_MINUTES",
            "features": GDPR_FEATURES,
        },
        stubs,
    )
    stubs.assert_all_used()  # and no update: the Stubber would have failed an unexpected call
    assert out.result["changed"] is False
    assert out.result["detectors"][0]["actions"] == []


def test_suspended_detector_is_re_enabled_with_enable_true():
    stubs = StubbedClients()
    stub = existing(stubs, "eu-west-1", real_detector(status="DISABLED"))
    stub.add_response("update_detector", {}, {"DetectorId": "d" * 32, "Enable": True})
    out = run({"regions": ["eu-west-1"]}, stubs)
    stubs.assert_all_used()
    assert out.result["detectors"][0]["status"] == "ENABLED"
    assert out.result["changed"] is True


def test_missing_detector_created_once_with_features_and_tags():
    stubs = StubbedClients()
    stub = stubs.stub("guardduty", "eu-west-1")
    stub.add_response("list_detectors", {"DetectorIds": []}, {})
    stub.add_response(
        "create_detector",
        {"DetectorId": "e" * 32},
        {
            "ClientToken": ANY,
            "Enable": True,
            "FindingPublishingFrequency": "FIFTEEN_MINUTES",
            "Features": [{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}],
            "Tags": {"Purpose": "gdpr"},
        },
    )
    out = run(
        {
            "regions": ["eu-west-1"],
            "finding_publishing_frequency": "FIFTEEN_MINUTES",
            "features": [{"name": "S3_DATA_EVENTS"}],
            "tags": {"Purpose": "gdpr"},
        },
        stubs,
    )
    stubs.assert_all_used()
    assert out.result["detectors"][0]["detector_id"] == "e" * 32


def test_tags_on_existing_detector_use_the_detector_arn_and_keep_user_tags():
    """moto 5.2.5 has no TagResource (HTTP 404), so this path is proven against the real API shape."""
    stubs = StubbedClients()
    stub = existing(stubs, "eu-west-1", real_detector(tags={"owner": "alice"}))
    stubs.stub("sts", "eu-west-1").add_response(
        "get_caller_identity",
        {"UserId": "AIDA", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops"},
        {},
    )
    stub.add_response(
        "tag_resource",
        {},
        {
            "ResourceArn": f"arn:aws:guardduty:eu-west-1:{ACCOUNT}:detector/{'d' * 32}",
            "Tags": {"Purpose": "gdpr"},
        },
    )
    out = run({"regions": ["eu-west-1"], "tags": {"Purpose": "gdpr"}}, stubs)
    stubs.assert_all_used()  # no untag_resource: purge_tags defaults to false
    assert out.result["detectors"][0]["tags"] == {"owner": "alice", "Purpose": "gdpr"}


def test_purge_tags_untags_the_rest():
    stubs = StubbedClients()
    stub = existing(stubs, "eu-west-1", real_detector(tags={"owner": "alice", "Purpose": "gdpr"}))
    stubs.stub("sts", "eu-west-1").add_response(
        "get_caller_identity",
        {"UserId": "A", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops"},
        {},
    )
    stub.add_response(
        "untag_resource",
        {},
        {"ResourceArn": f"arn:aws:guardduty:eu-west-1:{ACCOUNT}:detector/{'d' * 32}", "TagKeys": ["owner"]},
    )
    out = run({"regions": ["eu-west-1"], "tags": {"Purpose": "gdpr"}, "purge_tags": True}, stubs)
    stubs.assert_all_used()
    assert out.result["detectors"][0]["tags"] == {"Purpose": "gdpr"}


@pytest.mark.parametrize(
    "code", ["UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"]
)
def test_discovered_region_not_opted_in_that_refuses_is_skipped_and_others_done(code):
    stubs = StubbedClients()
    discovered(stubs, ["eu-west-1", "me-south-1"])
    refusing(stubs, "me-south-1", code)
    stub = existing(stubs, "eu-west-1", real_detector(status="DISABLED"))
    stub.add_response("update_detector", {}, {"DetectorId": "d" * 32, "Enable": True})
    # Asked after the error: is me-south-1 really a region the account has not opted in to?
    stubs.known_regions_answer({"me-south-1": "not-opted-in"})
    out = run({}, stubs)
    stubs.assert_all_used()
    assert not out.failed, out.result
    assert [d["region"] for d in out.result["detectors"]] == ["eu-west-1"]
    assert out.result["changed"] is True
    assert [s["region"] for s in out.result["skipped_regions"]] == ["me-south-1"]
    assert code in out.result["skipped_regions"][0]["reason"]
    assert any("me-south-1" in w for w in out.warnings)
    assert out.result["region_counts"] == {"done": 1, "refused": 1, "failed": 0}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", "not-opted-in"),  # a denial is never a refusal
        ("AccessDenied", "opt-in-not-required"),
        ("UnauthorizedOperation", "opt-in-not-required"),
        ("UnrecognizedClientException", "opt-in-not-required"),  # enabled region: a credentials problem
        ("UnrecognizedClientException", "opted-in"),
    ],
)
def test_discovered_region_denying_or_enabled_fails_the_run_after_the_others(code, status):
    """Issue 10: AccessDenied everywhere ended rc=0 with no detector; now every such region fails."""
    stubs = StubbedClients()
    discovered(stubs, ["eu-west-1", "me-south-1"])
    refusing(stubs, "me-south-1", code)
    stub = existing(stubs, "eu-west-1", real_detector(status="DISABLED"))
    stub.add_response("update_detector", {}, {"DetectorId": "d" * 32, "Enable": True})
    if code in ("UnrecognizedClientException",):
        stubs.known_regions_answer({"me-south-1": status})
    out = run({}, stubs)
    stubs.assert_all_used()  # eu-west-1 was still done
    assert out.failed
    assert out.result["failed_regions"][0]["region"] == "me-south-1"
    assert code in out.result["msg"] and "me-south-1" in out.result["msg"]
    assert out.result["skipped_regions"] == []
    assert out.result["region_counts"] == {"done": 1, "refused": 0, "failed": 1}
    assert out.result["changed"] is True


def test_refusal_shaped_error_in_a_named_region_fails_the_run():
    """A region the user named is never skipped, even one the account has not opted in to."""
    stubs = StubbedClients()
    stubs.known_regions_answer({"me-south-1": "not-opted-in"})
    refusing(stubs, "me-south-1", "UnrecognizedClientException")
    existing(stubs, "eu-west-1", real_detector(enabled=()))
    out = run(
        {"regions": ["me-south-1", "eu-west-1"], "variable_names": {"regions": "guardduty_regions"}}, stubs
    )
    stubs.assert_all_used()
    assert out.failed
    assert [f["region"] for f in out.result["failed_regions"]] == ["me-south-1"]
    assert "has not opted in to me-south-1" in out.result["msg"]
    assert "leave it out of guardduty_regions" in out.result["msg"]
    assert out.result["region_counts"] == {"done": 1, "refused": 0, "failed": 1}


def test_connection_lost_in_every_region_fails_the_run():
    """Issue 10: the endpoint killed mid-run gave rc=0 with regions "skipped"."""
    stubs = StubbedClients()
    discovered(stubs, ["eu-west-1", "eu-west-2"])
    lost = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    with mock.patch.object(module, "read_region", side_effect=lost):
        out = run({}, stubs)
    assert out.failed
    assert sorted(f["region"] for f in out.result["failed_regions"]) == ["eu-west-1", "eu-west-2"]
    assert out.result["region_counts"] == {"done": 0, "refused": 0, "failed": 2}


def test_throttled_calls_are_retried_until_they_pass():
    """Issue 10: ThrottlingException was never retried (GuardDuty's throttling code)."""
    stubs = StubbedClients()
    stub = stubs.stub("guardduty", "eu-west-1")
    for _n in range(3):
        stub.add_client_error(
            "list_detectors", service_error_code="ThrottlingException", http_status_code=400
        )
    stub.add_response("list_detectors", {"DetectorIds": ["d" * 32]}, {})
    stub.add_client_error(
        "get_detector", service_error_code="InternalServerErrorException", http_status_code=500
    )
    stub.add_response("get_detector", real_detector(), {"DetectorId": "d" * 32})
    out = run({"regions": ["eu-west-1"]}, stubs)
    stubs.assert_all_used()
    assert not out.failed, out.result
    assert len(stubs.sleeps) == 4
    assert out.result["region_counts"] == {"done": 1, "refused": 0, "failed": 0}


def test_unknown_region_is_rejected_before_any_call_naming_the_variable():
    """Issue 10 item 6: eu-wset-1 passed the format check and failed after other regions were written."""
    stubs = StubbedClients()
    stubs.known_regions_answer()
    stubs.stub("guardduty", "eu-west-1")  # no responses: any GuardDuty call fails the test
    out = run(
        {"regions": ["eu-west-1", "eu-wset-1"], "variable_names": {"regions": "guardduty_regions"}},
        stubs,
    )
    stubs.assert_all_used()
    assert out.failed
    assert "eu-wset-1 in guardduty_regions (did you mean eu-west-1?)" in out.result["msg"]
    assert out.result["unknown_regions"] == ["eu-wset-1"]


def test_unknown_home_region_is_named_by_its_variable():
    stubs = StubbedClients()
    stubs.known_regions_answer()
    out = run(
        {"regions": ["eu-west-1"], "region": "eu-wset-1", "variable_names": {"region": "guardduty_region"}},
        stubs_for_home(stubs, "eu-wset-1"),
    )
    assert out.failed
    assert "eu-wset-1 in guardduty_region" in out.result["msg"]


def stubs_for_home(stubs: StubbedClients, home: str) -> StubbedClients:
    """The ec2 client of ``home`` answers like eu-west-1's (moto does: one endpoint for all)."""
    stubs.clients[("ec2", home)] = stubs.clients[("ec2", "eu-west-1")]
    return stubs


def test_other_error_fails_after_all_regions_ran_with_per_region_detail():
    stubs = StubbedClients()
    stub = existing(stubs, "eu-west-1", real_detector())
    stub.add_response(
        "update_detector", {}, {"DetectorId": "d" * 32, "FindingPublishingFrequency": "ONE_HOUR"}
    )
    broken = existing(stubs, "eu-central-1", real_detector(), did="f" * 32)
    broken.add_client_error("update_detector", service_error_code="BadRequestException", http_status_code=400)
    out = run({"regions": ["eu-west-1", "eu-central-1"], "finding_publishing_frequency": "ONE_HOUR"}, stubs)
    stubs.assert_all_used()  # eu-west-1 was updated although eu-central-1 failed
    assert out.failed
    assert out.result["failed_regions"][0]["region"] == "eu-central-1"
    assert "BadRequestException" in out.result["failed_regions"][0]["error"]
    assert "eu-central-1" in out.result["msg"]
    assert out.result["changed"] is True
    assert [d["region"] for d in out.result["detectors"]] == ["eu-west-1"]


def test_denied_change_fails_the_run_and_reports_changed():
    """E.g. an SCP that allows reading GuardDuty but denies UpdateDetector: that is not "done"."""
    stubs = StubbedClients()
    denied = existing(stubs, "eu-south-1", real_detector(status="DISABLED"))
    denied.add_client_error(
        "update_detector", service_error_code="AccessDeniedException", http_status_code=403
    )
    out = run({"regions": ["eu-south-1"]}, stubs)
    stubs.assert_all_used()
    assert out.failed
    assert out.result["failed_regions"][0]["region"] == "eu-south-1"
    assert "AccessDeniedException" in out.result["msg"]
    assert out.result["changed"] is True


def test_failure_after_a_write_reports_changed():
    stubs = StubbedClients()
    stub = stubs.stub("guardduty", "eu-west-1")
    stub.add_response("list_detectors", {"DetectorIds": []}, {})
    stub.add_client_error("create_detector", service_error_code="BadRequestException", http_status_code=400)
    out = run({"regions": ["eu-west-1"]}, stubs)
    assert out.failed
    assert out.result["changed"] is True  # whether AWS created it is unknown: say so
    assert "BadRequestException" in out.result["failed_regions"][0]["error"]


def test_check_mode_reads_only():
    stubs = StubbedClients()
    stubs.stub("guardduty", "eu-west-1").add_response("list_detectors", {"DetectorIds": []}, {})
    existing(stubs, "eu-central-1", real_detector(status="DISABLED", tags={"x": "y"}))
    out = run(
        {"regions": ["eu-west-1", "eu-central-1"], "tags": {"a": "b"}, "purge_tags": True},
        stubs,
        check_mode=True,
        diff=True,
    )
    stubs.assert_all_used()  # any write would have hit an unstubbed call and failed
    assert out.result["changed"] is True
    by_region = {d["region"]: d for d in out.result["detectors"]}
    assert by_region["eu-west-1"]["actions"] == ["create"]
    assert by_region["eu-west-1"]["detector_id"] is None
    assert by_region["eu-central-1"]["actions"] == ["update", "tag", "untag"]
    diff = out.result["diff"]
    assert diff["before"]["eu-west-1"]["status"] is None
    assert diff["after"]["eu-west-1"]["status"] == "ENABLED"
    assert diff["before"]["eu-central-1"]["status"] == "DISABLED"
    assert diff["after"]["eu-central-1"]["tags"] == {"a": "b"}


def test_both_runtime_features_rejected_before_any_call():
    stubs = StubbedClients()
    stubs.stub("guardduty", "eu-west-1")  # no responses: any call fails the test
    out = run(
        {
            "regions": ["eu-west-1"],
            "features": [{"name": "RUNTIME_MONITORING"}, {"name": "EKS_RUNTIME_MONITORING"}],
        },
        stubs,
    )
    assert out.failed
    assert "RUNTIME_MONITORING and EKS_RUNTIME_MONITORING" in out.result["msg"]


def test_no_diff_key_without_diff_mode():
    stubs = StubbedClients()
    existing(stubs, "eu-west-1", real_detector())
    out = run({"regions": ["eu-west-1"]}, stubs)
    assert "diff" not in out.result


# --- moto: what the embedded AWS does ------------------------------------------------------------
# The moto tests share one embedded AWS (``shared_aws``: one reset for the module, not one per test):
# each works in regions no other one touches, and the test of every region runs last.


def gd_client(region: str = "eu-west-1") -> Any:
    return boto3.client("guardduty", region_name=region)


def test_moto_update_replaces_the_feature_list(shared_aws):
    """The premise of echoing features: moto 5.2.5 drops features an UpdateDetector leaves out.

    If this starts failing, moto merges like AWS does, and the echo is merely redundant there.
    """
    client = gd_client("ap-south-1")
    did = client.create_detector(Enable=True, Features=[{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}])[
        "DetectorId"
    ]
    client.update_detector(DetectorId=did, Features=[{"Name": "RDS_LOGIN_EVENTS", "Status": "ENABLED"}])
    assert [f["Name"] for f in client.get_detector(DetectorId=did)["Features"]] == ["RDS_LOGIN_EVENTS"]


def test_moto_module_is_idempotent_and_keeps_unlisted_features(shared_aws):
    client = gd_client()
    did = client.create_detector(
        Enable=False, Features=[{"Name": "LAMBDA_NETWORK_LOGS", "Status": "ENABLED"}], Tags={"owner": "alice"}
    )["DetectorId"]
    args = {
        "regions": ["eu-west-1", "eu-west-2"],
        "finding_publishing_frequency": "FIFTEEN_MINUTES",
        "features": GDPR_FEATURES,
    }
    first = run(args)
    assert not first.failed, first.result
    assert first.result["changed"] is True
    second = run(args)
    assert second.result["changed"] is False, second.result
    detector = client.get_detector(DetectorId=did)
    assert detector["Status"] == "ENABLED"
    assert detector["Tags"] == {"owner": "alice"}
    features = {f["Name"]: f for f in detector["Features"]}
    assert features["LAMBDA_NETWORK_LOGS"]["Status"] == "ENABLED"  # not listed, kept
    assert features["RUNTIME_MONITORING"]["AdditionalConfiguration"] == [
        {"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}
    ]
    assert len(gd_client("eu-west-2").list_detectors()["DetectorIds"]) == 1


def test_moto_two_detectors_warn_and_first_sorted_is_managed(shared_aws):
    client = gd_client("ca-central-1")
    ids = sorted(client.create_detector(Enable=False)["DetectorId"] for _n in range(2))
    out = run({"regions": ["ca-central-1"]})
    assert out.result["detectors"][0]["detector_id"] == ids[0]
    assert out.result["detectors"][0]["other_detector_ids"] == ids[1:]
    assert any("2 detectors" in w for w in out.warnings)
    assert client.get_detector(DetectorId=ids[0])["Status"] == "ENABLED"
    assert client.get_detector(DetectorId=ids[1])["Status"] == "DISABLED"
    assert sorted(client.list_detectors()["DetectorIds"]) == ids  # never a third one


def test_moto_check_mode_changes_nothing(shared_aws):
    client = gd_client("eu-north-1")
    did = client.create_detector(Enable=False)["DetectorId"]
    out = run({"regions": ["eu-north-1", "eu-west-3"], "features": GDPR_FEATURES}, check_mode=True)
    assert out.result["changed"] is True
    assert client.get_detector(DetectorId=did)["Status"] == "DISABLED"
    assert gd_client("eu-west-3").list_detectors()["DetectorIds"] == []


def test_moto_disabled_and_absent(shared_aws):
    client = gd_client("sa-east-1")
    did = client.create_detector(Enable=True)["DetectorId"]
    out = run({"regions": ["sa-east-1", "us-west-1"], "state": "disabled"})
    assert client.get_detector(DetectorId=did)["Status"] == "DISABLED"
    assert gd_client("us-west-1").list_detectors()["DetectorIds"] == []  # nothing created to suspend
    assert [d["changed"] for d in out.result["detectors"]] == [True, False]
    out = run({"regions": ["sa-east-1"], "state": "absent"})
    assert out.result["changed"] is True
    assert client.list_detectors()["DetectorIds"] == []


def test_moto_default_regions_are_every_enabled_region(shared_aws):
    """Last: it writes a detector in every region."""
    out = run({"finding_publishing_frequency": "ONE_HOUR"})
    regions = [d["region"] for d in out.result["detectors"]]
    described = boto3.client("ec2", region_name="eu-west-1").describe_regions()["Regions"]
    assert regions == sorted(r["RegionName"] for r in described)
    assert len(regions) > 1
