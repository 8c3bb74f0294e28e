# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GDPR evidence checks: one registry, pure judgements, and the report's three renderings.

Nothing here talks to AWS. The module ``gdpr_evidence_info`` reads the estate and hands what it read
to the judgement functions below; the ``evidence_report`` role renders the rows with ``render_*``.
Issues adding checks (alerting, findings export, CloudTrail) add an entry to ``CHECKS`` and a
judgement function; the renderings pick new checks up by themselves.

A judgement returns a ``Verdict``: PASS, FAIL, or UNKNOWN when the facts needed are missing, always
with a detail saying what was seen (or why nothing could be).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty import features_differ
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty_response import (
    subscription_counts,
)

# Worst first: a grid cell or a summary shows the worst status of its rows.
STATUSES: tuple[str, ...] = ("FAIL", "UNKNOWN", "PASS")
FAIL, UNKNOWN, PASS = STATUSES
ROW_FIELDS: tuple[str, ...] = (
    "check_id",
    "article",
    "status",
    "account",
    "region",
    "resource",
    "detail",
    "remediation",
)
AGENT_POLICY = "CloudWatchAgentServerPolicy"


class Verdict(NamedTuple):
    status: str
    detail: str


@dataclass(frozen=True)
class Check:
    """One evidence check: what it proves (article), where its facts come from, how it is judged."""

    id: str
    article: str
    title: str
    scope: str  # region | log_group | instance | host: what one row is about
    reads: str  # the read-only calls or facts the check is judged from
    judge: Callable[..., Verdict]
    remediation: str


def unknown(reason: str) -> Verdict:
    return Verdict(UNKNOWN, reason)


# --- Judgements (pure) ------------------------------------------------------------------------


def judge_guardduty_detector(detectors: list[Mapping[str, Any]] | None) -> Verdict:
    """``detectors``: ``[{id, status}]`` of the region (None: could not be read)."""
    if detectors is None:
        return unknown("the region's detectors could not be read")
    if not detectors:
        return Verdict(FAIL, "no GuardDuty detector in this region")
    if len(detectors) > 1:
        ids = ", ".join(sorted(str(d.get("id")) for d in detectors))
        return Verdict(FAIL, f"{len(detectors)} detectors ({ids}); GuardDuty allows one per region")
    detector = detectors[0]
    if detector.get("status") != "ENABLED":
        return Verdict(FAIL, f"detector {detector.get('id')} is {detector.get('status')} (suspended)")
    return Verdict(PASS, f"detector {detector.get('id')} ENABLED")


def judge_guardduty_frequency(detector: Mapping[str, Any] | None, wanted: str | None) -> Verdict:
    if detector is None:
        return unknown("no single detector to read the frequency from")
    have = detector.get("frequency")
    if not wanted:
        return unknown(f"no frequency configured to compare with (detector publishes every {have})")
    if have != wanted:
        return Verdict(FAIL, f"findings published every {have}, configured {wanted}")
    return Verdict(PASS, f"findings published every {have}")


def judge_guardduty_features(
    detector: Mapping[str, Any] | None, wanted: list[Mapping[str, Any]] | None
) -> Verdict:
    """``detector['features']`` and ``wanted`` in guardduty.features_from_aws/_from_params shape."""
    if detector is None:
        return unknown("no single detector to read the features from")
    if wanted is None:
        return unknown("no features configured to compare with")
    differ = features_differ(list(detector.get("features") or []), [dict(w) for w in wanted])
    if differ:
        return Verdict(FAIL, "features not as configured: " + ", ".join(sorted(differ)))
    names = ", ".join(sorted(w["name"] for w in wanted)) or "none configured"
    return Verdict(PASS, f"features as configured: {names}")


def judge_log_group_exists(group: Mapping[str, Any] | None, planned_for: Iterable[str]) -> Verdict:
    hosts = ", ".join(sorted(planned_for)) or "the configuration"
    if group is None:
        return Verdict(FAIL, f"missing; planned for {hosts}")
    return Verdict(PASS, f"exists; planned for {hosts}")


def judge_log_group_retention(group: Mapping[str, Any] | None, minimum: int, maximum: int) -> Verdict:
    if group is None:
        return unknown("the group does not exist")
    days = group.get("retentionInDays")
    if not days:
        return Verdict(FAIL, f"never expires: personal data kept forever (bounds {minimum}-{maximum} days)")
    if days < minimum:
        return Verdict(FAIL, f"{days} days, below the minimum of {minimum}: evidence is lost")
    if days > maximum:
        return Verdict(FAIL, f"{days} days, above the maximum of {maximum}")
    return Verdict(PASS, f"{days} days (bounds {minimum}-{maximum})")


