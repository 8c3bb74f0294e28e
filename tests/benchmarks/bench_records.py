"""Issue 14 figure (records of processing): each records role's play over ALL regions of the embedded
AWS (38) takes at most 2x its time over ONE region, in one run each, 150 ms added per call (real AWS
round trips) by the fault proxy (tests/benchmarks/latency.py).

One entry of ROLES per role: the play and its variables for one region and for all. To add a role
, append a ``RecordsRole``; the gate and the printing pick it up.
  * flow_logs: every VPC of the regions (``flow_logs_all_vpcs``); moto gives each region a default
    VPC, so all regions means 38 flow logs, 38 log groups, 38 KMS keys (the log_groups role's key per
    region).
  * config_recorder: a recorder, delivery channel and recording in each region, one bucket and key.
  * cloudtrail: one multi-region trail, its key, bucket, log group, role and 14 CIS alarms in the home
    region whatever the regions: the same play both sides (checked from every region afterwards).
Each run starts on a freshly reset moto and must converge (checked with boto3 afterwards). An
untimed warm-up run first lets moto build its service apps; the sides are interleaved and the
medians compared.

    .venv/bin/python tests/benchmarks/bench_records.py [--pairs N] [--latency-ms 150] [--limit 2]
        [--roles flow_logs config_recorder]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import latency as lat


def flow_logs_converged(regions: list[str]) -> None:
    for region in regions:
        logs = boto3.client("ec2", region_name=region).describe_flow_logs()["FlowLogs"]
        if not logs:
            raise SystemExit(f"flow_logs: no flow log in {region}")


def config_converged(regions: list[str]) -> None:
    for region in regions:
        status = boto3.client("config", region_name=region).describe_configuration_recorder_status()
        if not any(s.get("recording") for s in status["ConfigurationRecordersStatus"]):
            raise SystemExit(f"config_recorder: not recording in {region}")


def cloudtrail_converged(regions: list[str]) -> None:
    """One multi-region trail, logging, seen from every region (and its 14 CIS alarms at home)."""
    for region in regions:
        trails = boto3.client("cloudtrail", region_name=region).describe_trails()["trailList"]
        multi = [t for t in trails if t.get("IsMultiRegionTrail")]
        if len(multi) != 1:
            raise SystemExit(f"cloudtrail: {len(multi)} multi-region trails seen from {region}")
    home = boto3.client("cloudtrail", region_name=lat.HOME_REGION)
    if not home.get_trail_status(Name=multi[0]["TrailARN"])["IsLogging"]:
        raise SystemExit("cloudtrail: the trail is not logging")
    alarms = boto3.client("cloudwatch", region_name=lat.HOME_REGION).describe_alarms(AlarmNamePrefix="cis-")
    if len(alarms["MetricAlarms"]) != 14:
        raise SystemExit("cloudtrail: not the 14 CIS alarms")


@dataclass(frozen=True)
class RecordsRole:
    name: str  # playbooks/<name>.yml
    one: Callable[[str], dict[str, Any]]  # extra vars for one region
    every: dict[str, Any]  # extra vars for all enabled regions
    converged: Callable[[list[str]], None]


ROLES: list[RecordsRole] = [
    RecordsRole(
        "flow_logs",
        lambda region: {"flow_logs_all_vpcs": True, "flow_logs_regions": [region]},
        {"flow_logs_all_vpcs": True},
        flow_logs_converged,
    ),
    RecordsRole(
        "config_recorder",
        lambda region: {"config_recorder_regions": [region]},
        {},
        config_converged,
    ),
    # One multi-region trail whatever the number of regions: "all" only differs in what the
    # convergence check reads (every region sees the trail). The figure shows the role does not grow.
    RecordsRole(
        "cloudtrail",
        lambda region: {"cloudtrail_home_region": region, "log_groups_data_protection": False},
        {"cloudtrail_home_region": lat.HOME_REGION, "log_groups_data_protection": False},
        cloudtrail_converged,
    ),
]


def timed_play(proxy: Any, role: RecordsRole, regions: list[str], extra: dict[str, Any]) -> float:
    lat.fresh(proxy)
    elapsed, _output = lat.run_playbook(proxy, lat.ROOT / "playbooks" / f"{role.name}.yml", extra)
    role.converged(regions)
    return elapsed


def figures(proxy: Any, role: RecordsRole, pairs: int, limit: float) -> list[lat.Figure]:
    regions = lat.all_regions()
    one = lat.HOME_REGION
    timed_play(proxy, role, [one], role.one(one))  # warm-up
    times = lat.interleaved(
        pairs,
        {
            "one": lambda: timed_play(proxy, role, [one], role.one(one)),
            "all": lambda: timed_play(proxy, role, regions, role.every),
        },
    )
    for name, values in times.items():
        print(f"  {role.name} {name:<4} s: {lat.seconds(values)}")
    return [
        lat.Figure(
            f"{role.name}: all {len(regions)} regions / one region",
            lat.ratio(times["all"], times["one"]),
            limit,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1, help="interleaved rounds (medians compared)")
    parser.add_argument("--latency-ms", type=float, default=lat.LATENCY_MS, help="delay per call")
    parser.add_argument("--limit", type=float, default=2.0, help="all regions / one region, at most")
    parser.add_argument("--roles", nargs="*", default=[r.name for r in ROLES], help="roles to measure")
    args = parser.parse_args(argv)
    chosen = [r for r in ROLES if r.name in args.roles]
    results: list[lat.Figure] = []
    with lat.embedded_aws(latency_ms=args.latency_ms) as proxy:
        for role in chosen:
            results += figures(proxy, role, args.pairs, args.limit)
    return lat.gate(f"Records roles, {args.latency_ms:g} ms per call:", results)


if __name__ == "__main__":
    sys.exit(main())
