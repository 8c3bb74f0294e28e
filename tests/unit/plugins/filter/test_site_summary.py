"""The site summary folds the roles' facts into per-region and per-host lines."""

from __future__ import annotations

from ansible_collections.gdpr.aws_monitoring.plugins.filter.site_summary import site_summary

GUARDDUTY = {
    "detectors": [
        {
            "region": "eu-west-1",
            "detector_id": "d1",
            "status": "ENABLED",
            "features": [
                {"name": "S3_DATA_EVENTS", "status": "ENABLED"},
                {"name": "EKS_AUDIT_LOGS", "status": "DISABLED"},
            ],
            "actions": ["update"],
        }
    ],
    "skipped_regions": [{"region": "me-south-1", "reason": "UnrecognizedClientException"}],
}
LOG_GROUPS = {
    "eu-west-1": [
        {"name": "/gdpr/p/nginx/access", "retention_in_days": 365, "kms_key_id": "arn:k", "actions": []},
        {"name": "/legacy", "retention_in_days": None, "kms_key_id": None, "data_protection": True},
    ]
}
ATTACHMENTS = {
    "instances": [
        {
            "instance_id": "i-1",
            "after": "arn:aws:iam::1:instance-profile/CloudWatchAgentServerRole",
            "action": "associated",
        }
    ]
}
HOSTVARS = {
    "i-1": {
        "instance_id": "i-1",
        "placement": {"region": "eu-west-1"},
        "cloudwatch_agent_linux_status": {
            "status": "running",
            "configstatus": "configured",
            "log_groups": ["/gdpr/p/nginx/access"],
        },
    },
    "i-2": {"instance_id": "i-2", "placement": {"region": "eu-central-1"}},
}


def test_one_line_per_region_detector_and_group() -> None:
    out = site_summary(HOSTVARS, ["i-1", "i-2"], GUARDDUTY, LOG_GROUPS, ATTACHMENTS)
    assert out["guardduty"] == [
        "features in every region: S3_DATA_EVENTS",
        "eu-west-1   ENABLED  d1  update",
        "me-south-1  skipped  -   not opted in: UnrecognizedClientException",
    ]
    assert out["log_groups"] == [
        "eu-west-1  /gdpr/p/nginx/access  365 days       KMS     not masked  (unchanged)",
        "eu-west-1  /legacy               never expires  no KMS  masked      (unchanged)",
    ]


def test_many_regions_stay_one_line_each_and_odd_plans_are_named() -> None:
    """Issue 15: a run over every region printed a block per region; now a line, and the plans the
    regions share once."""
    base = GUARDDUTY["detectors"][0]
    regions = [f"xx-region-{n}" for n in range(38)]
    detectors = [dict(base, region=r, detector_id=f"d{n}", actions=[]) for n, r in enumerate(regions)]
    detectors[5] = dict(detectors[5], features=[{"name": "EKS_AUDIT_LOGS", "status": "ENABLED"}])
    out = site_summary({}, [], {"detectors": detectors})
    assert len(out["guardduty"]) == 1 + 38
    assert out["guardduty"][0] == "features in most regions: S3_DATA_EVENTS"
    odd = [line for line in out["guardduty"] if "features:" in line]
    assert odd == ["xx-region-5   ENABLED  d5   unchanged  features: EKS_AUDIT_LOGS"]


def test_hosts_show_profile_action_and_agent_state() -> None:
    out = site_summary(HOSTVARS, ["i-2", "i-1"], GUARDDUTY, LOG_GROUPS, ATTACHMENTS)
    assert list(out["hosts"]) == ["i-1", "i-2"]
    assert out["hosts"]["i-1"] == (
        "eu-west-1; profile CloudWatchAgentServerRole (associated); "
        "agent running, config configured; 1 log group"
    )
    assert out["hosts"]["i-2"] == "eu-central-1; profile none (not run); agent not run; 0 log groups"


def test_nothing_ran_gives_empty_report() -> None:
    assert site_summary({}, []) == {"region_counts": {}, "guardduty": [], "log_groups": [], "hosts": {}}


def test_region_counts_per_controller_role() -> None:
    """Issue 10: the summary says how many regions were done, refused and failed."""
    guardduty = dict(GUARDDUTY, region_counts={"done": 16, "refused": 1, "failed": 0})
    attachments = dict(ATTACHMENTS, region_counts={"done": 3, "refused": 0, "failed": 0})
    out = site_summary(HOSTVARS, ["i-1"], guardduty, LOG_GROUPS, attachments)
    assert out["region_counts"] == {
        "guardduty": "16 done, 1 refused (not opted in), 0 failed",
        "log_groups": "1 done, 0 refused (not opted in), 0 failed",
        "agent_iam": "3 done, 0 refused (not opted in), 0 failed",
    }


def test_region_counts_from_an_older_guardduty_fact_and_roles_not_run() -> None:
    out = site_summary(HOSTVARS, [], GUARDDUTY, {}, {})
    assert out["region_counts"] == {"guardduty": "1 done, 1 refused (not opted in), 0 failed"}


def test_no_targeted_instance_is_a_warning_in_the_summary() -> None:
    attachments = {
        "instances": [],
        "warnings": ["no instance matched agent_iam_instances / agent_iam_instance_filters"],
    }
    report = site_summary({}, [], attachments=attachments)
    assert report["warnings"] == [
        "agent_iam: no instance matched agent_iam_instances / agent_iam_instance_filters"
    ]
    assert "warnings" not in site_summary({}, [], attachments={"instances": [], "warnings": []})


def test_alerts_line_counts_confirmed_subscriptions_and_warns_without_one() -> None:
    alerts = {
        "threshold": 7.0,
        "topic": {
            "arn": "arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings",
            "subscriptions": {"total": 1, "confirmed": 0, "pending": 1},
        },
        "regions": [{"region": "eu-west-1"}, {"region": "us-east-1"}],
        "region_counts": {"done": 2, "refused": 0, "failed": 0},
    }
    summary = site_summary({}, [], alerts=alerts)
    assert summary["guardduty_alerts"] == (
        "severity >= 7 in 2 regions -> arn:aws:sns:eu-west-1:123456789012:gdpr-guardduty-findings: "
        "0 confirmed, 1 pending subscription(s)"
    )
    assert summary["region_counts"]["guardduty_alerts"] == "2 done, 0 refused (not opted in), 0 failed"
    assert summary["warnings"][0].startswith("guardduty alerts: no confirmed subscription")
    alerts["topic"]["subscriptions"]["confirmed"] = 1
    assert "warnings" not in site_summary({}, [], alerts=alerts)
    assert "guardduty_alerts" not in site_summary({}, [])