def judge_log_group_kms(group: Mapping[str, Any] | None) -> Verdict:
    if group is None:
        return unknown("the group does not exist")
    key = group.get("kmsKeyId")
    if not key:
        return Verdict(FAIL, "not encrypted with a KMS key")
    return Verdict(PASS, f"encrypted with {key}")


def judge_log_group_data_protection(
    group: Mapping[str, Any] | None, policy: str | None, reason: str | None = None
) -> Verdict:
    """``policy``: the policy document ("" or None: none); ``reason``: why it could not be read."""
    if group is None:
        return unknown("the group does not exist")
    if reason:
        return unknown(reason)
    if not policy:
        return Verdict(FAIL, "no data protection policy: personal data is not masked")
    try:
        statements = json.loads(policy).get("Statement") or []
    except (ValueError, AttributeError):
        return Verdict(FAIL, "the data protection policy is not valid JSON")
    masks = any("Deidentify" in (s.get("Operation") or {}) for s in statements if isinstance(s, dict))
    if not masks:
        return Verdict(FAIL, "the data protection policy audits but does not mask (no Deidentify)")
    return Verdict(PASS, "data protection policy masks personal data")


def judge_instance_profile(instance: Mapping[str, Any]) -> Verdict:
    """``instance``: ``profile_error`` (why unreadable), ``profile_arn`` (None: no association),
    ``policies`` (managed policy ARNs of the profile's roles, None when unreadable)."""
    if instance.get("profile_error"):
        return unknown(instance["profile_error"])
    arn = instance.get("profile_arn")
    if not arn:
        return Verdict(FAIL, "no instance profile associated")
    policies = instance.get("policies")
    if policies is None:
        return unknown(f"profile {arn}: its roles' policies could not be read")
    if not any(p.rsplit("/", 1)[-1] == AGENT_POLICY for p in policies):
        return Verdict(FAIL, f"profile {arn}: no role has {AGENT_POLICY}")
    return Verdict(PASS, f"profile {arn} has {AGENT_POLICY}")


