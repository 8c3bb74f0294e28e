"""Evidence checks of issue 14 (vpc_flow_logs, config_recording) in gdpr_evidence_info.

The module's main() runs against the embedded AWS (moto implements flow logs and Config recorders)
for one monitored instance: with the options off no row appears (estates without those roles get no
FAIL); on, the rows FAIL on a bare estate and PASS once a flow log and a recording recorder exist.
The judgements' other branches are checked directly.
"""

from __future__ import annotations

import boto3
from log_groups_stubs import ModuleExit
from test_gdpr_evidence_info import run_module

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev
from ansible_collections.gdpr.aws_monitoring.plugins.modules import gdpr_evidence_info as mod

EU = "eu-west-1"


def _instance() -> tuple[str, str]:
    ec2 = boto3.client("ec2", region_name=EU)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    return inst["InstanceId"], inst["VpcId"]


def _rows(result: ModuleExit, check_id: str) -> list[dict[str, str]]:
    return [r for r in result.result["rows"] if r["check_id"] == check_id]


def test_records_rows_only_when_asked_then_fail_then_pass(aws: str) -> None:
    instance_id, vpc_id = _instance()
    args = {
        "regions": [EU],
        "instances": [{"instance_id": instance_id, "region": EU, "host": "web1"}],
        "skip_checks": ["guardduty_detector", "guardduty_frequency", "guardduty_features"],
    }
    off = run_module(mod, args)
    assert _rows(off, "vpc_flow_logs") == [] and _rows(off, "config_recording") == []

    args.update(vpc_flow_logs=True, config_recording=True)
    bare = run_module(mod, args)
    [flow] = _rows(bare, "vpc_flow_logs")
    [recording] = _rows(bare, "config_recording")
    assert (flow["status"], flow["resource"], flow["article"]) == ("FAIL", vpc_id, "Art. 30")
    assert recording["status"] == "FAIL" and "no AWS Config recorder" in recording["detail"]

    boto3.client("logs", region_name=EU).create_log_group(logGroupName="/gdpr/t/vpc-flow-logs")
    boto3.client("ec2", region_name=EU).create_flow_logs(
        ResourceIds=[vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="/gdpr/t/vpc-flow-logs",
        DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/r",
    )
    config = boto3.client("config", region_name=EU)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "gdpr-monitoring",
            "roleARN": "arn:aws:iam::123456789012:role/r",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    stopped = run_module(mod, args)
    assert _rows(stopped, "vpc_flow_logs")[0]["status"] == "PASS"
    assert "stopped" in _rows(stopped, "config_recording")[0]["detail"]

    boto3.client("s3", region_name=EU).create_bucket(
        Bucket="gdpr-evidence-records", CreateBucketConfiguration={"LocationConstraint": EU}
    )
    config.put_delivery_channel(
        DeliveryChannel={"name": "gdpr-monitoring", "s3BucketName": "gdpr-evidence-records"}
    )
    config.start_configuration_recorder(ConfigurationRecorderName="gdpr-monitoring")
    recording_on = run_module(mod, args)
    assert [r["status"] for r in _rows(recording_on, "config_recording")] == ["PASS"]


def test_judgements_other_branches() -> None:
    assert ev.judge_vpc_flow_logs(None).status == "UNKNOWN"
    inactive = ev.judge_vpc_flow_logs([{"FlowLogId": "fl-1", "FlowLogStatus": "INACTIVE"}])
    assert inactive == ev.Verdict("FAIL", "flow log(s) fl-1 not ACTIVE")
    assert ev.judge_config_recording(None).status == "UNKNOWN"
    partial = ev.judge_config_recording([{"name": "default", "recording": True, "all_supported": False}])
    assert partial.status == "FAIL" and "only some" in partial.detail
    failing = ev.judge_config_recording(
        [{"name": "d", "recording": True, "all_supported": True, "last_status": "FAILURE"}]
    )
    assert failing.status == "FAIL"
    assert {"vpc_flow_logs", "config_recording"} <= set(ev.CHECKS_BY_ID)
