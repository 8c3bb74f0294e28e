"""Issue figures (GDPR evidence report):
  * gdpr_evidence_info over ALL regions of the embedded AWS with 200 instances in 4 regions takes at
    most 1.5x the wall time of ONE region with 1 instance, in one run; the API calls it makes are
    printed and must stay O(regions + log groups / page size + instances / page size);
  * rendering 10,000 rows as HTML: under 5 MB and under 2 s.

Each measurement is one `ansible-playbook` run of a play with a single gdpr_evidence_info task on
the same estate (the module only reads, so the estate is built once): per region of the 4, 50
instances, a detector and a log group with one stream per instance carrying an event. The pairs
are interleaved and the medians compared (other load on the machine favours neither side). The run
checks the rows: every instance judged, every region's detector judged, so an empty run cannot pass.

    .venv/bin/python tests/benchmarks/bench_evidence.py [--pairs N] [--limit 1.5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

import moto_server  # noqa: E402

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev  # noqa: E402

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
    env: dict[str, str], playbook: Path, out: Path, regions: list[str] | None, instances: list
) -> tuple[float, dict]:
    extra = {"bench_instances": instances, "bench_out": str(out)}
    if regions is not None:
        extra["bench_regions"] = regions
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "localhost,",
        str(playbook),
        "-e",
        json.dumps(extra),
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"ansible-playbook failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed, json.loads(out.read_text())


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
    parser.add_argument("--limit", type=float, default=1.5, help="highest acceptable all/one ratio")
    args = parser.parse_args(argv)
    failed = render_figure()

    with moto_server.running() as endpoint, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(moto_server.endpoint_env(endpoint))
        env = dict(os.environ)
        env.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
            }
        )
        playbook = Path(tmp) / "evidence_bench.yml"
        playbook.write_text(PLAY)
        out = Path(tmp) / "out.json"
        fleet = build_estate()
        all_regions = boto3.client("ec2", region_name="eu-west-1").describe_regions()["Regions"]
        one_instance = [fleet[0]]
        run_once(env, playbook, out, None, fleet)  # warm-up: moto builds its service apps once
        one: list[float] = []
        every: list[float] = []
        for _pair in range(args.pairs):
            seconds, result = run_once(env, playbook, out, [FLEET_REGIONS[0]], one_instance)
            check_rows(result, 1, 1)
            one.append(seconds)
            seconds, result = run_once(env, playbook, out, None, fleet)
            check_rows(result, len(all_regions), len(fleet))
            every.append(seconds)
        calls = result["calls"]
        total = sum(calls.values())
        regions = len(all_regions)
        bound = 6 * regions + len(FLEET_REGIONS) * 2 * math.ceil(PER_REGION / PAGE) + 10
        ratio = statistics.median(every) / statistics.median(one)
        print(f"one region, 1 instance: median {statistics.median(one):.2f} s {one}")
        print(f"{regions} regions, {len(fleet)} instances: median {statistics.median(every):.2f} s {every}")
        print(f"ratio all/one: {ratio:.2f} (limit {args.limit})")
        print(f"API calls, all regions: {total} (bound {bound} = O(regions + groups/page + instances/page))")
        for op, count in sorted(calls.items()):
            print(f"  {op}: {count}")
        if ratio > args.limit or total > bound:
            failed = 1
    return failed


if __name__ == "__main__":
    sys.exit(main())
