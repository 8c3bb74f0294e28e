"""Unit tests of gdpr.aws_monitoring.gdpr_evidence_info against the embedded AWS (moto, ``aws`` fixture).

moto does not implement logs:GetDataProtectionPolicy (HTTP 500): against moto those rows are UNKNOWN
with the reason, and the PASS/FAIL paths of that read are tested with botocore's Stubber at the API
boundary (real botocore client validating every request against the service model).
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import botocore.client
import pytest
from log_groups_stubs import stubbed_client
from module_run import ModuleExit, run_main

from ansible_collections.gdpr.aws_monitoring.plugins.modules import gdpr_evidence_info as mod

EU, US = "eu-west-1", "us-east-1"
PREFIX = "/gdpr/t"
ACCESS = f"{PREFIX}/nginx/access"
AGENT_POLICY = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
FEATURES = [{"name": "S3_DATA_EVENTS", "status": "ENABLED"}]
RUNNING = {"status": "running", "configstatus": "configured", "version": "1.3"}


class Recorder:
    """Every AWS operation any botocore client makes, seen at botocore's single call entry point."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.operations: list[str] = []
        original = botocore.client.BaseClient._make_api_call

        def record(client: Any, operation_name: str, api_params: Any) -> Any:
            self.operations.append(f"{client.meta.service_model.service_name}:{operation_name}")
            return original(client, operation_name, api_params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)


def run_module(module: Any, args: dict[str, Any], check_mode: bool = False) -> ModuleExit:
    """Run the module's main() against the embedded AWS; its exit or failure is returned."""
    return run_main(module, dict(args, region=EU, _ansible_check_mode=check_mode))


def _estate() -> dict[str, Any]:
    """eu-west-1 as the roles leave it (one instance shipping logs); us-east-1 drifted."""
    gd = boto3.client("guardduty", region_name=EU)
    gd.create_detector(
        Enable=True,
        FindingPublishingFrequency="FIFTEEN_MINUTES",
        Features=[{"Name": "S3_DATA_EVENTS", "Status": "ENABLED"}],
    )
    boto3.client("guardduty", region_name=US).create_detector(Enable=False)
    kms = boto3.client("kms", region_name=EU).create_key()["KeyMetadata"]["Arn"]
    logs = boto3.client("logs", region_name=EU)
    logs.create_log_group(logGroupName=ACCESS, kmsKeyId=kms)
    logs.put_retention_policy(logGroupName=ACCESS, retentionInDays=365)
    boto3.client("logs", region_name=US).create_log_group(logGroupName=f"{PREFIX}/stray")
    ec2 = boto3.client("ec2", region_name=EU)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]]
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName="agent", AssumeRolePolicyDocument=json.dumps(trust))
    iam.attach_role_policy(RoleName="agent", PolicyArn=AGENT_POLICY)
    iam.create_instance_profile(InstanceProfileName="agent")
    iam.add_role_to_instance_profile(InstanceProfileName="agent", RoleName="agent")
    ec2.associate_iam_instance_profile(IamInstanceProfile={"Name": "agent"}, InstanceId=ids[0])
    logs.create_log_stream(logGroupName=ACCESS, logStreamName=ids[0])
    logs.put_log_events(
        logGroupName=ACCESS,
        logStreamName=ids[0],
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "GET /"}],
    )
    return {"ids": ids}


def _args(ids: list[str], **extra: Any) -> dict[str, Any]:
    args = {
        "regions": [EU, US],
        "log_group_prefix": PREFIX,
        "guardduty_frequency": "FIFTEEN_MINUTES",
        "guardduty_features": FEATURES,
        "log_groups": [
            {"name": ACCESS, "region": EU, "hosts": ["web1", "web2"]},
            {"name": f"{PREFIX}/nginx/error", "region": EU, "hosts": ["web1"]},
        ],
        "instances": [
            {
                "instance_id": ids[0],
                "region": EU,
                "host": "web1",
                "log_groups": [ACCESS],
                "agent_status": RUNNING,
            },
            {"instance_id": ids[1], "region": EU, "host": "web2", "log_groups": [ACCESS]},
        ],
    }
    args.update(extra)
    return args


def _by_key(rows: list[dict[str, str]]) -> dict[tuple[str, str, str], dict[str, str]]:
    return {(r["region"], r["check_id"], r["resource"]): r for r in rows}