def judge_instance_logs(instance: Mapping[str, Any], now_ms: int, max_age_seconds: int) -> Verdict:
    """``instance``: ``log_groups`` (names), ``newest_ms`` (newest event/ingestion of its streams,
    None: none), ``logs_error`` (why unreadable)."""
    if instance.get("logs_error"):
        return unknown(instance["logs_error"])
    groups = list(instance.get("log_groups") or [])
    if not groups:
        return unknown("no log group planned for this instance's host")
    newest = instance.get("newest_ms")
    if newest is None:
        return Verdict(FAIL, f"no log stream of this instance in {', '.join(groups)}")
    age = max(0, (now_ms - int(newest)) // 1000)
    when = datetime.fromtimestamp(int(newest) / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if age > max_age_seconds:
        return Verdict(FAIL, f"newest log {when}, {age} s ago (limit {max_age_seconds} s)")
    return Verdict(PASS, f"newest log {when}, {age} s ago")


def judge_agent(status: Mapping[str, Any] | None) -> Verdict:
    """``status``: the agent role's status fact (``amazon-cloudwatch-agent-ctl -a status``)."""
    if not status:
        return unknown("the agent role did not run for this host in this run (no status fact)")
    state, config = status.get("status"), status.get("configstatus")
    if state == "running" and config == "configured":
        return Verdict(PASS, f"agent running, configured (version {status.get('version', '?')})")
    if state is None:
        return unknown(f"the agent's state is not known: {status}")
    return Verdict(FAIL, f"agent {state}, config {config}")


def judge_vpc_flow_logs(flow_logs: list[Mapping[str, Any]] | None) -> Verdict:
    """``flow_logs``: the VPC's flow logs as DescribeFlowLogs gives them (None: could not be read)."""
    if flow_logs is None:
        return unknown("the VPC's flow logs could not be read")
    if not flow_logs:
        return Verdict(FAIL, "no flow log: the network flows reaching this VPC are not recorded")
    active = [f for f in flow_logs if f.get("FlowLogStatus", "ACTIVE") == "ACTIVE"]
    if not active:
        ids = ", ".join(sorted(str(f.get("FlowLogId")) for f in flow_logs))
        return Verdict(FAIL, f"flow log(s) {ids} not ACTIVE")
    first = sorted(active, key=lambda f: str(f.get("FlowLogId")))[0]
    where = first.get("LogGroupName") or first.get("LogDestination") or first.get("LogDestinationType")
    return Verdict(PASS, f"flow log {first.get('FlowLogId')} ({first.get('TrafficType')}) to {where}")


def judge_config_recording(recorders: list[Mapping[str, Any]] | None) -> Verdict:
    """``recorders``: ``[{name, all_supported, recording, last_status}]`` of the region (None: unread)."""
    if recorders is None:
        return unknown("the region's configuration recorders could not be read")
    if not recorders:
        return Verdict(FAIL, "no AWS Config recorder: changes to the estate are not recorded")
    rec = recorders[0]
    if not rec.get("recording"):
        return Verdict(FAIL, f"recorder {rec.get('name')} is stopped")
    if not rec.get("all_supported"):
        return Verdict(FAIL, f"recorder {rec.get('name')} records only some resource types")
    if rec.get("last_status") == "FAILURE":
        return Verdict(FAIL, f"recorder {rec.get('name')} records, but its last delivery failed")
    return Verdict(PASS, f"recorder {rec.get('name')} recording all supported resource types")


def _logging_trails(trails: list[Mapping[str, Any]] | None) -> list[Mapping[str, Any]] | Verdict:
    """The trails that record this region's API calls and are logging, or the verdict when none is."""
    if trails is None:
        return unknown("the region's trails could not be read")
    logging = sorted((t for t in trails if t.get("logging")), key=lambda t: str(t.get("name")))
    if not logging:
        seen = ", ".join(sorted(f"{t.get('name')} (stopped)" for t in trails)) or "none"
        return Verdict(FAIL, f"no CloudTrail trail records this region's API calls (trails seen: {seen})")
    return logging


def judge_cloudtrail_logging(trails: list[Mapping[str, Any]] | None) -> Verdict:
    """``trails``: the trails covering the region, ``[{name, home_region, multi_region, logging,
    log_file_validation, kms_key_id}]`` (multi-region trails of any home region included)."""
    logging = _logging_trails(trails)
    if isinstance(logging, Verdict):
        return logging
    first = next((t for t in logging if t.get("multi_region")), logging[0])
    kind = (
        f"multi-region, home {first.get('home_region')}" if first.get("multi_region") else "this region only"
    )
    return Verdict(PASS, f"trail {first.get('name')} ({kind}) logging")


def judge_cloudtrail_log_file_validation(trails: list[Mapping[str, Any]] | None) -> Verdict:
    logging = _logging_trails(trails)
    if isinstance(logging, Verdict):
        return logging
    valid = [t for t in logging if t.get("log_file_validation")]
    if not valid:
        names = ", ".join(str(t.get("name")) for t in logging)
        return Verdict(FAIL, f"log file validation off on {names}: altered or deleted log files go unnoticed")
    return Verdict(PASS, f"trail {valid[0].get('name')} writes signed digest files")


def judge_cloudtrail_kms(trails: list[Mapping[str, Any]] | None) -> Verdict:
    logging = _logging_trails(trails)
    if isinstance(logging, Verdict):
        return logging
    encrypted = [t for t in logging if t.get("kms_key_id")]
    if not encrypted:
        names = ", ".join(str(t.get("name")) for t in logging)
        return Verdict(FAIL, f"log files of {names} are not encrypted with a KMS key (SSE-S3 only)")
    return Verdict(PASS, f"trail {encrypted[0].get('name')} encrypts with {encrypted[0].get('kms_key_id')}")


def judge_guardduty_alert_rule(
    rule: Mapping[str, Any] | None, name: str, target: str, reason: str | None = None
) -> Verdict:
    """``rule``: ``{state, targets: [ARN]}`` of the findings rule (None: no such rule); ``target``: the
    topic in the home region, the home region's event bus elsewhere; ``reason``: why it was not read."""
    if reason:
        return unknown(reason)
    if rule is None:
        return Verdict(FAIL, f"no EventBridge rule {name}: this region's findings alert nobody")
    if rule.get("state") != "ENABLED":
        return Verdict(FAIL, f"rule {name} is {rule.get('state')}: this region's findings alert nobody")
    targets = list(rule.get("targets") or [])
    if target not in targets:
        seen = ", ".join(sorted(targets)) or "none"
        return Verdict(FAIL, f"rule {name} does not send to {target} (targets: {seen})")
    return Verdict(PASS, f"rule {name} ENABLED, to {target}")


def judge_guardduty_export(
    destinations: list[Mapping[str, Any]] | None, reason: str | None = None
) -> Verdict:
    """``destinations``: the detector's publishing destinations ``[{type, status, arn}]`` (None: no
    single detector to read them from); ``reason``: why they could not be read."""
    if reason:
        return unknown(reason)
    if destinations is None:
        return unknown("no single detector to read the publishing destinations from")
    s3 = sorted((d for d in destinations if d.get("type") == "S3"), key=lambda d: str(d.get("arn")))
    if not s3:
        return Verdict(FAIL, "no publishing destination: findings vanish from GuardDuty after 90 days")
    publishing = [d for d in s3 if d.get("status") == "PUBLISHING"]
    if not publishing:
        return Verdict(
            FAIL, f"findings export to {s3[0].get('arn')} is {s3[0].get('status')}, not PUBLISHING"
        )
    return Verdict(PASS, f"findings exported to {publishing[0].get('arn')}")


def judge_guardduty_subscriptions(
    subscriptions: list[Mapping[str, Any]] | None, topic: str, reason: str | None = None
) -> Verdict:
    """``subscriptions``: ListSubscriptionsByTopic of the home topic (None: the topic does not exist)."""
    if reason:
        return unknown(reason)
    if subscriptions is None:
        return Verdict(FAIL, f"the alert topic {topic} does not exist")
    seen = subscription_counts([dict(s) for s in subscriptions])
    if not seen["confirmed"]:
        return Verdict(
            FAIL,
            f"no confirmed subscription ({seen['pending']} pending): an unconfirmed one alerts nobody",
        )
    protocols = ", ".join(sorted({str(e["protocol"]) for e in seen["endpoints"] if e["confirmed"]}))
    return Verdict(
        PASS, f"{seen['confirmed']} confirmed subscription(s) ({protocols}), {seen['pending']} pending"
    )


# --- The registry -----------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check(
        "guardduty_detector",
        "Art. 32",
        "GuardDuty detector enabled",
        "region",
        "guardduty:ListDetectors, guardduty:GetDetector",
        judge_guardduty_detector,
        "role gdpr.aws_monitoring.guardduty (guardduty_state: present) re-enables it",
    ),
    Check(
        "guardduty_frequency",
        "Art. 33",
        "GuardDuty findings published at the configured frequency",
        "region",
        "guardduty:GetDetector FindingPublishingFrequency",
        judge_guardduty_frequency,
        "role gdpr.aws_monitoring.guardduty, variable guardduty_finding_publishing_frequency",
    ),
    Check(
        "guardduty_features",
        "Art. 32",
        "GuardDuty protection plans as configured",
        "region",
        "guardduty:GetDetector Features",
        judge_guardduty_features,
        "role gdpr.aws_monitoring.guardduty, variable guardduty_features",
    ),
    Check(
        "log_group_exists",
        "Art. 5(2)",
        "Planned log groups exist",
        "log_group",
        "logs:DescribeLogGroups; the agent roles' plans",
        judge_log_group_exists,
        "role gdpr.aws_monitoring.log_groups (playbooks/log_groups.yml) creates it",
    ),
    Check(
        "log_group_retention",
        "Art. 5(1)(e)",
        "Log retention within bounds",
        "log_group",
        "logs:DescribeLogGroups retentionInDays",
        judge_log_group_retention,
        "role gdpr.aws_monitoring.log_groups, gdpr_monitoring_retention_days "
        "(shortening needs log_groups_allow_retention_decrease)",
    ),
    Check(
        "log_group_kms",
        "Art. 32",
        "Log group encrypted with KMS",
        "log_group",
        "logs:DescribeLogGroups kmsKeyId",
        judge_log_group_kms,
        "role gdpr.aws_monitoring.log_groups, log_groups_kms: true",
    ),
    Check(
        "log_group_data_protection",
        "Art. 25",
        "Personal data masked (data protection policy)",
        "log_group",
        "logs:GetDataProtectionPolicy",
        judge_log_group_data_protection,
        "role gdpr.aws_monitoring.log_groups, log_groups_data_protection: true",
    ),
    Check(
        "instance_profile",
        "Art. 32",
        f"Instance profile role has {AGENT_POLICY}",
        "instance",
        "ec2:DescribeIamInstanceProfileAssociations, iam:GetInstanceProfile, iam:ListAttachedRolePolicies",
        judge_instance_profile,
        "role gdpr.aws_monitoring.agent_iam (playbooks/agent_iam.yml), agent_iam_existing_profile",
    ),
    Check(
        "instance_logs_arriving",
        "Art. 33",
        "Instance logs arriving",
        "instance",
        "logs:DescribeLogStreams (newest event or ingestion of the instance's streams)",
        judge_instance_logs,
        "role gdpr.aws_monitoring.cloudwatch_agent_linux / _windows; check the agent and the profile",
    ),
    Check(
        "agent_running",
        "Art. 32",
        "CloudWatch agent running and configured",
        "host",
        "the agent roles' status facts (cloudwatch_agent_linux_status, cloudwatch_agent_windows_status)",
        judge_agent,
        "role gdpr.aws_monitoring.cloudwatch_agent_linux / _windows (tag agents) restarts it",
    ),
    Check(
        "vpc_flow_logs",
        "Art. 30",
        "VPC flow logs on every monitored instance's VPC",
        "region",  # one row per VPC, shown with its region's rows
        "ec2:DescribeInstances (VpcId), ec2:DescribeFlowLogs",
        judge_vpc_flow_logs,
        "role gdpr.aws_monitoring.flow_logs (playbooks/flow_logs.yml)",
    ),
    Check(
        "config_recording",
        "Art. 30",
        "AWS Config recording all supported resources",
        "region",
        "config:DescribeConfigurationRecorders, config:DescribeConfigurationRecorderStatus",
        judge_config_recording,
        "role gdpr.aws_monitoring.config_recorder (config_recorder_manage_existing for another recorder)",
    ),
    Check(
        "cloudtrail_logging",
        "Art. 30",
        "CloudTrail records this region's API calls",
        "region",
        "cloudtrail:DescribeTrails (shadow trails included), cloudtrail:GetTrailStatus",
        judge_cloudtrail_logging,
        "role gdpr.aws_monitoring.cloudtrail (playbooks/cloudtrail.yml): one multi-region trail",
    ),
    Check(
        "cloudtrail_log_file_validation",
        "Art. 5(1)(f)",
        "CloudTrail log file validation on",
        "region",
        "cloudtrail:DescribeTrails LogFileValidationEnabled",
        judge_cloudtrail_log_file_validation,
        "role gdpr.aws_monitoring.cloudtrail (validation always on; cloudtrail_adopt_existing_trail "
        "for a trail it did not create)",
    ),
    Check(
        "cloudtrail_kms",
        "Art. 32",
        "CloudTrail log files encrypted with KMS",
        "region",
        "cloudtrail:DescribeTrails KmsKeyId",
        judge_cloudtrail_kms,
        "role gdpr.aws_monitoring.cloudtrail (cloudtrail_kms_key_alias or cloudtrail_kms_key_arn)",
    ),
    Check(
        "guardduty_alert_rule",
        "Art. 33",
        "GuardDuty findings rule enabled, sending to the alert topic",
        "region",
        "events:DescribeRule, events:ListTargetsByRule",
        judge_guardduty_alert_rule,
        "role gdpr.aws_monitoring.guardduty, tasks_from response (guardduty_alerts: true)",
    ),
    Check(
        "guardduty_export",
        "Art. 33(5)",
        "GuardDuty findings exported to S3 (kept beyond 90 days)",
        "region",
        "guardduty:ListPublishingDestinations, guardduty:DescribePublishingDestination",
        judge_guardduty_export,
        "role gdpr.aws_monitoring.guardduty, tasks_from response (guardduty_export: true)",
    ),
    Check(
        "guardduty_alert_subscriptions",
        "Art. 33",
        "Someone confirmed a subscription of the alert topic",
        "region",  # one row, the home region's topic
        "sns:ListSubscriptionsByTopic",
        judge_guardduty_subscriptions,
        "guardduty_alert_subscriptions; each subscriber confirms AWS's message (an email's link)",
    ),
)
CHECKS_BY_ID: dict[str, Check] = {c.id: c for c in CHECKS}


