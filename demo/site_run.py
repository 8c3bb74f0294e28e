"""`make demo`'s runs of site.yml, short on the terminal.

Runs the real site.yml through ansible-runner (the engine AWX uses), prints one line per play with
its time while it runs, then what the run did (the site summary), the evidence report's path and
summary, and where the full output is. ``--again`` is the second run: it prints one line saying that
nothing changed, or fails naming every task that did.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_TASK = "Report per region and per host"
EVIDENCE_ROLE, EVIDENCE_TASK = "evidence_report", "Report"
# A region's line in the summary's GuardDuty list: it starts with the region's name.
REGION_LINE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+\s")


class Progress:
    """Follows the run's events: a line per finished play, the changed tasks, the reports."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.play: str | None = None
        self.play_started = 0.0
        self.changed: list[str] = []
        self.summary: Any = None
        self.evidence: list[str] = []
        self.stats: Mapping[str, Any] = {}

    def _end_play(self) -> None:
        if self.play is not None and not self.quiet:
            print(f"  {self.play:<62} {time.monotonic() - self.play_started:4.0f} s", flush=True)

    def __call__(self, event: Mapping[str, Any]) -> bool:
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind == "playbook_on_play_start":
            self._end_play()
            self.play, self.play_started = data.get("play", "?"), time.monotonic()
        elif kind == "runner_on_ok":
            res = data.get("res") or {}
            if res.get("changed"):
                self.changed.append(f"{data.get('host')}: {data.get('task')}")
            if data.get("task") == SUMMARY_TASK:
                self.summary = res.get("msg")
            elif data.get("task") == EVIDENCE_TASK and data.get("role") == EVIDENCE_ROLE:
                self.evidence = list(res.get("msg") or [])
        elif kind == "playbook_on_stats":
            self._end_play()
            self.stats = data
        return True  # keep the event in the artifacts (the full output)


def condensed(summary: Any, limit: int = 6) -> Any:
    """The site summary for the terminal: GuardDuty's list of regions (38 lines), when longer than
    ``limit``, becomes one line counting the regions by state and by what the run did; the full list
    stays in the run's output. Its region lines read "<region>  <state>  <detector>  <action>"
    (plugins/filter/site_summary.py); other lines (the plans every region has) are kept."""
    lines = summary.get("guardduty") if isinstance(summary, dict) else None
    if not isinstance(lines, list) or len(lines) <= limit:
        return summary
    # Cells are separated by two spaces or more (a table); an action list has single spaces.
    rows = [re.split(r"\s{2,}", str(line)) for line in lines if REGION_LINE.match(str(line))]
    states = Counter(row[1] for row in rows if len(row) > 1)
    # A skipped region's "action" is why it was skipped: counted among the states only.
    actions = Counter(row[3] if len(row) > 3 else "unchanged" for row in rows if row[1:2] != ["skipped"])
    said = ", ".join(f"{state} {n}" for state, n in sorted(states.items()))
    did = ", ".join(f"{what} {n}" for what, n in sorted(actions.items()))
    kept = [line for line in lines if not REGION_LINE.match(str(line))]
    return {
        **summary,
        "guardduty": [*kept, f"{len(rows)} regions: {said}; {did} (one line each in the full output)"],
    }


def indented(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False, width=1000)
    return "\n".join("    " + line for line in text.splitlines())


def total(stats: Mapping[str, Any], key: str) -> int:
    return sum((stats.get(key) or {}).values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, help="private data directory (artifacts, full output)")
    parser.add_argument("--inventory", required=True)
    parser.add_argument("--again", action="store_true", help="second run: must change nothing")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="ansible-playbook arguments, after --")
    opts = parser.parse_args()
    args = [a for a in opts.args if a != "--"]

    Path(opts.dir).mkdir(parents=True, exist_ok=True)
    progress = Progress(quiet=opts.again)
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=opts.dir,
        project_dir=str(ROOT),
        playbook=str(ROOT / "site.yml"),
        inventory=opts.inventory,
        cmdline=shlex.join(args),
        quiet=True,
        event_handler=progress,
    )
    seconds = time.monotonic() - started
    stdout = Path(runner.config.artifact_dir) / "stdout"
    hosts = sorted(set(progress.stats.get("ok") or {}) | set(progress.stats.get("changed") or {}))
    if runner.rc != 0:
        print(Path(stdout).read_text()[-6000:] if stdout.exists() else "", file=sys.stderr)
        print(f"site.yml failed (rc={runner.rc}); full output: {stdout}", file=sys.stderr)
        return runner.rc or 1
    if opts.again:
        if progress.changed:
            print(f"site.yml again: {len(progress.changed)} change(s), expected none:", file=sys.stderr)
            print("\n".join("  " + c for c in progress.changed), file=sys.stderr)
            return 1
        print(f"site.yml again: nothing changed (changed=0 on all {len(hosts)} hosts, {seconds:.0f} s)")
        # The first run's report is read seconds after the agents start: a host whose first events
        # have not landed yet reads FAIL on "Instance logs arriving". This one follows the pipe.
        if len(progress.evidence) > 1:
            print(f"  evidence report now: {progress.evidence[1]}")
        return 0
    print(
        f"site.yml: {len(hosts)} hosts, {total(progress.stats, 'changed')} changes, "
        f"{total(progress.stats, 'failures')} failed, {seconds:.0f} s (full output: {stdout})"
    )
    if progress.summary is not None:
        print("What it did:\n" + indented(condensed(progress.summary)))
    if progress.evidence:
        print(progress.evidence[0])
        print("\n".join("    " + line for line in progress.evidence[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