def test_rows_judge_the_estate_every_call_is_a_read_and_check_mode_is_the_same(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate = _estate()
    ids = estate["ids"]
    recorder = Recorder(monkeypatch)
    result = run_module(mod, _args(ids))
    assert not result.failed, result.result.get("msg")
    writes = [
        op for op in recorder.operations if not op.split(":")[1].startswith(("Describe", "Get", "List"))
    ]
    assert recorder.operations and writes == []
    rows = _by_key(result.result["rows"])
    detector = next(
        r for r in result.result["rows"] if r["region"] == EU and r["check_id"] == "guardduty_detector"
    )
    did = detector["resource"]
    expected = {
        (EU, "guardduty_detector", did): "PASS",
        (EU, "guardduty_frequency", did): "PASS",
        (EU, "guardduty_features", did): "PASS",
        (EU, "log_group_exists", ACCESS): "PASS",
        (EU, "log_group_retention", ACCESS): "PASS",
        (EU, "log_group_kms", ACCESS): "PASS",
        (EU, "log_group_data_protection", ACCESS): "UNKNOWN",
        (EU, "log_group_exists", f"{PREFIX}/nginx/error"): "FAIL",
        (EU, "instance_profile", ids[0]): "PASS",
        (EU, "instance_profile", ids[1]): "FAIL",
        (EU, "instance_logs_arriving", ids[0]): "PASS",
        (EU, "instance_logs_arriving", ids[1]): "FAIL",
        (EU, "agent_running", "web1"): "PASS",
        (EU, "agent_running", "web2"): "UNKNOWN",
        (US, "log_group_retention", f"{PREFIX}/stray"): "FAIL",
        (US, "log_group_kms", f"{PREFIX}/stray"): "FAIL",
        (US, "log_group_data_protection", f"{PREFIX}/stray"): "UNKNOWN",
    }
    assert {k: rows[k]["status"] for k in expected} == expected
    us_detector = [
        r for r in result.result["rows"] if r["region"] == US and r["check_id"] == "guardduty_detector"
    ]
    assert us_detector[0]["status"] == "FAIL" and "DISABLED" in us_detector[0]["detail"]
    assert us_detector[0]["article"] == "Art. 32" and "guardduty_state" in us_detector[0]["remediation"]
    assert "GetDataProtectionPolicy" in rows[(EU, "log_group_data_protection", ACCESS)]["detail"]
    assert "never expires" in rows[(US, "log_group_retention", f"{PREFIX}/stray")]["detail"]
    assert len(rows) == len(result.result["rows"])  # one row per (region, check, resource)
    assert result.result["header"]["account"] == "123456789012"
    assert result.result["changed"] is False

    # --check gives the same report (only the age of the newest log in the details may move).
    checked = run_module(mod, _args(ids), check_mode=True).result["rows"]
    assert [dict(r, detail="") for r in checked] == [dict(r, detail="") for r in result.result["rows"]]

    # Skipped checks give no rows and cost no calls.
    recorder.operations.clear()
    skip = ["log_group_data_protection", "instance_logs_arriving"]
    skipped = run_module(mod, _args(ids, skip_checks=skip)).result["rows"]
    assert not {r["check_id"] for r in skipped} & set(skip) and len(skipped) < len(rows)
    assert not any("DataProtection" in op or "DescribeLogStreams" in op for op in recorder.operations)


def test_every_enabled_region_is_read_without_a_region_list_asking_describe_regions_once(aws: str) -> None:
    """A log group names eu-west-1 (checked against DescribeRegions with opt-in status): that answer
    also gives the enabled regions. A second DescribeRegions was one more round trip before any
    region was read. (One 38-region run for both facts: each costs seconds on moto.)"""
    args = {"log_group_prefix": PREFIX, "guardduty_frequency": "FIFTEEN_MINUTES"}
    result = run_module(mod, dict(args, log_groups=[{"name": ACCESS, "region": EU}]))
    assert not result.failed, result.result.get("msg")
    regions = {r["region"] for r in result.result["rows"] if r["check_id"] == "guardduty_detector"}
    assert len(regions) > 20 and {EU, US} <= regions
    assert result.result["region_counts"]["done"] == len(regions)
    assert all(r["status"] == "FAIL" for r in result.result["rows"] if r["check_id"] == "guardduty_detector")
    assert result.result["calls"]["ec2:DescribeRegions"] == 1


def test_enabled_in_keeps_opted_in_and_opt_in_not_required() -> None:
    statuses = {"eu-west-1": "opt-in-not-required", "af-south-1": "not-opted-in", "me-south-1": "opted-in"}
    assert mod.enabled_in(statuses) == ["eu-west-1", "me-south-1"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (
            {"skip_checks": ["log_group_kms", "nosuch"]},
            "evidence_report_skip_checks: unknown check id(s) nosuch",
        ),
        (
            {"min_retention_days": 400, "max_retention_days": 30},
            "evidence_report_min_retention_days (400) is above evidence_report_max_retention_days (30)",
        ),
    ],
)
def test_bad_input_fails_before_any_call_naming_the_variable(
    aws: str, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], words: str
) -> None:
    recorder = Recorder(monkeypatch)
    names = {
        "skip_checks": "evidence_report_skip_checks",
        "min_retention_days": "evidence_report_min_retention_days",
        "max_retention_days": "evidence_report_max_retention_days",
    }
    result = run_module(mod, _args(["i-1", "i-2"], variable_names=names, **extra))
    assert result.failed and words in result.result["msg"]
    assert recorder.operations == []


def test_unknown_region_fails_naming_where_it_came_from(moto_endpoint: str) -> None:
    args = _args(["i-1", "i-2"], regions=["eu-wset-1"], variable_names={"regions": "evidence_report_regions"})
    result = run_module(mod, args)
    assert result.failed and "eu-wset-1 in evidence_report_regions" in result.result["msg"]


