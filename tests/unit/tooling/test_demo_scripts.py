"""The demo's short terminal account (demo/site_run.py) and its end-to-end pipe check (demo/pipe.py).

site_run.py follows ansible-runner's events: these tests feed it events shaped like the runner's.
pipe.py's arrival check is tested with botocore's Stubber at the FilterLogEvents boundary (the real
run, against the embedded AWS and the podman hosts, is `make demo` itself).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[3]


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"demo_{name}", REPO / "demo" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ok(task: str, host: str = "localhost", role: str = "", **res: object) -> dict:
    return {"event": "runner_on_ok", "event_data": {"task": task, "host": host, "role": role, "res": res}}


def test_progress_keeps_changes_the_summary_and_the_evidence_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    site_run = load("site_run")
    progress = site_run.Progress(quiet=False)
    events = [
        {"event": "playbook_on_play_start", "event_data": {"play": "GuardDuty on in every enabled region"}},
        ok("Keep one GuardDuty detector per region", changed=True),
        ok("Ask the agent for its state", host="i-1", changed=False),
        {"event": "playbook_on_play_start", "event_data": {"play": "Summary of the GDPR monitoring run"}},
        ok("Report per region and per host", msg={"hosts": {"i-1": "eu-west-1; agent running"}}),
        ok("Report", msg=["GDPR evidence report: /r/report.html", "3 checks: 0 FAIL"]),
        ok(
            "Report", role="evidence_report", msg=["GDPR evidence report: /r/report.html", "3 checks: 0 FAIL"]
        ),
        {"event": "playbook_on_stats", "event_data": {"changed": {"localhost": 1}, "ok": {"i-1": 3}}},
    ]
    assert all(progress(e) for e in events)
    assert progress.changed == ["localhost: Keep one GuardDuty detector per region"]
    assert progress.summary == {"hosts": {"i-1": "eu-west-1; agent running"}}
    assert progress.evidence == ["GDPR evidence report: /r/report.html", "3 checks: 0 FAIL"]
    assert site_run.total(progress.stats, "changed") == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["GuardDuty", "Summary"]


def test_second_run_progress_prints_nothing_per_play(capsys: pytest.CaptureFixture[str]) -> None:
    progress = load("site_run").Progress(quiet=True)
    progress({"event": "playbook_on_play_start", "event_data": {"play": "GuardDuty"}})
    progress({"event": "playbook_on_stats", "event_data": {}})
    assert capsys.readouterr().out == ""


def test_an_event_counts_only_in_a_stream_of_its_host() -> None:
    pipe = load("pipe")
    want = pipe.Expected("demo-web-nginx", "i-0abc", "eu-central-1", "/gdpr/demo/nginx/access", "/m-1")
    client = boto3.client(
        "logs", region_name="eu-central-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    params = {"logGroupName": "/gdpr/demo/nginx/access", "filterPattern": '"/m-1"'}
    stub.add_response(
        "filter_log_events", {"events": [{"logStreamName": "i-0other", "message": "/m-1"}]}, params
    )
    stub.add_response(
        "filter_log_events", {"events": [{"logStreamName": "i-0abc", "message": "/m-1"}]}, params
    )
    with stub:
        assert not pipe.arrived(client, want)
        assert pipe.arrived(client, want)


def test_the_terminal_gets_one_line_for_guardduty_s_regions() -> None:
    """The lines come from the site summary's own filter, so a change of its format fails here."""
    from ansible_collections.gdpr.aws_monitoring.plugins.filter.site_summary import _guardduty_lines

    plans = [{"name": "S3_DATA_EVENTS", "status": "ENABLED"}]
    detectors = [
        {"region": f"eu-west-{n}", "status": "ENABLED", "detector_id": f"d{n}", "features": plans,
         "actions": ["create"] if n < 3 else []}
        for n in range(1, 8)
    ]  # fmt: skip
    detectors[0]["features"] = []  # a region whose plans differ gets a fifth cell
    lines = _guardduty_lines(
        {"detectors": detectors, "skipped_regions": [{"region": "me-south-1", "reason": "x"}]}
    )
    summary = {"hosts": {"i-1": "eu-west-1"}, "guardduty": lines}
    short = load("site_run").condensed(summary)
    assert short["hosts"] == summary["hosts"]
    assert short["guardduty"] == [
        "features in most regions: S3_DATA_EVENTS",
        "8 regions: ENABLED 7, skipped 1; create 2, unchanged 5 (one line each in the full output)",
    ]
    few = {"guardduty": lines[:3]}
    assert load("site_run").condensed(few) == few
