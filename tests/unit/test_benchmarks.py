"""The benchmarks' shared helper (tests/benchmarks/latency.py) and that every benchmark script still
imports and parses its options. The benchmarks themselves are heavy (``make bench``), never run here."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import latency  # noqa: E402


def test_a_missed_figure_fails_the_gate_printing_measured_and_limit(capsys):
    figures = [
        latency.Figure("all / one", latency.ratio([2.6, 2.5, 9.0], [2.0, 2.0, 2.1]), 1.25),
        latency.Figure("collection / sequential", 0.2),
    ]
    assert latency.gate("title", figures) == 1
    out = capsys.readouterr()
    assert "all / one: measured 1.30, limit 1.25: MISSED" in out.out
    assert "collection / sequential: 0.20 (not gated)" in out.out
    assert "all / one over the limit" in out.err


def test_figures_within_their_limits_pass(capsys):
    assert (
        latency.gate("title", [latency.Figure("all / one", 1.25, 1.25), latency.Figure("calls", 95, 238)])
        == 0
    )
    assert "calls: measured 95, limit 238: ok" in capsys.readouterr().out


def test_sides_are_interleaved_round_by_round():
    order = []
    times = latency.interleaved(
        2, {"one": lambda: order.append("one") or 1.0, "all": lambda: order.append("all") or 2.0}
    )
    assert order == ["one", "all", "one", "all"]
    assert times == {"one": [1.0, 1.0], "all": [2.0, 2.0]}


def test_a_side_measured_once_runs_in_the_first_round_only():
    order = []
    sides = {name: (lambda n=name: order.append(n) or 1.0) for name in ("one", "all", "sequential")}
    times = latency.interleaved(3, sides, once=["sequential"])
    assert order == ["one", "all", "sequential", "one", "all", "one", "all"]
    assert {name: len(values) for name, values in times.items()} == {"one": 3, "all": 3, "sequential": 1}


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("bench_*.py")))
def test_every_benchmark_imports_and_parses_its_options(script, capsys):
    module = importlib.import_module(script)
    if not module.main.__code__.co_argcount:  # no options (bench_agent_linux): importing is the check
        return
    with pytest.raises(SystemExit) as done:
        module.main(["--help"])
    assert done.value.code == 0
    assert "usage:" in capsys.readouterr().out
