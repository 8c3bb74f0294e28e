"""Issue figures (GuardDuty, 150 ms per call as real AWS round trips): the guardduty play over ALL
regions of the embedded AWS (38) takes at most 1.25x its time over ONE region; the peers'
sequential loop is timed against it; and ``site.yml --tags guardduty`` through the project's
inventory (amazon.aws.aws_ec2) with a warm cache takes at most 1.5x the same run with
``-i localhost,`` (cold cache vs warm printed).

Every call goes through the fault proxy with ``--latency-ms`` added (tests/benchmarks/latency.py).
  * one / all: ``ansible-playbook -i localhost, playbooks/guardduty.yml`` (the role as users run it)
    with ``guardduty_regions: [eu-west-1]`` / with regions discovered by the module (DescribeRegions),
    each on a freshly reset moto; afterwards exactly those regions hold one enabled detector.
  * sequential: what aws-samples' amazon-guardduty-multiaccount-scripts do, one region after
    another with boto3 (a client per region; ListDetectors, then CreateDetector with the same
    frequency and features, or GetDetector + UpdateDetector), after one DescribeRegions.
  * inventory: 3 tagged instances in two regions, so the inventory is not empty; the inventory file
    is inventory/aws_ec2.yml with only its cache directory moved to a temporary one. "cold" flushes
    the cache (``--flush-cache``, the plugin asks every region in turn), "warm" reads it. These runs
    work on a converged estate (every run reads and changes nothing), the same on each side.
An untimed warm-up run first lets moto build its service apps; the sides are interleaved and the
medians compared, which keeps other load on the machine from favouring either side.

    .venv/bin/python tests/benchmarks/bench_guardduty.py [--pairs N] [--latency-ms 150]
        [--limit 1.25] [--inventory-limit 1.5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import latency as lat

GUARDDUTY_PLAY = lat.ROOT / "playbooks" / "guardduty.yml"
SITE = lat.ROOT / "site.yml"
INVENTORY = lat.ROOT / "inventory" / "aws_ec2.yml"
ONE_REGION = lat.HOME_REGION
FREQUENCY = "FIFTEEN_MINUTES"
# The role's default plans (roles/guardduty/defaults/main.yml), as the peers' loop sends them.
FEATURES = [
    {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
    {"Name": "EBS_MALWARE_PROTECTION", "Status": "ENABLED"},
    {"Name": "RDS_LOGIN_EVENTS", "Status": "ENABLED"},
    {
        "Name": "RUNTIME_MONITORING",
        "Status": "ENABLED",
        "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}],
    },
]
FLEET = {"eu-west-1": 2, "eu-central-1": 1}  # tagged instances for the inventory figure
MOTO_AMI = "ami-1e749f67"  # bundled with moto in every region


def enabled_detectors(regions: list[str]) -> list[str]:
    """Regions holding exactly one enabled detector (a second detector anywhere stops the benchmark)."""
    found = []
    for region in regions:
        client = boto3.client("guardduty", region_name=region)
        ids = client.list_detectors()["DetectorIds"]
        if len(ids) > 1:
            raise SystemExit(f"{region} has {len(ids)} detectors")
        if ids and client.get_detector(DetectorId=ids[0])["Status"] == "ENABLED":
            found.append(region)
    return found


def converged(regions: list[str], want: list[str]) -> None:
    got = enabled_detectors(regions)
    if got != want:
        raise SystemExit(f"GuardDuty did not converge: enabled in {got}, expected {want}")


def timed_play(proxy: Any, regions: list[str], only: str | None = None) -> float:
    """One guardduty play on a fresh moto (all regions, or ``only``); checks that it converged."""
    lat.fresh(proxy, warm=("guardduty",))
    extra = {"guardduty_regions": [only]} if only else None
    elapsed, _output = lat.run_playbook(proxy, GUARDDUTY_PLAY, extra)
    converged(regions, [only] if only else regions)
    return elapsed


def peers_loop(proxy: Any) -> None:
    """aws-samples' way: every region in turn, a client each, the same calls as the module."""
    ec2 = lat.client_via(proxy, "ec2", ONE_REGION)
    for region in sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"]):
        client = lat.client_via(proxy, "guardduty", region)
        ids = client.list_detectors()["DetectorIds"]
        if not ids:
            client.create_detector(Enable=True, FindingPublishingFrequency=FREQUENCY, Features=FEATURES)
            continue
        if client.get_detector(DetectorId=ids[0])["Status"] != "ENABLED":
            client.update_detector(
                DetectorId=ids[0], Enable=True, FindingPublishingFrequency=FREQUENCY, Features=FEATURES
            )