def unknown_check_ids(ids: Iterable[str]) -> list[str]:
    return sorted({str(i) for i in ids} - set(CHECKS_BY_ID))


def bounds_problem(minimum: int, maximum: int, names: tuple[str, str]) -> str | None:
    """None, or why the retention bounds cannot hold together (naming the variables)."""
    if minimum < 1:
        return f"{names[0]} must be at least 1 day (got {minimum})"
    if minimum > maximum:
        return f"{names[0]} ({minimum}) is above {names[1]} ({maximum})"
    return None


def row(check_id: str, verdict: Verdict, account: str, region: str, resource: str) -> dict[str, str]:
    check = CHECKS_BY_ID[check_id]
    return {
        "check_id": check.id,
        "article": check.article,
        "status": verdict.status,
        "account": account,
        "region": region,
        "resource": resource,
        "detail": verdict.detail,
        "remediation": check.remediation if verdict.status != PASS else "",
    }


def sort_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    order = {c.id: i for i, c in enumerate(CHECKS)}
    return sorted(
        (dict(r) for r in rows),
        key=lambda r: (r["region"], order.get(r["check_id"], len(order)), r["resource"]),
    )


def counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for r in rows:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


def summary_by_article(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["article"], dict.fromkeys(STATUSES, 0))[r["status"]] += 1
    return dict(sorted(out.items(), key=lambda kv: _article_key(kv[0])))


