"""Reliability: the controller plays of site.yml (guardduty, log_groups, agent_iam) against the embedded
AWS behind the fault proxy (tests/harness/fault_proxy.py). A run's word must be the estate's state:
under 30% throttling of every service it converges, a denied region fails the run by name while the
other regions are done, and after the endpoint died mid-run a rerun converges without a second
detector, key or log group.

Controller only, no containers: the hosts are EC2 instances created in moto, given to Ansible as a
static inventory with the hostvars the amazon.aws.aws_ec2 inventory sets (instance_id,
placement.region); every controller task runs on localhost. Four regions keep it fast; the guardduty
play over all 38 regions under throttling is the benchmark's (tests/benchmarks/bench_faults.py).
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
# Every service the controller plays call: the throttling test proves each one was throttled.
SERVICES = {"guardduty", "logs", "kms", "ec2", "iam", "sts"}
DENIED_REGION = "eu-central-1"
AGENT_ROLE = "CloudWatchAgentServerRole"
KEY_ALIAS = "alias/gdpr-monitoring-logs"
EXTRA_VARS = {
    "guardduty_regions": REGIONS,
    # moto does not implement PutDataProtectionPolicy (tested with botocore's Stubber in tests/unit).
    "log_groups_data_protection": False,
}


def _direct(proxy: fault_proxy.FaultProxy, service: str, region: str) -> Any:
    """A client that reads moto past the faults."""
    return boto3.client(service, region_name=region, endpoint_url=proxy.upstream_endpoint)


def _fleet(proxy: fault_proxy.FaultProxy) -> dict[str, Any]:
    """One opted-in instance per region, as the aws_ec2 inventory would list them."""
    hosts = {}
    for region in REGIONS:
        ec2 = _direct(proxy, "ec2", region)
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        tags = [{"Key": "gdpr_monitoring", "Value": "true"}, {"Key": "gdpr_web_server", "Value": "nginx"}]
        instance = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )["Instances"][0]
        instance_id = instance["InstanceId"]
        hosts[instance_id] = {"instance_id": instance_id, "placement": {"region": region}}
    return {"all": {"children": {"linux": {"hosts": hosts}, "windows": {"hosts": {}}}}}


@pytest.fixture
def estate(faulty_aws: fault_proxy.FaultProxy, tmp_path: Path) -> dict[str, Any]:
    inventory = tmp_path / "inventory.json"
    fleet = _fleet(faulty_aws)
    inventory.write_text(json.dumps(fleet))
    instances = fleet["all"]["children"]["linux"]["hosts"]
    return {"proxy": faulty_aws, "inventory": inventory, "instances": instances}


def _play(estate: dict[str, Any]) -> Run:
    """``ansible-playbook site.yml --tags controller`` through the proxy."""
    env = dict(os.environ)  # AWS_URL/AWS_ENDPOINT_URL: the proxy (faulty_aws fixture)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        str(estate["inventory"]),
        str(ROOT / "site.yml"),
        "--tags",
        "controller",
        "-e",
        json.dumps(EXTRA_VARS),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    return Run(done.returncode, done.stdout + done.stderr)


def _detectors(proxy: fault_proxy.FaultProxy, region: str) -> list[str]:
    guardduty = _direct(proxy, "guardduty", region)
    ids = guardduty.list_detectors()["DetectorIds"]
    return [guardduty.get_detector(DetectorId=i)["Status"] for i in ids]


def _customer_keys(proxy: fault_proxy.FaultProxy, region: str) -> list[str]:
    """Enabled customer managed keys: a failed run must never leave a second one behind."""
    kms = _direct(proxy, "kms", region)
    keys = []
    for key in kms.list_keys()["Keys"]:
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] == "Enabled":
            keys.append(meta["Arn"])
    return keys


def _alias_target(proxy: fault_proxy.FaultProxy, region: str) -> str | None:
    aliases = _direct(proxy, "kms", region).list_aliases()["Aliases"]
    return next((a.get("TargetKeyId") for a in aliases if a["AliasName"] == KEY_ALIAS), None)


def _groups(proxy: fault_proxy.FaultProxy, region: str) -> list[dict[str, Any]]:
    return _direct(proxy, "logs", region).describe_log_groups()["logGroups"]


def _profile_of(proxy: fault_proxy.FaultProxy, region: str, instance_id: str) -> str | None:
    assocs = _direct(proxy, "ec2", region).describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}]
    )["IamInstanceProfileAssociations"]
    live = [a["IamInstanceProfile"]["Arn"] for a in assocs if a["State"] in ("associated", "associating")]
    return live[0] if len(live) == 1 else None


def _assert_region_done(estate: dict[str, Any], region: str) -> None:
    """One enabled detector; one key (the alias's); groups with retention, encrypted with it; the
    region's instance holds the agent's profile."""
    proxy = estate["proxy"]
    assert _detectors(proxy, region) == ["ENABLED"], region
    keys = _customer_keys(proxy, region)
    assert len(keys) == 1, (region, keys)
    assert keys[0].endswith(str(_alias_target(proxy, region))), region
    groups = _groups(proxy, region)
    assert groups, region
    for group in groups:
        assert group.get("retentionInDays"), (region, group)
        assert group.get("kmsKeyId") == keys[0], (region, group)
    for instance_id, hostvars in estate["instances"].items():
        if hostvars["placement"]["region"] == region:
            profile = _profile_of(proxy, region, instance_id)
            assert profile and profile.endswith(f"instance-profile/{AGENT_ROLE}"), (region, instance_id)


def test_access_denied_in_one_region_fails_naming_it_and_the_others_are_done(estate: dict[str, Any]) -> None:
    """Every service answers the region with its own access-denied error. The GuardDuty play, the
    first one, fails naming the region after the other regions got their detector (before the fix
    the region was "skipped as refused" and the run ended rc=0). Ansible ends a playbook at a play
    whose hosts all failed, so the later plays do not run: nothing may be written in that region."""
    proxy = estate["proxy"]
    proxy.configure(deny={DENIED_REGION: ""})
    run = _play(estate)
    assert run.rc != 0, str(run)
    assert DENIED_REGION in run.failures, str(run)
    assert any(r["fault"] == "deny" for r in proxy.operations())
    for region in REGIONS:
        want = [] if region == DENIED_REGION else ["ENABLED"]
        assert _detectors(proxy, region) == want, region
    assert _groups(proxy, DENIED_REGION) == []
    assert _customer_keys(proxy, DENIED_REGION) == []


# Where the endpoint dies, one death per run: the first run mid-way through the GuardDuty fan-out
# (the second detector is created, its id never returned), the rerun at the second region's key
# (created, its id never returned, its alias never made). Counters start again with each run.
DEATHS = (
    {"action": "guardduty:CreateDetector", "occurrence": 2, "forward": True},
    {"action": "kms:CreateKey", "occurrence": 2, "forward": True},
)


def test_endpoint_dies_mid_run_then_a_rerun_converges_without_duplicates(estate: dict[str, Any]) -> None:
    """Each death in its own run, then a run that converges with one detector, one key per region.

    The deaths share their reruns (a run is most of this file's time): the run cut at the key is
    the rerun after the cut at the detector. It can reach CreateKey only once its GuardDuty play
    is done, and every region must then have its one detector, the lost one included. After each
    death the rest of the run is refused (dead_endpoint.py) instead of retrying a dead port."""
    proxy = estate["proxy"]
    for death in DEATHS:
        proxy.configure(die_at=death)
        with refused_once_dead(proxy, REGIONS):
            broken = _play(estate)
        died = [r for r in proxy.operations() if r["fault"] == "die" and r["action"] == death["action"]]
        assert died, f"the run never reached {death['action']} #{death['occurrence']}: {broken}"
        assert broken.rc != 0, str(broken)
    for region in REGIONS:  # the rerun's GuardDuty play, done before the endpoint died at the key
        assert _detectors(proxy, region) == ["ENABLED"], region
    proxy.configure()  # no faults
    rerun = _play(estate)
    assert rerun.rc == 0, str(rerun)
    for region in REGIONS:
        _assert_region_done(estate, region)


def test_30_percent_throttling_on_every_service_converges(estate: dict[str, Any]) -> None:
    proxy = estate["proxy"]
    proxy.configure(throttle={"*": 30}, seed=30)
    first = _play(estate)
    assert first.rc == 0, str(first)
    throttled = {r["service"] for r in proxy.operations() if r["fault"] == "throttle"}
    assert throttled >= SERVICES, f"not throttled: {SERVICES - throttled}"
    for region in REGIONS:
        _assert_region_done(estate, region)
    second = _play(estate)
    assert second.rc == 0, str(second)
    assert second.changed == 0, str(second)
