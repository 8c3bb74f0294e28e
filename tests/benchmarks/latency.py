"""What every benchmark needs to measure a play as it runs against real AWS: the embedded AWS (moto)
behind the fault proxy (tests/harness/fault_proxy.py) with a delay on every call, one timed
``ansible-playbook`` run through it, boto3 clients through it for the peers' sequential loops,
interleaved measurements and the gate that fails the benchmark when a figure is missed.

On 127.0.0.1 a call takes a few milliseconds, so a run's time is Ansible's start-up and CPU, and
calls made one after another cost nothing. Real AWS answers in 50-300 ms: ``LATENCY_MS`` (150) per
call brings the round trips back, so a benchmark sees waves of regions and calls in a region's
critical path. The delay is the proxy's (calls still run side by side), on both sides of a ratio.

The benchmark process itself talks to moto directly (``os.environ`` points at it): its checks and
set-up are not slowed and are never counted.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

import fault_proxy  # noqa: E402
import moto_server  # noqa: E402

LATENCY_MS = 150.0
HOME_REGION = "eu-west-1"


@contextmanager
def embedded_aws(**faults: Any) -> Iterator[fault_proxy.FaultProxy]:
    """moto with the fault proxy in front (``faults``: its config, e.g. ``latency_ms=150``).

    This process's AWS settings point at moto directly (set-up and checks, past the faults); the
    playbooks run by ``run_playbook`` and the clients of ``client_via`` go through the proxy.
    """
    with moto_server.running() as endpoint, fault_proxy.FaultProxy(endpoint, faults) as proxy:
        os.environ.update(moto_server.endpoint_env(endpoint))
        yield proxy


def embedded_aws_cpu(proxy: fault_proxy.FaultProxy) -> float:
    """CPU-seconds used so far by the embedded AWS behind ``proxy``: the moto server processes
    listening on its port, plus this process (whose threads are the fault proxy's; the benchmark's
    own set-up is not timed between two readings around a playbook run). On AWS that work is done
    elsewhere; here it shares the machine's cores with the run being measured, so a benchmark prints
    it beside a figure whose calls grow (not gated)."""
    port = proxy.upstream_endpoint.rsplit(":", 1)[-1]
    ticks = os.sysconf("SC_CLK_TCK")
    total = sum(os.times()[:2])
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"moto_server" not in b" ".join(cmdline) or port.encode() not in cmdline:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


# A read per service that makes moto build the service's state in a region and changes nothing.
WARM_READS: dict[str, tuple[str, dict[str, Any]]] = {
    "guardduty": ("list_detectors", {}),
    "logs": ("describe_log_groups", {"limit": 1}),
}


def fresh(proxy: fault_proxy.FaultProxy, warm: Sequence[str] = ()) -> None:
    """Drop every resource of the embedded AWS behind ``proxy`` (each measured run starts alike).

    Then, untimed and past the proxy, the first calls that make moto build its state, which it
    does lazily on the first request: any request builds the account's IAM backend (over a
    thousand managed policies, about a CPU-second), the home region's EC2 backend its first call,
    and each service in ``warm`` (WARM_READS) a backend per region (measured for GuardDuty: 11 ms
    of moto's CPU on a region's first call, 1.6 ms after). AWS has no such start-up; left in, it
    would be one region's worth on one side of a ratio and every region's on the other.
    """
    moto_server.reset(proxy.upstream_endpoint)
    boto3.client("sts", region_name=HOME_REGION).get_caller_identity()
    boto3.client("ec2", region_name=HOME_REGION).describe_regions()
    for service in warm:
        operation, params = WARM_READS[service]
        for region in all_regions():
            getattr(boto3.client(service, region_name=region), operation)(**params)


def ansible_env(endpoint: str) -> dict[str, str]:
    """The environment of a playbook run against ``endpoint``, with this checkout's collections."""
    env = dict(os.environ)
    env.update(moto_server.endpoint_env(endpoint))
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": sysconfig.get_paths()["purelib"],
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            # Timed as users run: their modules are compiled on every run (tests/harness/zipcache.py
            # spares the test suites that CPU, not the figures).
            "GDPR_TEST_ZIPCACHE": "off",
        }
    )
    return env


def run_playbook(
    proxy: fault_proxy.FaultProxy,
    playbook: Path | str,
    extra_vars: dict[str, Any] | None = None,
    inventory: str = "localhost,",
    options: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> tuple[float, str]:
    """Wall time and output of one ansible-playbook run through the proxy (as users run it: a new
    process, module start-up included); a failed run stops the benchmark (a fast failure is no figure).

    ``extra_vars`` go in a file (a 200-instance list is too long for a command line to read well).
    """
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", inventory, *options, str(playbook)]
    run_env = ansible_env(proxy.endpoint)
    run_env.update(env or {})
    vars_file = None
    if extra_vars:
        vars_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-vars-{os.getpid()}.json"
        vars_file.write_text(json.dumps(extra_vars))
        cmd += ["-e", f"@{vars_file}"]
    try:
        start = time.perf_counter()
        done = subprocess.run(cmd, env=run_env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
    finally:
        if vars_file:
            vars_file.unlink(missing_ok=True)
    if done.returncode != 0:
        raise SystemExit(
            f"ansible-playbook {Path(playbook).name} failed ({done.returncode}):\n"
            f"{done.stdout[-6000:]}\n{done.stderr[-2000:]}"
        )
    return elapsed, done.stdout


def changed_count(output: str) -> int:
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", output))


def all_regions() -> list[str]:
    """Every region of the embedded AWS (38 on moto), asked directly (not timed)."""
    ec2 = boto3.client("ec2", region_name=HOME_REGION)
    return sorted(r["RegionName"] for r in ec2.describe_regions()["Regions"])


def client_via(proxy: fault_proxy.FaultProxy, service: str, region: str) -> Any:
    """A plain boto3 client through the proxy, as a peer's script makes one per region."""
    return boto3.client(service, region_name=region, endpoint_url=proxy.endpoint)


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def interleaved(
    pairs: int, sides: dict[str, Callable[[], float]], once: Sequence[str] = ()
) -> dict[str, list[float]]:
    """``pairs`` rounds of every side in turn (wall times), so other load on the machine favours none.

    Sides named in ``once`` (the peers' sequential loops: printed, not gated, several times slower)
    are measured in the first round only; more rounds go to the sides a gated ratio compares.
    """
    times: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(pairs):
        for name, measure in sides.items():
            if round_ == 0 or name not in once:
                times[name].append(measure())
    return times


def ratio(numerator: list[float], denominator: list[float]) -> float:
    """Ratio of the medians."""
    return statistics.median(numerator) / statistics.median(denominator)


def seconds(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times)


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``limit`` None means printed, not gated."""

    name: str
    measured: float
    limit: float | None = None

    @property
    def missed(self) -> bool:
        return self.limit is not None and self.measured > self.limit

    def line(self) -> str:
        if self.limit is None:
            return f"  {self.name}: {_number(self.measured)} (not gated)"
        verdict = "MISSED" if self.missed else "ok"
        return f"  {self.name}: measured {_number(self.measured)}, limit {_number(self.limit)}: {verdict}"


def _number(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def gate(title: str, figures: list[Figure]) -> int:
    """Print every figure (measured vs limit); 1 when one is missed, so ``make bench`` fails."""
    print(title)
    for figure in figures:
        print(figure.line())
    missed = [f.name for f in figures if f.missed]
    if missed:
        print(f"FAILED: {', '.join(missed)} over the limit", file=sys.stderr)
        return 1
    return 0
