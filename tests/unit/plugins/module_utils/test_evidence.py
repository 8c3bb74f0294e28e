"""Unit tests of module_utils/evidence.py: every check's judgement (PASS, FAIL, UNKNOWN) and the
three renderings of the GDPR evidence report."""

from __future__ import annotations

import csv
import io
import json
import time
from html.parser import HTMLParser

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev

PASS, FAIL, UNKNOWN = ev.PASS, ev.FAIL, ev.UNKNOWN
NOW = 1_800_000_000_000
FEATURES = [{"name": "S3_DATA_EVENTS", "status": "ENABLED", "additional_configuration": []}]


def test_registry_ids_are_unique_and_every_check_has_its_parts():
    assert len(ev.CHECKS_BY_ID) == len(ev.CHECKS)
    for check in ev.CHECKS:
        assert check.article.startswith("Art. ")
        assert check.scope in ("region", "log_group", "instance", "host")
        assert check.title and check.reads and check.remediation and callable(check.judge)


@pytest.mark.parametrize(
    ("detectors", "status", "words"),
    [
        (None, UNKNOWN, "could not be read"),
        ([], FAIL, "no GuardDuty detector"),
        ([{"id": "a", "status": "ENABLED"}, {"id": "b", "status": "ENABLED"}], FAIL, "2 detectors"),
        ([{"id": "a", "status": "DISABLED"}], FAIL, "suspended"),
        ([{"id": "a", "status": "ENABLED"}], PASS, "ENABLED"),
    ],
)
def test_guardduty_detector(detectors, status, words):
    verdict = ev.judge_guardduty_detector(detectors)
    assert verdict.status == status and words in verdict.detail


def test_guardduty_frequency():
    det = {"frequency": "SIX_HOURS"}
    assert ev.judge_guardduty_frequency(None, "SIX_HOURS").status == UNKNOWN
    assert ev.judge_guardduty_frequency(det, None).status == UNKNOWN
    assert ev.judge_guardduty_frequency(det, "FIFTEEN_MINUTES") == (
        FAIL,
        "findings published every SIX_HOURS, configured FIFTEEN_MINUTES",
    )
    assert ev.judge_guardduty_frequency(det, "SIX_HOURS").status == PASS


def test_guardduty_features():
    runtime = [
        {
            "name": "RUNTIME_MONITORING",
            "status": "ENABLED",
            "additional_configuration": [{"name": "EC2_AGENT_MANAGEMENT", "status": "ENABLED"}],
        }
    ]
    assert ev.judge_guardduty_features(None, FEATURES).status == UNKNOWN
    assert ev.judge_guardduty_features({"features": []}, None).status == UNKNOWN
    off = ev.judge_guardduty_features({"features": []}, FEATURES)
    assert off.status == FAIL and "S3_DATA_EVENTS" in off.detail
    sub_off = [
        {**runtime[0], "additional_configuration": [{"name": "EC2_AGENT_MANAGEMENT", "status": "DISABLED"}]}
    ]
    assert ev.judge_guardduty_features({"features": sub_off}, runtime).status == FAIL
    assert ev.judge_guardduty_features({"features": FEATURES + runtime}, runtime).status == PASS


def test_log_group_exists():
    assert ev.judge_log_group_exists(None, ["web1"]) == (FAIL, "missing; planned for web1")
    assert ev.judge_log_group_exists({"logGroupName": "/g"}, []).status == PASS


@pytest.mark.parametrize(
    ("group", "status", "words"),
    [
        (None, UNKNOWN, "does not exist"),
        ({}, FAIL, "never expires"),
        ({"retentionInDays": 30}, FAIL, "below the minimum of 365"),
        ({"retentionInDays": 3653}, FAIL, "above the maximum of 1827"),
        ({"retentionInDays": 365}, PASS, "365 days"),
        ({"retentionInDays": 1827}, PASS, "1827 days"),
    ],
)
def test_log_group_retention(group, status, words):
    verdict = ev.judge_log_group_retention(group, 365, 1827)
    assert verdict.status == status and words in verdict.detail


def test_log_group_kms():
    assert ev.judge_log_group_kms(None).status == UNKNOWN
    assert ev.judge_log_group_kms({}).status == FAIL
    assert ev.judge_log_group_kms({"kmsKeyId": "arn:k"}) == (PASS, "encrypted with arn:k")


def test_log_group_data_protection():
    group = {"logGroupName": "/g"}
    masking = json.dumps({"Statement": [{"Operation": {"Audit": {}}}, {"Operation": {"Deidentify": {}}}]})
    audit_only = json.dumps({"Statement": [{"Operation": {"Audit": {}}}]})
    assert ev.judge_log_group_data_protection(None, masking).status == UNKNOWN
    assert ev.judge_log_group_data_protection(group, None, "endpoint cannot answer") == (
        UNKNOWN,
        "endpoint cannot answer",
    )
    assert ev.judge_log_group_data_protection(group, "").status == FAIL
    assert ev.judge_log_group_data_protection(group, "{not json").status == FAIL
    assert "does not mask" in ev.judge_log_group_data_protection(group, audit_only).detail
    assert ev.judge_log_group_data_protection(group, masking).status == PASS


def test_instance_profile():
    policy = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    assert ev.judge_instance_profile({"profile_error": "AccessDenied"}) == (UNKNOWN, "AccessDenied")
    assert ev.judge_instance_profile({"profile_arn": None}).status == FAIL
    assert ev.judge_instance_profile({"profile_arn": "arn:p", "policies": None}).status == UNKNOWN
    assert ev.judge_instance_profile({"profile_arn": "arn:p", "policies": ["arn:x/Other"]}).status == FAIL
    assert ev.judge_instance_profile({"profile_arn": "arn:p", "policies": [policy]}).status == PASS


