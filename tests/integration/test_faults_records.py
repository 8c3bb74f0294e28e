"""Reliability of the records plays (guardduty response, cloudtrail, flow_logs, config_recorder)
against the embedded AWS behind the fault proxy (tests/harness/fault_proxy.py), as test_faults.py
does for guardduty, log_groups and agent_iam. A run's word must be the estate's state: under 30%
throttling of every service they call the plays converge and a second run changes nothing; a denied
region fails the run naming it while the other regions are done; after the endpoint died mid-run a
rerun converges without a second trail, bucket, recorder, rule, topic or key.

Controller only, no containers: one opted-in instance per region in its region's default VPC, given
to Ansible as a static inventory with the hostvars amazon.aws.aws_ec2 sets (instance_id, vpc_id,
placement.region). Four regions, one moto, one proxy, as test_faults.py. The run is
``site.yml --tags guardduty_response,records``; the detectors the response play needs are made
directly (the guardduty play is test_faults.py's). Not here, to keep the lane's time: the CIS
alarms (home region only, one task per alarm) and the findings export (no publishing destinations
on moto; test_guardduty_publishing_destinations uses the Stubber).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import boto3
import fault_proxy
import pytest
from dead_endpoint import refused_once_dead
from playbook_run import Run

ROOT = Path(__file__).resolve().parents[2]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "eu-north-1"]
HOME = "eu-west-1"
# Every service the records plays call: the throttling test proves each one was throttled.
SERVICES = {"events", "sns", "s3", "cloudtrail", "config", "kms", "logs", "iam", "ec2", "sts"}
# 30% of every service's calls; SNS makes about three calls a run (the topic in the home region):
# at 30% all of them went through in one of our runs, so it gets 60% to be throttled for sure.
# CloudTrail is called only by the rerun (the first run dies before the trail), a handful of calls:
# at 30% none was throttled in one run of the fresh-clone check, so it gets 50% (0.5^7 < 1% that none
# is; 11 throttles in a row, which would exhaust the retries, about 0.05% per call).
THROTTLE = {"*": 30, "sns": 60, "cloudtrail": 50}
DENIED_REGION = "eu-central-1"
RULES = [
    "gdpr-guardduty-findings",
    "gdpr-guardduty-tamper",
    "gdpr-guardduty-tamper-disable",
    "gdpr-guardduty-tamper-logs",
]
EXTRA_VARS = {
    "guardduty_regions": REGIONS,
    "guardduty_home_region": HOME,
    "cloudtrail_home_region": HOME,
    "config_recorder_regions": REGIONS,
    "config_recorder_home_region": HOME,
    # moto does not implement PutDataProtectionPolicy (tested with botocore's Stubber in tests/unit).
    "log_groups_data_protection": False,
    # moto has no GuardDuty publishing destinations (HTTP 404): the export is tested with the Stubber.
    "guardduty_export": False,
    # 14 filters and 14 alarms in the home region only: one task each, seconds the budget has not.
    "cloudtrail_cis_alarms": False,
}


def _direct(proxy: fault_proxy.FaultProxy, service: str, region: str) -> Any:
    """A client that reads moto past the faults."""
    return boto3.client(service, region_name=region, endpoint_url=proxy.upstream_endpoint)


def _fleet(proxy: fault_proxy.FaultProxy) -> dict[str, Any]:
    hosts = {}
    for region in REGIONS:
        # The response play needs a detector per region; the guardduty play is test_faults.py's.
        _direct(proxy, "guardduty", region).create_detector(Enable=True)
        ec2 = _direct(proxy, "ec2", region)
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        tags = [{"Key": "gdpr_monitoring", "Value": "true"}]
        instance = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]
        hosts[instance["InstanceId"]] = {
            "instance_id": instance["InstanceId"],
            "vpc_id": instance["VpcId"],
            "placement": {"region": region},
        }
    return {"all": {"children": {"linux": {"hosts": hosts}, "windows": {"hosts": {}}}}}


@pytest.fixture
def estate(faulty_aws: fault_proxy.FaultProxy, tmp_path: Path) -> dict[str, Any]:
    inventory = tmp_path / "inventory.json"
    fleet = _fleet(faulty_aws)
    inventory.write_text(json.dumps(fleet))
    return {"proxy": faulty_aws, "inventory": inventory, "hosts": fleet["all"]["children"]["linux"]["hosts"]}


def _play(estate: dict[str, Any], *args: str, playbook: Path | None = None, **extra: Any) -> Run:
    env = dict(os.environ)  # AWS_URL/AWS_ENDPOINT_URL: the proxy (faulty_aws fixture)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "AWS_REGION": HOME,
        }
    )
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(estate["inventory"]),
        str(playbook or ROOT / "site.yml"),
        *([] if playbook else ["--tags", "guardduty_response,records"]),
        "-e",
        json.dumps({**EXTRA_VARS, **extra}),
        *args,
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    return Run(done.returncode, done.stdout + done.stderr)


# The multi-region roles (the trail, its key and bucket are in the home region only: the other
# test covers them, and leaving them out here saves a third of this run).
ROLES = {
    "guardduty_response": ("gdpr.aws_monitoring.guardduty", "response"),
    "flow_logs": ("gdpr.aws_monitoring.flow_logs", "main"),
    "config_recorder": ("gdpr.aws_monitoring.config_recorder", "main"),
}


DONE = "{{ outcomes | combine({records_case: {'failed': false}}) }}"
RESCUED = "{{ outcomes | combine({records_case: {'failed': true, 'msg': ansible_failed_result | to_json}}) }}"


def _each_role(estate: dict[str, Any], tmp_path: Path, **extra: Any) -> tuple[Run, dict[str, dict[str, Any]]]:
    """Every records role in ONE ansible-playbook run, each in its own block/rescue, so that one
    role's failure does not keep the others from running (a real run ends at the first failed
    play); per role ``{"failed": bool, "msg": ...}``."""
    results = tmp_path / "roles.json"
    tasks: list[dict[str, Any]] = []
    for case, (role, entry) in ROLES.items():
        tasks.append(
            {
                "name": case,
                "vars": {"records_case": case},
                "block": [
                    {"ansible.builtin.include_role": {"name": role, "tasks_from": entry}},
                    {"ansible.builtin.set_fact": {"outcomes": DONE}},
                ],
                "rescue": [{"ansible.builtin.set_fact": {"outcomes": RESCUED}}],
            }
        )
    tasks.append({"ansible.builtin.copy": {"content": "{{ outcomes | to_json }}", "dest": str(results)}})
    playbook = tmp_path / "roles.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": sys.executable, "outcomes": {}},
                    "tasks": tasks,
                }
            ]
        )
    )
    run = _play(estate, playbook=playbook, **extra)
    return run, json.loads(results.read_text()) if results.exists() else {}


def _account(proxy: fault_proxy.FaultProxy) -> str:
    return _direct(proxy, "sts", HOME).get_caller_identity()["Account"]


def _rules(proxy: fault_proxy.FaultProxy, region: str) -> list[str]:
    return sorted(r["Name"] for r in _direct(proxy, "events", region).list_rules(NamePrefix="gdpr-")["Rules"])


def _flow_log_vpcs(proxy: fault_proxy.FaultProxy, region: str) -> list[str]:
    return sorted(f["ResourceId"] for f in _direct(proxy, "ec2", region).describe_flow_logs()["FlowLogs"])


def _recorders(proxy: fault_proxy.FaultProxy, region: str) -> list[tuple[str, bool]]:
    config = _direct(proxy, "config", region)
    return [
        (s["name"], s["recording"])
        for s in config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    ]


def _topics(proxy: fault_proxy.FaultProxy, region: str) -> list[str]:
    return [t["TopicArn"] for t in _direct(proxy, "sns", region).list_topics()["Topics"]]


def _vpcs_of(estate: dict[str, Any], region: str) -> list[str]:
    return sorted({h["vpc_id"] for h in estate["hosts"].values() if h["placement"]["region"] == region})


def test_a_denied_region_fails_naming_it_and_the_other_regions_are_done(
    estate: dict[str, Any], tmp_path: Path
) -> None:
    """Every service refuses eu-central-1 (as an SCP would). Each multi-region role fails naming it,
    after the other regions got their alert rules, flow logs and recorder. Before the fix flow_logs
    and config_recorder failed in their read-only pass and no region got anything."""
    proxy = estate["proxy"]
    proxy.configure(deny={DENIED_REGION: ""})
    run, outcomes = _each_role(estate, tmp_path)
    assert run.rc == 0, str(run)  # each role's failure is rescued: the outcomes say which failed
    for role in ("guardduty_response", "flow_logs", "config_recorder"):
        assert outcomes[role]["failed"], role
        assert DENIED_REGION in outcomes[role]["msg"], (role, outcomes[role]["msg"][:2000])
    for region in REGIONS:
        if region == DENIED_REGION:
            assert _rules(proxy, region) == [], region
            assert _flow_log_vpcs(proxy, region) == [], region
            assert _recorders(proxy, region) == [], region
        else:
            assert _rules(proxy, region) == RULES, region
            assert _flow_log_vpcs(proxy, region) == _vpcs_of(estate, region), region
            assert _recorders(proxy, region) == [("gdpr-monitoring", True)], region


def _assert_converged_once(estate: dict[str, Any]) -> None:
    """One of everything: a trail, the collection's buckets (each tagged as its own), a topic, one
    customer managed key per alias and no orphan key, and per region the rules, a flow log per VPC
    and one recording recorder."""
    proxy = estate["proxy"]
    account = _account(proxy)
    trails = _direct(proxy, "cloudtrail", HOME).describe_trails()["trailList"]
    assert [t["Name"] for t in trails] == ["gdpr-trail"], trails
    s3 = _direct(proxy, "s3", HOME)
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    assert buckets == [f"gdpr-cloudtrail-{account}-{HOME}", f"gdpr-config-{account}-{HOME}"], buckets
    for bucket in buckets:
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
        assert tags.get("gdpr-monitoring:managed-by") == "gdpr.aws_monitoring", (bucket, tags)
        assert s3.get_bucket_policy(Bucket=bucket)["Policy"], bucket
    topic = f"arn:aws:sns:{HOME}:{account}:gdpr-guardduty-findings"
    for region in REGIONS:
        assert _topics(proxy, region) == ([topic] if region == HOME else []), region
        kms = _direct(proxy, "kms", region)
        aliases = kms.list_aliases()["Aliases"]
        targets = {a["TargetKeyId"] for a in aliases if a["AliasName"].startswith("alias/gdpr")}
        metas = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
        keys = {m["KeyId"] for m in metas if m["KeyManager"] == "CUSTOMER" and m["KeyState"] == "Enabled"}
        assert keys == targets, (region, keys, targets)
        assert _rules(proxy, region) == RULES, region
        assert _flow_log_vpcs(proxy, region) == _vpcs_of(estate, region), region
        assert _recorders(proxy, region) == [("gdpr-monitoring", True)], region


def test_throttled_run_cut_short_then_a_rerun_converges_without_duplicates(estate: dict[str, Any]) -> None:
    """30% of the calls of every service (SNS 60%) throttled throughout. The first run loses the endpoint
    right after S3 created the CloudTrail bucket (the answer lost: a bucket without tag, retention or
    anything else); the rerun must converge with one of everything. Before the fixes a 503 right
    after CreateBucket failed the run (the SDK's waiter has no retries), the rerun refused the
    half-made bucket as someone else's (its ownership tag was written last), and then, with the tag
    first, refused to "shorten" it (its retention rule, written last, was missing). The endpoint lost
    at CreateBucket itself then still left a bucket the rerun refused as someone else's: the roles
    now finish a blank, empty bucket of their derived name (s3_log_bucket recover_unfinished; the
    Stubber tests in tests/unit/plugins/modules/test_s3_log_bucket.py fix the write order)."""
    proxy = estate["proxy"]
    proxy.configure(
        throttle=THROTTLE, seed=30, die_at={"action": "s3:CreateBucket", "occurrence": 1, "forward": True}
    )
    # Once the proxy died, the rest of the run is refused at once (dead_endpoint.py).
    with refused_once_dead(proxy, REGIONS):
        broken = _play(estate)
    assert proxy.dead or proxy.config.deny, "the run never reached the call the proxy was to die at"
    assert broken.rc != 0, str(broken)
    proxy.configure(throttle=THROTTLE, seed=31)
    rerun = _play(estate)
    assert rerun.rc == 0, str(rerun)
    _assert_converged_once(estate)
    # No third run for changed=0: each role's own test proves its second run changes nothing, and
    # here it cost a third of this test (the test-time budget of make test).
    throttled = {r["service"] for r in proxy.operations() if r["fault"] == "throttle"}
    assert throttled >= SERVICES, f"not throttled: {SERVICES - throttled}"