def test_a_region_that_errors_gives_unknown_rows_and_fails_after_the_others(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _estate()["ids"]
    original = mod.read_guardduty

    def denied(client: Any) -> Any:
        if client.meta.region_name == US:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListDetectors"
            )
        return original(client)

    monkeypatch.setattr(mod, "read_guardduty", denied)
    result = run_module(mod, _args(ids))
    assert result.failed and "us-east-1: ClientError" in result.result["msg"]
    rows = result.result["rows"]
    assert {r["status"] for r in rows if r["region"] == US} == {"UNKNOWN"}
    assert any(r["region"] == EU and r["status"] == "PASS" for r in rows)


def test_data_protection_pass_fail_and_not_found_with_stubber() -> None:
    client, stub = stubbed_client(EU)
    masking = json.dumps({"Statement": [{"Operation": {"Deidentify": {"MaskConfig": {}}}}]})
    stub.add_response("get_data_protection_policy", {"policyDocument": masking}, {"logGroupIdentifier": "/a"})
    stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/b"}, {"logGroupIdentifier": "/b"}
    )
    stub.add_client_error(
        "get_data_protection_policy",
        "ResourceNotFoundException",
        expected_params={"logGroupIdentifier": "/c"},
    )
    found = mod.read_data_protection(client, ["/a", "/b", "/c"])
    assert found == {"/a": (masking, None), "/b": ("", None), "/c": ("", None)}
    stub.assert_no_pending_responses()


def test_data_protection_endpoint_without_the_operation_is_unknown_and_asked_once() -> None:
    client, stub = stubbed_client(EU)
    stub.add_client_error("get_data_protection_policy", "InternalFailure", http_status_code=500)
    found = mod.read_data_protection(client, ["/a", "/b"])
    assert set(found) == {"/a", "/b"} and found["/a"][0] is None and "cannot answer" in found["/a"][1]
    stub.assert_no_pending_responses()


def test_data_protection_access_denied_is_an_error() -> None:
    client, stub = stubbed_client(EU)
    stub.add_client_error("get_data_protection_policy", "AccessDeniedException")
    with pytest.raises(botocore.exceptions.ClientError):
        mod.read_data_protection(client, ["/a"])


def test_streams_count_by_instance_id_or_exact_host_name_with_stubber() -> None:
    """DescribeLogStreams answers queued with botocore's Stubber (the matching is the point here)."""
    client, stub = stubbed_client(EU)
    streams = [
        {"logStreamName": "i-0aaa", "lastEventTimestamp": 5, "lastIngestionTime": 7},
        {"logStreamName": "web-b", "lastIngestionTime": 9},
        {"logStreamName": "web-bb", "lastIngestionTime": 50},  # another host: not web-b's
        {"logStreamName": "i-0ccc"},  # created, never written: no time
    ]
    stub.add_response("describe_log_streams", {"logStreams": streams}, {"logGroupName": "/g"})
    wanted = {"i-0aaa": set(), "i-0bbb": {"web-b"}, "i-0ccc": set()}
    assert mod.newest_stream_times(client, "/g", wanted) == {"i-0aaa": 7, "i-0bbb": 9}
    stub.assert_no_pending_responses()


def test_drift_is_flagged_exactly_with_its_articles(aws: str) -> None:
    """A clean region, then four drifts by hand: a detector suspended, a retention shortened, an
    instance's profile disassociated, an agent stopped. Exactly those four rows turn FAIL."""
    ids = _estate()["ids"]
    args = _args(
        ids,
        regions=[EU],
        log_groups=[{"name": ACCESS, "region": EU, "hosts": ["web1"]}],
        instances=[
            {
                "instance_id": ids[0],
                "region": EU,
                "host": "web1",
                "log_groups": [ACCESS],
                "agent_status": RUNNING,
            }
        ],
    )

    def not_passing(rows: list[dict[str, str]]) -> set[tuple[str, str]]:
        return {(r["check_id"], r["article"]) for r in rows if r["status"] != "PASS"}

    before = run_module(mod, args).result["rows"]
    assert not_passing(before) == {("log_group_data_protection", "Art. 25")}  # moto cannot answer

    gd = boto3.client("guardduty", region_name=EU)
    gd.update_detector(DetectorId=gd.list_detectors()["DetectorIds"][0], Enable=False)
    boto3.client("logs", region_name=EU).put_retention_policy(logGroupName=ACCESS, retentionInDays=30)
    ec2 = boto3.client("ec2", region_name=EU)
    association = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"][0]
    ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
    args["instances"][0]["agent_status"] = {"status": "stopped", "configstatus": "configured"}

    after = run_module(mod, args).result["rows"]
    assert not_passing(after) == {
        ("log_group_data_protection", "Art. 25"),
        ("guardduty_detector", "Art. 32"),
        ("log_group_retention", "Art. 5(1)(e)"),
        ("instance_profile", "Art. 32"),
        ("agent_running", "Art. 32"),
    }
    assert {
        r["status"] for r in after if r["check_id"] != "log_group_data_protection" and r["status"] != "PASS"
    } == {"FAIL"}
