"""Issue 13 figure: GuardDuty alerts over ALL regions of the embedded AWS (38) in one run take at most
2x the same run over ONE region, and the API calls grow linearly with the regions (printed per
region; gated: the 38-region run makes at most 38 times the one-region run's calls).

``ansible-playbook -i localhost, playbooks/guardduty_response.yml`` (the entry point as users run it)
through the fault proxy with 150 ms per call (tests/benchmarks/latency.py), on a freshly reset moto
each time: the forwarder role, the topic's key, the topic with one subscription, and the four rules
in every region (``guardduty_regions: [eu-west-1]`` for one region; discovered by DescribeRegions for
all). Afterwards every region holds its rules; a second run over all regions is changed=0.
The export is off (``guardduty_export: false``): moto has no publishing destinations (HTTP 404), so
its share of the figure cannot be measured here (the module fans out like the alert rules, one
ListDetectors + ListPublishingDestinations per region, tested with botocore's Stubber).

    .venv/bin/python tests/benchmarks/bench_guardduty_response.py [--pairs N] [--latency-ms 150] [--limit 2]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3
import latency as lat

PLAY = lat.ROOT / "playbooks" / "guardduty_response.yml"
RULES = {
    "gdpr-guardduty-findings",
    "gdpr-guardduty-tamper",
    "gdpr-guardduty-tamper-disable",
    "gdpr-guardduty-tamper-logs",
}
BASE_VARS: dict[str, Any] = {
    "guardduty_export": False,
    "guardduty_home_region": lat.HOME_REGION,
    "guardduty_alert_subscriptions": [{"protocol": "email", "endpoint": "dpo@example.com"}],
}


def regions_with_rules(regions: list[str]) -> list[str]:
    found = []
    for region in regions:
        names = {r["Name"] for r in boto3.client("events", region_name=region).list_rules()["Rules"]}
        if names >= RULES:
            found.append(region)
    return found


def timed_play(proxy: Any, regions: list[str] | None) -> tuple[float, int]:
    """Seconds and API calls of one run on a fresh estate; the rules must be where asked."""
    lat.fresh(proxy)
    before = len(proxy.operations())
    extra = dict(BASE_VARS, **({"guardduty_regions": regions} if regions else {}))
    elapsed, _output = lat.run_playbook(proxy, PLAY, extra, env={"AWS_REGION": lat.HOME_REGION})
    calls = len(proxy.operations()) - before
    wanted = regions or lat.all_regions()
    missing = sorted(set(wanted) - set(regions_with_rules(wanted)))
    if missing:
        raise SystemExit(f"no alert rules in {missing}")
    return elapsed, calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="interleaved rounds of each side (default 2)")
    parser.add_argument("--latency-ms", type=float, default=lat.LATENCY_MS, help="delay per call")
    parser.add_argument("--limit", type=float, default=2.0, help="highest all/one ratio")
    args = parser.parse_args(argv)

    calls: dict[str, list[int]] = {"one": [], "all": []}

    def side(name: str, regions: list[str] | None) -> float:
        elapsed, count = timed_play(proxy, regions)
        calls[name].append(count)
        return elapsed

    with lat.embedded_aws(latency_ms=args.latency_ms) as proxy:
        every = lat.all_regions()
        timed_play(proxy, None)  # warm-up: moto builds its service apps once
        times = lat.interleaved(
            args.pairs, {"one": lambda: side("one", [lat.HOME_REGION]), "all": lambda: side("all", None)}
        )
        _elapsed, second = lat.run_playbook(proxy, PLAY, BASE_VARS, env={"AWS_REGION": lat.HOME_REGION})
        if lat.changed_count(second):
            raise SystemExit(f"second run over all regions changed something:\n{second[-3000:]}")
    one_calls, all_calls = max(calls["one"]), max(calls["all"])
    print(f"one region: {lat.seconds(times['one'])} s, {one_calls} calls")
    print(f"{len(every)} regions: {lat.seconds(times['all'])} s, {all_calls} calls")
    print(f"calls per region: {(all_calls - one_calls) / (len(every) - 1):.1f} beyond the first region")
    figures = [
        lat.Figure(
            f"{len(every)} regions / 1 region (time)", lat.ratio(times["all"], times["one"]), args.limit
        ),
        lat.Figure(f"{len(every)} regions / 1 region (API calls)", all_calls / one_calls, float(len(every))),
    ]
    return lat.gate(f"guardduty alerts, {args.latency_ms:g} ms per call, ratios:", figures)


if __name__ == "__main__":
    sys.exit(main())
