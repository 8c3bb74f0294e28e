"""Issue figures: under 30% throttling on every call, the guardduty play over all of the embedded AWS's
regions (38) finishes in at most 3x its unthrottled time on the same machine, and converges.
Also, not gated here: the same play with 150 ms added to every call (real AWS round trips), one
region against all regions.

Both sides of a ratio go through the fault proxy (tests/harness/fault_proxy.py), so its own cost is
on both; only the faults differ. Each measurement is one ``ansible-playbook -i localhost,
playbooks/guardduty.yml`` run (the role as users run it: regions discovered with DescribeRegions) on
a freshly reset moto. After every run the benchmark checks that every region (or the one region)
holds exactly one enabled detector, so a run that gave up cannot pass; the last throttled run is
followed by a second throttled run that must change nothing. An untimed warm-up run first lets moto
build its service apps; pairs are interleaved and the medians compared, which keeps other load on
the machine from favouring either side.

    .venv/bin/python tests/benchmarks/bench_faults.py [--pairs N] [--limit 3] [--throttle 30]
                                                      [--latency-ms 150] [--no-latency]

The helpers (``embedded_aws``, ``run_playbook``, ``enabled_detectors``, ``latency_figures``) are
meant for other benchmarks that need the proxy, e.g. with latency.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

import fault_proxy  # noqa: E402
import moto_server  # noqa: E402

GUARDDUTY_PLAY = ROOT / "playbooks" / "guardduty.yml"
ONE_REGION = "eu-west-1"


@contextmanager
def embedded_aws(**faults: Any) -> Iterator[fault_proxy.FaultProxy]:
    """moto with the fault proxy in front; this process's AWS settings point at moto directly (for
    checks past the faults), the playbooks run by ``run_playbook`` at the proxy."""
    with moto_server.running() as endpoint, fault_proxy.FaultProxy(endpoint, faults) as proxy:
        os.environ.update(moto_server.endpoint_env(endpoint))
        yield proxy


def run_playbook(
    proxy: fault_proxy.FaultProxy,
    playbook: Path,
    extra_vars: dict[str, Any] | None = None,
    inventory: str = "localhost,",
) -> tuple[float, str]:
    """Wall time and output of one ansible-playbook run through the proxy; a failed run stops the
    benchmark (a fast failure is no figure)."""
    env = dict(os.environ)
    env.update(moto_server.endpoint_env(proxy.endpoint))
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", inventory, str(playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"ansible-playbook {playbook.name} failed ({done.returncode}):\n{done.stdout[-6000:]}"
        )
    return elapsed, done.stdout


def changed_count(output: str) -> int:
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output))


def all_regions() -> list[str]:
    ec2 = boto3.client("ec2", region_name=ONE_REGION)
    return sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])


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


def timed_guardduty(proxy: fault_proxy.FaultProxy, regions: list[str], only: str | None = None) -> float:
    """One guardduty play on a fresh moto (all regions, or ``only``); checks that it converged."""
    moto_server.reset(proxy.upstream_endpoint)
    extra = {"guardduty_regions": [only]} if only else None
    elapsed, _output = run_playbook(proxy, GUARDDUTY_PLAY, extra)
    want = [only] if only else regions
    if enabled_detectors(regions) != want:
        raise SystemExit(f"the guardduty play did not converge: enabled {enabled_detectors(regions)}")
    return elapsed


def throttling_figures(proxy: fault_proxy.FaultProxy, percent: float, pairs: int) -> dict[str, Any]:
    regions = all_regions()
    clean: list[float] = []
    throttled: list[float] = []
    throttles = 0
    for _pair in range(pairs):
        proxy.configure()
        clean.append(timed_guardduty(proxy, regions))
        proxy.configure(throttle={"*": percent})
        proxy.clear_log()
        throttled.append(timed_guardduty(proxy, regions))
        throttles += sum(r["fault"] == "throttle" for r in proxy.operations())
    _elapsed, again = run_playbook(proxy, GUARDDUTY_PLAY)  # still throttled: must change nothing
    if changed_count(again) != 0:
        raise SystemExit(f"a second throttled run changed something:\n{again[-3000:]}")
    proxy.configure()
    return {"regions": len(regions), "clean": clean, "throttled": throttled, "throttles": throttles}


def latency_figures(proxy: fault_proxy.FaultProxy, latency_ms: float, pairs: int) -> dict[str, Any]:
    """The guardduty play with ``latency_ms`` added to every call: one region vs all regions."""
    regions = all_regions()
    proxy.configure(latency_ms=latency_ms)
    one: list[float] = []
    every: list[float] = []
    try:
        for _pair in range(pairs):
            one.append(timed_guardduty(proxy, regions, only=ONE_REGION))
            every.append(timed_guardduty(proxy, regions))
    finally:
        proxy.configure()
    return {"regions": len(regions), "one": one, "all": every}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="interleaved clean/throttled runs (default 3)")
    parser.add_argument("--limit", type=float, default=3.0, help="highest acceptable throttled/clean ratio")
    parser.add_argument("--throttle", type=float, default=30.0, help="percent of calls throttled")
    parser.add_argument("--latency-ms", type=float, default=150.0, help="latency figures: ms per call")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency figures")
    args = parser.parse_args(argv)

    with embedded_aws() as proxy:
        timed_guardduty(proxy, all_regions())  # warm-up: moto builds its service apps once
        figures = throttling_figures(proxy, args.throttle, args.pairs)
        latency = None if args.no_latency else latency_figures(proxy, args.latency_ms, args.pairs)

    ratio = statistics.median(figures["throttled"]) / statistics.median(figures["clean"])
    print(
        f"guardduty play, {figures['regions']} regions, {args.throttle:g}% of calls throttled vs none, "
        f"{args.pairs} interleaved pairs on fresh moto ({figures['throttles']} throttling errors sent)"
    )
    print("  clean s:     " + ", ".join(f"{t:.1f}" for t in figures["clean"]))
    print("  throttled s: " + ", ".join(f"{t:.1f}" for t in figures["throttled"]))
    print(f"  ratio throttled/clean (medians): {ratio:.2f} (limit {args.limit})")
    print("  every run converged; a second throttled run changed nothing")
    if latency:
        lat_ratio = statistics.median(latency["all"]) / statistics.median(latency["one"])
        regions = latency["regions"]
        print(f"guardduty play, {args.latency_ms:g} ms per call: {regions} regions vs 1 (not gated)")
        print("  one region s:  " + ", ".join(f"{t:.1f}" for t in latency["one"]))
        print("  all regions s: " + ", ".join(f"{t:.1f}" for t in latency["all"]))
        print(f"  ratio all/one (medians): {lat_ratio:.2f}")
    if ratio > args.limit:
        print("  FAILED: throttling costs more than the limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