def test_instance_logs_arriving():
    base = {"log_groups": ["/g/a", "/g/b"]}
    assert ev.judge_instance_logs({"logs_error": "throttled"}, NOW, 600) == (UNKNOWN, "throttled")
    assert ev.judge_instance_logs({}, NOW, 600).status == UNKNOWN
    none = ev.judge_instance_logs({**base, "newest_ms": None}, NOW, 600)
    assert none.status == FAIL and "/g/a, /g/b" in none.detail
    old = ev.judge_instance_logs({**base, "newest_ms": NOW - 601_000}, NOW, 600)
    assert old.status == FAIL and "601 s ago" in old.detail
    assert ev.judge_instance_logs({**base, "newest_ms": NOW - 600_000}, NOW, 600).status == PASS


def test_agent_running():
    assert ev.judge_agent(None).status == UNKNOWN
    assert ev.judge_agent({"log_groups": []}).status == UNKNOWN
    assert ev.judge_agent({"status": "stopped", "configstatus": "configured"}) == (
        FAIL,
        "agent stopped, config configured",
    )
    assert ev.judge_agent({"status": "running", "configstatus": "not configured"}).status == FAIL
    assert ev.judge_agent({"status": "running", "configstatus": "configured", "version": "1"}).status == PASS


def test_bounds_and_skip_ids_name_the_variables():
    names = ("evidence_report_min_retention_days", "evidence_report_max_retention_days")
    assert "evidence_report_min_retention_days (400) is above" in ev.bounds_problem(400, 365, names)
    assert "at least 1" in ev.bounds_problem(0, 365, names)
    assert ev.bounds_problem(365, 365, names) is None
    assert ev.unknown_check_ids(["log_group_kms", "nope"]) == ["nope"]


def test_row_carries_remediation_only_when_not_passing():
    bad = ev.row("log_group_kms", ev.Verdict(FAIL, "x"), "123", "eu-west-1", "/g")
    assert (
        set(bad) == set(ev.ROW_FIELDS)
        and bad["article"] == "Art. 32"
        and "log_groups_kms" in bad["remediation"]
    )
    assert ev.row("log_group_kms", ev.Verdict(PASS, "x"), "123", "eu-west-1", "/g")["remediation"] == ""


HEADER = {"account": "123456789012", "time": "2026-11-28T05:00:00Z", "collection_version": "0.1.0"}


def _rows(n: int) -> list[dict[str, str]]:
    checks = [c.id for c in ev.CHECKS]
    statuses = [PASS, PASS, FAIL, UNKNOWN]
    return [
        ev.row(
            checks[i % len(checks)],
            ev.Verdict(statuses[i % 4], f"detail {i} <b>&'\""),
            "123456789012",
            f"region-{i % 7}",
            f"res-{i}",
        )
        for i in range(n)
    ]


def test_json_and_csv_keep_every_row_and_prowler_columns():
    rows = _rows(20)
    doc = json.loads(ev.render_json(HEADER, rows))
    assert doc["header"] == HEADER and doc["rows"] == rows
    table = list(csv.DictReader(io.StringIO(ev.render_csv(HEADER, rows)), delimiter=";"))
    assert len(table) == 20
    for column in (
        "AccountId",
        "Region",
        "AssessmentDate",
        "Requirements_Id",
        "CheckId",
        "Status",
        "StatusExtended",
        "ResourceId",
    ):
        assert column in table[0]
    assert table[2]["Status"] == FAIL and table[2]["StatusExtended"] == rows[2]["detail"]
    assert table[0]["AssessmentDate"] == HEADER["time"]


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids.update(v for k, v in attrs if k == "id")

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_aws_values_and_has_every_section():
    rows = _rows(40)
    rows[0]["resource"] = "<script>alert(1)</script>"
    page = ev.render_html(HEADER, rows)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched
    parser = _Cells()
    parser.feed(page)
    assert {"totals", "articles", "grid", "problems", "instances"} <= parser.ids
    assert "script" not in parser.tags
    total = ev.counts(rows)
    assert f'data-status="FAIL" data-count="{total[FAIL]}"' in page
    # Failures come first, before unknowns, in the problems table.
    problems = page[page.index('id="problems"') : page.index("<h2>Per region")]
    assert problems.index(">FAIL<") < problems.index(">UNKNOWN<")
    assert problems.count("<tr class=") == total[FAIL] + total[UNKNOWN]


def test_html_grid_shows_the_worst_status_per_region_and_check():
    rows = [
        ev.row("log_group_kms", ev.Verdict(PASS, ""), "1", "eu-west-1", "/a"),
        ev.row("log_group_kms", ev.Verdict(FAIL, ""), "1", "eu-west-1", "/b"),
        ev.row("guardduty_detector", ev.Verdict(PASS, ""), "1", "eu-west-1", "d"),
    ]
    grid = ev.render_html(HEADER, rows).split('id="grid"')[1].split("</table>")[0]
    assert '<td class="FAIL">FAIL 1/2</td>' in grid and '<td class="PASS">PASS</td>' in grid


def test_summary_lines():
    lines = ev.summary_lines(_rows(8))
    assert lines[0] == "8 checks: 2 FAIL, 2 UNKNOWN, 4 PASS"
    assert any(line.startswith("Art. 32:") for line in lines[1:])


def test_html_for_10000_rows_is_under_5_mb_and_2_seconds():
    rows = _rows(10_000)
    start = time.perf_counter()
    page = ev.render_html(HEADER, rows)
    elapsed = time.perf_counter() - start
    assert len(page.encode()) < 5 * 1024 * 1024, len(page)
    assert elapsed < 2.0, elapsed
