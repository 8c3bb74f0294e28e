"""Issue figures: under 30% throttling on every call, the guardduty play over all of the embedded AWS's
regions (38) finishes in at most 3x its unthrottled time on the same machine, and converges.

Both sides of the ratio go through the fault proxy (tests/harness/fault_proxy.py), so its own cost is
on both; only the faults differ. Each measurement is one ``ansible-playbook -i localhost,
playbooks/guardduty.yml`` run (the role as users run it: regions discovered with DescribeRegions) on
a freshly reset moto. After every run the benchmark checks that every region holds exactly one
enabled detector, so a run that gave up cannot pass; the last throttled run is followed by a second
throttled run that must change nothing. An untimed warm-up run first lets moto build its service
apps; pairs are interleaved and the medians compared, which keeps other load on the machine from
favouring either side. The same play at 150 ms per call is bench_guardduty.py's figure.

    .venv/bin/python tests/benchmarks/bench_faults.py [--pairs N] [--limit 3] [--throttle 30]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import bench_guardduty as gd
import latency as lat


def throttling_figures(proxy: Any, percent: float, pairs: int) -> dict[str, Any]:
    regions = lat.all_regions()
    clean: list[float] = []
    throttled: list[float] = []
    throttles = 0
    for _pair in range(pairs):
        proxy.configure()
        clean.append(gd.timed_play(proxy, regions))
        proxy.configure(throttle={"*": percent})
        proxy.clear_log()
        throttled.append(gd.timed_play(proxy, regions))
        throttles += sum(r["fault"] == "throttle" for r in proxy.operations())
    _elapsed, again = lat.run_playbook(proxy, gd.GUARDDUTY_PLAY)  # still throttled: must change nothing
    if lat.changed_count(again) != 0:
        raise SystemExit(f"a second throttled run changed something:\n{again[-3000:]}")
    proxy.configure()
    return {"regions": len(regions), "clean": clean, "throttled": throttled, "throttles": throttles}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="interleaved clean/throttled runs (default 3)")
    parser.add_argument("--limit", type=float, default=3.0, help="highest acceptable throttled/clean ratio")
    parser.add_argument("--throttle", type=float, default=30.0, help="percent of calls throttled")
    args = parser.parse_args(argv)

    with lat.embedded_aws() as proxy:
        gd.timed_play(proxy, lat.all_regions())  # warm-up: moto builds its service apps once
        figures = throttling_figures(proxy, args.throttle, args.pairs)

    print(
        f"guardduty play, {figures['regions']} regions, {args.throttle:g}% of calls throttled vs none, "
        f"{args.pairs} interleaved pairs on fresh moto ({figures['throttles']} throttling errors sent)"
    )
    print(f"  clean s:     {lat.seconds(figures['clean'])}")
    print(f"  throttled s: {lat.seconds(figures['throttled'])}")
    print("  every run converged; a second throttled run changed nothing")
    ratio = lat.ratio(figures["throttled"], figures["clean"])
    return lat.gate("throttling, ratio of medians:", [lat.Figure("throttled / clean", ratio, args.limit)])


if __name__ == "__main__":
    sys.exit(main())
