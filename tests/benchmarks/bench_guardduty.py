"""Issue figure: enabling GuardDuty in ALL regions of the embedded AWS takes at most 1.5x the wall time
of enabling it in ONE region.

Each measurement is one `ansible-playbook` run of a play with a single
gdpr.aws_monitoring.guardduty_detector task (frequency, four protection plans, a tag), on a freshly
reset moto: no detector anywhere before the run.
  * one region:  regions: [eu-west-1]
  * all regions: regions omitted, so the module also discovers them (ec2:DescribeRegions), as users
    run it; moto lists 38.
After every run the benchmark checks that exactly the expected regions got one enabled detector,
so a run that silently did nothing cannot pass.

moto's first request to a service builds that service's app inside the server (~1 s, once per
server); an untimed warm-up run pays it. The pairs are interleaved and the medians compared, which
keeps other load on the machine from favouring either side.

    .venv/bin/python tests/benchmarks/bench_guardduty.py [--pairs N] [--limit 1.5]
"""

from __future__ import annotations

import argparse
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

ONE_REGION = "eu-west-1"
PLAY = """\
- name: Enable GuardDuty
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: GuardDuty detector
      gdpr.aws_monitoring.guardduty_detector:
        regions: "{{ bench_regions | default(omit) }}"
        finding_publishing_frequency: FIFTEEN_MINUTES
        features:
          - name: S3_DATA_EVENTS
          - name: EBS_MALWARE_PROTECTION
          - name: RDS_LOGIN_EVENTS
          - name: RUNTIME_MONITORING
            additional_configuration:
              - name: EC2_AGENT_MANAGEMENT
        tags:
          ManagedBy: gdpr.aws_monitoring
"""


def playbook_env(endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(moto_server.endpoint_env(endpoint))
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    return env


def run_once(endpoint: str, playbook: Path, regions: list[str] | None) -> float:
    moto_server.reset(endpoint)
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", str(playbook)]
    if regions is not None:
        cmd += ["-e", '{"bench_regions": ["' + '","'.join(regions) + '"]}']
    start = time.perf_counter()
    done = subprocess.run(cmd, env=playbook_env(endpoint), capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"ansible-playbook failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return elapsed


def enabled_regions_now(all_regions: list[str]) -> list[str]:
    """Regions holding exactly one enabled detector (any other count fails the benchmark)."""
    found = []
    for region in all_regions:
        client = boto3.client("guardduty", region_name=region)
        ids = client.list_detectors()["DetectorIds"]
        if len(ids) > 1:
            raise SystemExit(f"{region} has {len(ids)} detectors")
        if ids and client.get_detector(DetectorId=ids[0])["Status"] == "ENABLED":
            found.append(region)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=7, help="interleaved one/all measurements (default 7)")
    parser.add_argument("--limit", type=float, default=1.5, help="highest acceptable all/one ratio")
    args = parser.parse_args(argv)

    with moto_server.running() as endpoint, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(moto_server.endpoint_env(endpoint))
        playbook = Path(tmp) / "guardduty_bench.yml"
        playbook.write_text(PLAY)
        all_regions = sorted(
            r["RegionName"] for r in boto3.client("ec2", region_name=ONE_REGION).describe_regions()["Regions"]
        )
        run_once(endpoint, playbook, None)  # warm-up: moto builds its service apps once
        one: list[float] = []
        every: list[float] = []
        for _pair in range(args.pairs):
            one.append(run_once(endpoint, playbook, [ONE_REGION]))
            if enabled_regions_now(all_regions) != [ONE_REGION]:
                raise SystemExit("the one-region run did not enable exactly eu-west-1")
            every.append(run_once(endpoint, playbook, None))
            if enabled_regions_now(all_regions) != all_regions:
                raise SystemExit("the all-regions run did not enable every region")

    ratio = statistics.median(every) / statistics.median(one)
    print(f"guardduty: {len(all_regions)} regions vs 1 region, {args.pairs} interleaved pairs on fresh moto")
    print("  per-pair ratios: " + ", ".join(f"{e / o:.2f}" for o, e in zip(one, every)))
    print(f"  ratio all/one (medians): {ratio:.2f} (limit {args.limit})")
    if ratio > args.limit:
        print("  FAILED: enabling all regions costs more than the limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