def _article_key(article: str) -> tuple[int, str]:
    digits = "".join(ch for ch in article.split("(")[0] if ch.isdigit())
    return (int(digits) if digits else 0, article)


def worst(statuses: Iterable[str]) -> str | None:
    present = set(statuses)
    return next((s for s in STATUSES if s in present), None)


def summary_lines(rows: list[Mapping[str, Any]]) -> list[str]:
    """A few lines for a terminal: totals, then per article."""
    total = counts(rows)
    lines = [f"{len(rows)} checks: " + ", ".join(f"{total[s]} {s}" for s in STATUSES)]
    for article, c in summary_by_article(rows).items():
        lines.append(f"{article}: " + ", ".join(f"{c[s]} {s}" for s in STATUSES))
    return lines


# --- Renderings -------------------------------------------------------------------------------

CSV_COLUMNS: tuple[str, ...] = (
    "Provider",
    "Description",
    "AccountId",
    "Region",
    "AssessmentDate",
    "Requirements_Id",
    "Requirements_Description",
    "Status",
    "StatusExtended",
    "ResourceId",
    "CheckId",
    "Remediation",
)


def render_json(header: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> str:
    return json.dumps({"header": dict(header), "rows": list(rows)}, indent=1, sort_keys=True) + "\n"


def render_csv(header: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> str:
    """Prowler's compliance CSV layout (semicolon-separated, its column names)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    date = header.get("time", "")
    for r in rows:
        check = CHECKS_BY_ID.get(r["check_id"])
        writer.writerow(
            [
                "aws",
                "GDPR evidence (gdpr.aws_monitoring)",
                r["account"],
                r["region"],
                date,
                r["article"],
                check.title if check else "",
                r["status"],
                r["detail"],
                r["resource"],
                r["check_id"],
                r["remediation"],
            ]
        )
    return out.getvalue()


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.3em 0 1em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f2f2f2}.PASS{background:#d8f0d8}.FAIL{background:#f6c9c9}.UNKNOWN{background:#fbeec2}
.grid{font-size:.85em}.grid td{text-align:center;min-width:4.5em}.grid tr>th:first-child{white-space:nowrap}
.meta td,.meta th{border:none;padding:0 1em 0 0}
.n{text-align:right}code{font-size:.95em}
@media print{body{margin:0;font-size:10px}h2{break-after:avoid}tr{break-inside:avoid}
.PASS,.FAIL,.UNKNOWN{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _header_html(header: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> list[str]:
    total = counts(rows)
    out = ["<h1>GDPR evidence report</h1>", '<table class="meta">']
    for key in ("account", "time", "collection_version"):
        out.append(f"<tr><th>{_e(key)}</th><td>{_e(header.get(key, ''))}</td></tr>")
    for key, value in sorted((header.get("variables") or {}).items()):
        out.append(f"<tr><th>{_e(key)}</th><td><code>{_e(json.dumps(value))}</code></td></tr>")
    out.append("</table>")
    out.append(
        '<p id="totals">'
        + " ".join(
            f'<span class="{s}" data-status="{s}" data-count="{total[s]}">{total[s]} {s}</span>'
            for s in STATUSES
        )
        + "</p>"
    )
    return out


def _articles_html(rows: list[Mapping[str, Any]]) -> list[str]:
    out = ['<h2>Per GDPR article</h2><table id="articles"><tr><th>Article</th>']
    out += [f"<th>{s}</th>" for s in STATUSES] + ["</tr>"]
    for article, c in summary_by_article(rows).items():
        cells = "".join(
            f'<td class="n{" " + s if c[s] else ""}" data-status="{s}">{c[s]}</td>' for s in STATUSES
        )
        out.append(f'<tr data-article="{_e(article)}"><th>{_e(article)}</th>{cells}</tr>')
    out.append("</table>")
    return out


def _grid_html(rows: list[Mapping[str, Any]]) -> list[str]:
    checks = [c for c in CHECKS if any(r["check_id"] == c.id for r in rows)]
    by_cell: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        by_cell.setdefault((r["region"], r["check_id"]), []).append(r["status"])
    regions = sorted({r["region"] for r in rows})
    out = ['<h2>Regions &times; checks</h2><table class="grid" id="grid"><tr><th>Region</th>']
    # Break the long ids at their underscores so the grid fits a screen and a printed page.
    out += [
        f'<th title="{_e(c.title)}">{_e(c.id).replace("_", "_<wbr>")}<br>{_e(c.article)}</th>' for c in checks
    ] + ["</tr>"]
    for region in regions:
        out.append(f'<tr data-region="{_e(region)}"><th>{_e(region)}</th>')
        for c in checks:
            statuses = by_cell.get((region, c.id), [])
            status = worst(statuses)
            if status is None:
                out.append("<td>-</td>")
                continue
            bad = sum(1 for s in statuses if s != PASS)
            label = f"{status}" + (f" {bad}/{len(statuses)}" if len(statuses) > 1 and bad else "")
            out.append(f'<td class="{status}">{label}</td>')
        out.append("</tr>")
    out.append("</table>")
    return out


def _rows_table(rows: list[Mapping[str, Any]], table_id: str, remediation: bool) -> list[str]:
    cols = ["Status", "Check", "Article", "Region", "Resource", "Detail"] + (
        ["Remediation"] if remediation else []
    )
    out = [f'<table id="{table_id}"><tr>' + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"]
    for r in rows:
        cells = [r["check_id"], r["article"], r["region"], r["resource"], r["detail"]]
        if remediation:
            cells.append(r["remediation"])
        out.append(
            f'<tr class="{_e(r["status"])}"><td>{_e(r["status"])}</td>'
            + "".join(f"<td>{_e(v)}</td>" for v in cells)
            + "</tr>"
        )
    out.append("</table>")
    return out


def render_html(header: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> str:
    """One self-contained page (inline CSS, no script, nothing fetched); every value is escaped."""
    rows = sort_rows(rows)
    scope = {c.id: c.scope for c in CHECKS}
    problems = [r for r in rows if r["status"] != PASS]
    problems.sort(key=lambda r: STATUSES.index(r["status"]) if r["status"] in STATUSES else 0)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>GDPR evidence report {_e(header.get('account', ''))} {_e(header.get('time', ''))}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
    parts += _header_html(header, rows) + _articles_html(rows) + _grid_html(rows)
    parts.append(f"<h2>Failures and unknowns ({len(problems)})</h2>")
    parts += _rows_table(problems, "problems", remediation=True) if problems else ["<p>None.</p>"]
    parts.append("<h2>Per region</h2>")
    for region in sorted({r["region"] for r in rows}):
        regional = [
            r for r in rows if r["region"] == region and scope.get(r["check_id"]) in ("region", "log_group")
        ]
        if regional:
            parts.append(f"<h3>{_e(region)}</h3>")
            parts += _rows_table(regional, f"region-{_e(region)}", remediation=False)
    parts.append("<h2>Per instance</h2>")
    per_instance = [r for r in rows if scope.get(r["check_id"]) in ("instance", "host")]
    per_instance.sort(key=lambda r: (r["resource"], r["check_id"]))
    parts += _rows_table(per_instance, "instances", remediation=False) if per_instance else ["<p>None.</p>"]
    parts.append("</body></html>\n")
    return "\n".join(parts)