def timed_peers(proxy: Any, regions: list[str]) -> float:
    lat.fresh(proxy, warm=("guardduty",))
    elapsed, _none = lat.timed(lambda: peers_loop(proxy))
    converged(regions, regions)
    return elapsed


def region_figures(proxy: Any, pairs: int, limit: float) -> list[lat.Figure]:
    regions = lat.all_regions()
    times = lat.interleaved(
        pairs,
        {
            "one": lambda: timed_play(proxy, regions, only=ONE_REGION),
            "all": lambda: timed_play(proxy, regions),
            "sequential": lambda: timed_peers(proxy, regions),
        },
        once=["sequential"],
    )
    print(f"guardduty play, {len(regions)} regions vs 1, peers' sequential loop over {len(regions)}")
    for name, values in times.items():
        print(f"  {name:<10} s: {lat.seconds(values)}")
    return [
        lat.Figure(f"all {len(regions)} regions / one region", lat.ratio(times["all"], times["one"]), limit),
        lat.Figure(
            "collection, all regions / peers' sequential loop", lat.ratio(times["all"], times["sequential"])
        ),
    ]


def build_fleet() -> None:
    """A few running instances that opted in (tag gdpr_monitoring=true), made directly on moto."""
    for region, count in FLEET.items():
        boto3.client("ec2", region_name=region).run_instances(
            ImageId=MOTO_AMI,
            MinCount=count,
            MaxCount=count,
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "gdpr_monitoring", "Value": "true"}]}
            ],
        )


def inventory_copy(workdir: Path) -> Path:
    """inventory/aws_ec2.yml with only its cache directory moved into ``workdir`` (the user's own
    cache stays untouched); the plugin requires the file name to end in aws_ec2.yml."""
    lines = INVENTORY.read_text().splitlines()
    cache = workdir / "inventory-cache"
    moved = [f"cache_connection: {cache}" if line.startswith("cache_connection:") else line for line in lines]
    if moved == lines:
        raise SystemExit(f"{INVENTORY} has no cache_connection line to move")
    copy = workdir / "aws_ec2.yml"
    copy.write_text("\n".join(moved) + "\n")
    return copy


def inventory_figures(proxy: Any, pairs: int, limit: float) -> list[lat.Figure]:
    regions = lat.all_regions()
    lat.fresh(proxy, warm=("guardduty",))
    build_fleet()
    # The embedded AWS has no GuardDuty publishing destinations (HTTP 404, ../shared facts), so the
    # findings export is off here, as in the demo; both sides run the same plays.
    tags = ["--tags", "guardduty", "-e", "guardduty_export=false"]
    with tempfile.TemporaryDirectory() as tmp:
        inventory = str(inventory_copy(Path(tmp)))

        def run(inv: str, *options: str) -> float:
            elapsed, output = lat.run_playbook(proxy, SITE, inventory=inv, options=[*tags, *options])
            if lat.changed_count(output) != 0:
                raise SystemExit(f"a run over the converged estate changed something:\n{output[-3000:]}")
            return elapsed

        lat.run_playbook(proxy, SITE, inventory="localhost,", options=tags)  # converge, untimed
        converged(regions, regions)
        times = lat.interleaved(
            pairs,
            {
                "cold": lambda: run(inventory, "--flush-cache"),
                "warm": lambda: run(inventory),
                "localhost": lambda: run("localhost,"),
            },
        )
        hosts = sum(FLEET.values())
    print(f"site.yml --tags guardduty, {hosts} instances in the inventory, {len(regions)} regions")
    for name, values in times.items():
        print(f"  {name:<10} s: {lat.seconds(values)}")
    return [
        lat.Figure(
            "warm inventory cache / -i localhost,", lat.ratio(times["warm"], times["localhost"]), limit
        ),
        lat.Figure("cold inventory cache / warm", lat.ratio(times["cold"], times["warm"])),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="interleaved rounds of every side (default 3)")
    parser.add_argument("--latency-ms", type=float, default=lat.LATENCY_MS, help="delay per call")
    parser.add_argument("--limit", type=float, default=1.25, help="highest all/one ratio")
    parser.add_argument("--inventory-limit", type=float, default=1.5, help="highest warm/localhost ratio")
    args = parser.parse_args(argv)

    with lat.embedded_aws(latency_ms=args.latency_ms) as proxy:
        timed_play(proxy, lat.all_regions())  # warm-up: moto builds its service apps once
        figures = region_figures(proxy, args.pairs, args.limit)
        figures += inventory_figures(proxy, args.pairs, args.inventory_limit)
    return lat.gate(f"guardduty, {args.latency_ms:g} ms per call, ratios of medians:", figures)


if __name__ == "__main__":
    sys.exit(main())
