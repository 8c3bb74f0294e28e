"""Issue figures (GDPR evidence report):
  * with 150 ms added to every call (real AWS round trips, the fault proxy; tests/benchmarks/latency.py),
    gdpr_evidence_info over ALL enabled regions of the embedded AWS (24 of its 38: moto lists 14 opt-in
    regions as not-opted-in, and the module judges the regions the account has enabled, as on AWS)
    with 200 instances in 4 regions takes
    at most 1.25x the wall time of ONE region with 1 instance; the API calls it makes are printed and
    must stay O(regions + log groups / page size + instances / page size); the peers' sequential loop
    (the same reads with boto3, one region after another, then IAM) is timed and printed against it;
  * rendering 10,000 rows as HTML: under 5 MB and under 2 s.

Each measurement is one `ansible-playbook` run of a play with a single gdpr_evidence_info task on
the same estate (the module only reads, so the estate is built once): per region of the 4, 50
instances, a detector and a log group with one stream per instance carrying an event. The pairs
are interleaved and the medians compared (other load on the machine favours neither side). The run
checks the rows: every instance judged, every region's detector judged, so an empty run cannot pass.

    .venv/bin/python tests/benchmarks/bench_evidence.py [--pairs N] [--latency-ms 150] [--limit 1.25]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import latency as lat

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev

FLEET_REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-southeast-2"]
PER_REGION = 50
GROUP = "/gdpr/bench/app"
PAGE = 50  # DescribeLogStreams / DescribeIamInstanceProfileAssociations page size
PLAY = """\
- name: Evidence
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Read and judge
      gdpr.aws_monitoring.gdpr_evidence_info:
        regions: "{{ bench_regions | default(omit) }}"
        log_group_prefix: /gdpr/bench
        guardduty_frequency: FIFTEEN_MINUTES
        instances: "{{ bench_instances }}"
      register: bench
    - name: Result
      ansible.builtin.copy:
        content: "{{ {'rows': bench.rows, 'calls': bench.calls} | to_json }}"
        dest: "{{ bench_out }}"
        mode: "0600"
