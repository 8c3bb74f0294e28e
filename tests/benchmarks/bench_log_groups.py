"""Issue figure (log groups, 150 ms per call as real AWS round trips): the log_groups role creating
the agents' groups in ALL regions of the embedded AWS (38) takes at most 1.25x creating them in ONE
region; the peers' sequential loop is timed against it.

Every call goes through the fault proxy with ``--latency-ms`` added (tests/benchmarks/latency.py).
Each measured run is one ``ansible-playbook -i localhost,`` of a play applying the role
gdpr.aws_monitoring.log_groups (its read-only plan pass, then the writes) to five groups per region
given as ``log_groups_extra`` (the Linux agent's groups: apache and nginx access/error, syslog),
365 days, tagged, KMS off (``log_groups_kms: false``) and masking off (moto has no data protection
policies), on a freshly reset moto. After every run each region holds exactly those groups with
that retention, so a run that did nothing cannot pass.

The peers' loop: one region after another, a client each, DescribeLogGroups by prefix, then
CreateLogGroup (with the tags) and PutRetentionPolicy for each missing group.
An untimed warm-up run lets moto build its service apps; the sides are interleaved and the medians
compared, which keeps other load on the machine from favouring either side.

    .venv/bin/python tests/benchmarks/bench_log_groups.py [--pairs N] [--latency-ms 150] [--limit 1.25]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import latency as lat

ONE_REGION = lat.HOME_REGION
PREFIX = "/gdpr/bench"
GROUPS = [
    f"{PREFIX}/{name}" for name in ("apache/access", "apache/error", "nginx/access", "nginx/error", "syslog")
]
RETENTION = 365
TAGS = {"ManagedBy": "gdpr.aws_monitoring"}
PLAY = """\
- name: Log groups up front
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: gdpr.aws_monitoring.log_groups
      vars:
        log_groups_kms: false
        log_groups_data_protection: false
        log_groups_retention_in_days: 365
        log_groups_extra: "{{ bench_groups }}"
"""


def wanted(regions: list[str]) -> list[dict[str, str]]:
    return [{"name": name, "region": region} for region in regions for name in GROUPS]


def check_groups(regions: list[str], every: list[str]) -> None:
    """``regions`` hold exactly the benchmark's groups with their retention, the others none."""
    for region in every:
        pages = boto3.client("logs", region_name=region).get_paginator("describe_log_groups")
        found = {
            g["logGroupName"]: g.get("retentionInDays")
            for page in pages.paginate(logGroupNamePrefix=PREFIX)
            for g in page["logGroups"]
        }
        want = dict.fromkeys(GROUPS, RETENTION) if region in regions else {}
        if found != want:
            raise SystemExit(f"log groups did not converge in {region}: {found}, expected {want}")


def timed_play(proxy: Any, playbook: Path, regions: list[str], every: list[str]) -> float:
    lat.fresh(proxy, warm=("logs",))
    elapsed, _output = lat.run_playbook(proxy, playbook, {"bench_groups": wanted(regions)})
    check_groups(regions, every)
    return elapsed


def peers_loop(proxy: Any, regions: list[str]) -> None:
    for region in regions:
        logs = lat.client_via(proxy, "logs", region)
        have = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=PREFIX)["logGroups"]}
        for name in GROUPS:
            if name not in have:
                logs.create_log_group(logGroupName=name, tags=TAGS)
                logs.put_retention_policy(logGroupName=name, retentionInDays=RETENTION)


def timed_peers(proxy: Any, every: list[str]) -> float:
    lat.fresh(proxy, warm=("logs",))
    elapsed, _none = lat.timed(lambda: peers_loop(proxy, every))
    check_groups(every, every)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved rounds of every side (default 5)")
    parser.add_argument("--latency-ms", type=float, default=lat.LATENCY_MS, help="delay per call")
    parser.add_argument("--limit", type=float, default=1.25, help="highest all/one ratio")
    args = parser.parse_args(argv)

    with lat.embedded_aws(latency_ms=args.latency_ms) as proxy, tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "log_groups_bench.yml"
        playbook.write_text(PLAY)
        every = lat.all_regions()
        timed_play(proxy, playbook, every, every)  # warm-up: moto builds its service apps once
        times = lat.interleaved(
            args.pairs,
            {
                "one": lambda: timed_play(proxy, playbook, [ONE_REGION], every),
                "all": lambda: timed_play(proxy, playbook, every, every),
                "sequential": lambda: timed_peers(proxy, every),
            },
            once=["sequential"],
        )
    print(f"log_groups role, {len(GROUPS)} groups per region, {len(every)} regions vs 1, KMS off")
    for name, values in times.items():
        print(f"  {name:<10} s: {lat.seconds(values)}")
    figures = [
        lat.Figure(
            f"all {len(every)} regions / one region", lat.ratio(times["all"], times["one"]), args.limit
        ),
        lat.Figure(
            "collection, all regions / peers' sequential loop", lat.ratio(times["all"], times["sequential"])
        ),
    ]
    return lat.gate(f"log_groups, {args.latency_ms:g} ms per call, ratios of medians:", figures)


if __name__ == "__main__":
    sys.exit(main())