"""


def build_estate() -> list[dict[str, object]]:
    instances = []
    now = int(time.time() * 1000)
    for region in FLEET_REGIONS:
        boto3.client("guardduty", region_name=region).create_detector(
            Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES"
        )
        ec2 = boto3.client("ec2", region_name=region)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(ImageId=image, MinCount=PER_REGION, MaxCount=PER_REGION)["Instances"]
        ]
        logs = boto3.client("logs", region_name=region)
        logs.create_log_group(logGroupName=GROUP)
        logs.put_retention_policy(logGroupName=GROUP, retentionInDays=365)
        for instance_id in ids:
            logs.create_log_stream(logGroupName=GROUP, logStreamName=instance_id)
            logs.put_log_events(
                logGroupName=GROUP, logStreamName=instance_id, logEvents=[{"timestamp": now, "message": "x"}]
            )
            instances.append({"instance_id": instance_id, "region": region, "log_groups": [GROUP]})
    return instances


def run_once(
    proxy: Any, playbook: Path, out: Path, regions: list[str] | None, instances: list
) -> tuple[float, dict]:
    extra = {"bench_instances": instances, "bench_out": str(out)}
    if regions is not None:
        extra["bench_regions"] = regions
    elapsed, _output = lat.run_playbook(proxy, playbook, extra)
    return elapsed, json.loads(out.read_text())


def peers_loop(proxy: Any, instances: list[dict[str, Any]]) -> None:
    """One region after another, a client each, the module's reads; then the profiles' policies."""
    profiles = set()
    for region in sorted(
        r["RegionName"] for r in lat.client_via(proxy, "ec2", "eu-west-1").describe_regions()["Regions"]
    ):
        guardduty = lat.client_via(proxy, "guardduty", region)
        for detector_id in guardduty.list_detectors()["DetectorIds"]:
            guardduty.get_detector(DetectorId=detector_id)
        logs = lat.client_via(proxy, "logs", region)
        groups = logs.describe_log_groups(logGroupNamePrefix="/gdpr/bench")["logGroups"]
        ids = [i["instance_id"] for i in instances if i["region"] == region]
        if not ids:
            continue
        answer = lat.client_via(proxy, "ec2", region).describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": ids}]
        )
        profiles |= {a["IamInstanceProfile"]["Arn"] for a in answer["IamInstanceProfileAssociations"]}
        for group in groups:
            logs.describe_log_streams(logGroupName=group["logGroupName"])
    iam = lat.client_via(proxy, "iam", "us-east-1")
    for arn in sorted(profiles):
        for role in iam.get_instance_profile(InstanceProfileName=arn.rsplit("/", 1)[-1])["InstanceProfile"][
            "Roles"
        ]:
            iam.list_attached_role_policies(RoleName=role["RoleName"])


def enabled_regions() -> list[str]:
    """The regions the module judges: opted in or needing no opt-in (moto: 24 of 38), asked directly."""
    answer = boto3.client("ec2", region_name=lat.HOME_REGION).describe_regions(AllRegions=True)
    return sorted(
        r["RegionName"]
        for r in answer["Regions"]
        if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in")
    )


def check_rows(result: dict, regions: int, instances: int) -> None:
    rows = result["rows"]
    detectors = [r for r in rows if r["check_id"] == "guardduty_detector"]
    arriving = [r for r in rows if r["check_id"] == "instance_logs_arriving" and r["status"] == "PASS"]
    if len(detectors) != regions or len(arriving) != instances:
        raise SystemExit(
            f"expected {regions} detector rows, {instances} arriving; got {len(detectors)}, {len(arriving)}"
        )


def render_figure() -> int:
    rows = [
        ev.row(c.id, ev.Verdict(s, f"detail {i} <&>"), "123456789012", f"region-{i % 38}", f"resource-{i}")
        for i, (c, s) in enumerate(zip(ev.CHECKS * 1000, [ev.PASS, ev.FAIL, ev.UNKNOWN, ev.PASS] * 2500))
    ]
    start = time.perf_counter()
    page = ev.render_html({"account": "123456789012", "time": "t"}, rows)
    seconds = time.perf_counter() - start
    size = len(page.encode())
    print(f"render 10,000 rows: {size / 1e6:.2f} MB (limit 5 MB), {seconds:.2f} s (limit 2 s)")
    return 0 if size < 5 * 1024 * 1024 and seconds < 2.0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="interleaved one/all measurements (default 3)")
    parser.add_argument("--latency-ms", type=float, default=lat.LATENCY_MS, help="delay per call")
    parser.add_argument("--limit", type=float, default=1.25, help="highest acceptable all/one ratio")
    args = parser.parse_args(argv)
    failed = render_figure()

    with lat.embedded_aws(latency_ms=args.latency_ms) as proxy, tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "evidence_bench.yml"
        playbook.write_text(PLAY)
        out = Path(tmp) / "out.json"
        fleet = build_estate()
        regions = len(enabled_regions())
        one_instance = [fleet[0]]
        run_once(proxy, playbook, out, None, fleet)  # warm-up: moto builds its service apps once
        results: dict[str, dict] = {}

        def one() -> float:
            seconds, results["one"] = run_once(proxy, playbook, out, [FLEET_REGIONS[0]], one_instance)
            check_rows(results["one"], 1, 1)
            return seconds

        def every() -> float:
            seconds, results["all"] = run_once(proxy, playbook, out, None, fleet)
            check_rows(results["all"], regions, len(fleet))
            return seconds

        times = lat.interleaved(
            args.pairs,
            {"one": one, "all": every, "sequential": lambda: lat.timed(lambda: peers_loop(proxy, fleet))[0]},
            once=["sequential"],
        )
    calls = results["all"]["calls"]
    total = sum(calls.values())
    bound = 6 * regions + len(FLEET_REGIONS) * 2 * math.ceil(PER_REGION / PAGE) + 10
    print(f"gdpr_evidence_info: {regions} regions / {len(fleet)} instances vs 1 region / 1 instance")
    for name, values in times.items():
        print(f"  {name:<10} s: {lat.seconds(values)}")
    print(f"API calls, all regions: {total} (bound {bound} = O(regions + groups/page + instances/page))")
    for op, count in sorted(calls.items()):
        print(f"  {op}: {count}")
    figures = [
        lat.Figure(
            f"all {regions} regions, 200 instances / one region",
            lat.ratio(times["all"], times["one"]),
            args.limit,
        ),
        lat.Figure(
            "collection, all regions / peers' sequential loop", lat.ratio(times["all"], times["sequential"])
        ),
        lat.Figure("API calls, all regions", total, bound),
    ]
    return lat.gate(f"evidence, {args.latency_ms:g} ms per call, ratios of medians:", figures) or failed


if __name__ == "__main__":
    sys.exit(main())
