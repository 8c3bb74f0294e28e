#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gdpr_evidence_info
short_description: Read-only GDPR evidence over every enabled region - one row per resource and check
version_added: 0.1.0
description:
  - Reads the estate back, independently of the roles that configured it, and judges it with the
    checks of the collection's evidence registry (C(module_utils/evidence.py)). Returns one row per
    (account, region, resource, check) with C(check_id), GDPR C(article), C(status) (C(PASS),
    C(FAIL), or C(UNKNOWN) with the reason), C(resource), C(detail) and C(remediation).
  - Only Describe, Get and List calls are made. Every region is read concurrently in one call.
  - GuardDuty per region - one detector, C(ENABLED), the configured features and publishing frequency.
  - Log groups - the planned ones (O(log_groups), which must exist) and every group under
    O(log_group_prefix) - retention within O(min_retention_days)..O(max_retention_days) (never
    expiring fails), KMS encryption, and a data protection policy that masks (C(UNKNOWN) where the
    endpoint cannot answer GetDataProtectionPolicy).
  - Per instance of O(instances) - an instance profile whose role has C(CloudWatchAgentServerPolicy),
    and logs arriving (newest event or ingestion time of the streams named after the instance in its
    groups) within O(max_log_age_seconds); per host, the agent's state from O(instances[].agent_status).
  - An error reading a region (other than a documented refusal of a region the account has not
    enabled) gives C(UNKNOWN) rows naming it and fails the module after every region ran; the rows are
    returned with the failure.
author:
  - gdpr.aws_monitoring maintainers (@gdpr)
options:
  regions:
    description: Regions to read. Empty - every region enabled for the account (ec2:DescribeRegions).
    type: list
    elements: str
    default: []
  guardduty_frequency:
    description: The finding publishing frequency the detectors must have. Omit to not judge it.
    type: str
    choices: [FIFTEEN_MINUTES, ONE_HOUR, SIX_HOURS]
  guardduty_features:
    description: The features (as for M(gdpr.aws_monitoring.guardduty_detector)) the detectors must have.
    type: list
    elements: dict
  log_group_prefix:
    description: Every log group under this prefix is judged, planned or not. Empty - only the planned ones.
    type: str
    default: ""
  log_groups:
    description: Log groups planned for the inventory's hosts, which must exist.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Log group name.
        type: str
        required: true
      region:
        description: Region of the group.
        type: str
        required: true
      hosts:
        description: Hosts the group is planned for (shown in the detail).
        type: list
        elements: str
        default: []
  instances:
    description: Monitored instances (opted in); each is checked for its profile, logs and agent.
    type: list
    elements: dict
    default: []
    suboptions:
      instance_id:
        description: EC2 instance ID.
        type: str
        required: true
      region:
        description: Region of the instance.
        type: str
        required: true
      host:
        description: Inventory name of the host (the resource of the agent row). Default - the instance ID.
        type: str
      log_groups:
        description: Groups the instance's agent writes to (in its region).
        type: list
        elements: str
        default: []
      stream_names:
        description:
          - Further names of the instance's log streams (exact), e.g. its host name, which the agent
            uses for C({instance_id}) where there is no instance metadata (on-premise mode). Streams
            whose name contains the instance ID always count.
        type: list
        elements: str
        default: []
      agent_status:
        description:
          - The agent role's status fact for the host (C(cloudwatch_agent_linux_status)). Omitted -
            the agent row is C(UNKNOWN) (the host plays did not run in this run).
        type: dict
  min_retention_days:
    description: Shortest retention accepted (shorter loses evidence).
    type: int
    default: 365
  max_retention_days:
    description: Longest retention accepted (keeping personal data longer than needed is a breach of Art. 5(1)(e)).
    type: int
    default: 3653
  max_log_age_seconds:
    description: The newest log of an instance must be at most this old.
    type: int
    default: 3600
  vpc_flow_logs:
    description:
      - Judge the flow logs of the VPC of every instance of O(instances) (check C(vpc_flow_logs)). Off by
        default, for estates where the flow_logs role does not run.
    type: bool
    default: false
  config_recording:
    description:
      - Judge AWS Config recording in every region read (check C(config_recording)). Off by default, for
        estates where the config_recorder role does not run.
    type: bool
    default: false
  cloudtrail:
    description:
      - Judge CloudTrail in every region read (checks C(cloudtrail_logging), C(cloudtrail_log_file_validation),
        C(cloudtrail_kms)) from the trails covering each region. Off by default, for estates where the
        cloudtrail role does not run.
    type: bool
    default: false
  guardduty_alerts:
    description:
      - Judge GuardDuty's alerts (the guardduty role's C(tasks_from=response)) - in every region read the
        findings rule, enabled and sending to the topic (home region) or to the home region's event bus
        (check C(guardduty_alert_rule)); in the topic's region, at least one confirmed subscription (check
        C(guardduty_alert_subscriptions)). Omitted, for estates where that entry point does not run.
    type: dict
    suboptions:
      topic_arn:
        description: The alert topic; its region is the home region.
        type: str
        required: true
      rule_name:
        description: Name of the findings rule in every region.
        type: str
        default: gdpr-guardduty-findings
  guardduty_export:
    description:
      - Judge the findings export in every region read (check C(guardduty_export)) - an S3 publishing
        destination on the detector, C(PUBLISHING). C(UNKNOWN) where the endpoint cannot answer
        ListPublishingDestinations. Off by default.
    type: bool
    default: false
  skip_checks:
    description: Check IDs not to run.
    type: list
    elements: str
    default: []
  max_concurrency:
    description: Regions read at the same time. 0 - all at once (up to 64).
    type: int
    default: 0
  variable_names:
    description: Option name -> the variable the caller set it from, for error messages.
    type: dict
    default: {}
notes:
  - Supports check mode (it only reads).
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Judge the estate
  gdpr.aws_monitoring.gdpr_evidence_info:
    log_group_prefix: /gdpr/prod
    guardduty_frequency: FIFTEEN_MINUTES
    instances:
      - {instance_id: i-0123456789abcdef0, region: eu-west-1, log_groups: [/gdpr/prod/nginx/access]}
  register: evidence
"""

RETURN = r"""
rows:
  description: One per (region, resource, check), sorted by region, check and resource.
  returned: always
  type: list
  elements: dict
  contains:
    check_id:
      description: ID of the check in the registry.
      type: str
      returned: always
    article:
      description: GDPR article the check gives evidence for.
      type: str
      returned: always
    status:
      description: V(PASS), V(FAIL) or V(UNKNOWN).
      type: str
      returned: always
    account:
      description: AWS account ID.
      type: str
      returned: always
    region:
      description: Region of the resource.
      type: str
      returned: always
    resource:
      description: Detector, log group, instance or host.
      type: str
      returned: always
    detail:
      description: What was seen, or why it could not be seen.
      type: str
      returned: always
    remediation:
      description: Role, variable or tag that fixes it; empty when passing.
      type: str
      returned: always
header:
  description: Account, time, collection version and the bounds the rows were judged with.
  returned: always
  type: dict
counts:
  description: Rows per status.
  returned: always
  type: dict
checks:
  description: The registry - id, article, title, scope, reads, remediation.
  returned: always
  type: list
  elements: dict
region_counts:
  description: Regions read, refused and failed.
  returned: always
  type: dict
calls:
  description: API calls made, per operation.
  returned: always
  type: dict
"""

import time
from collections import Counter
from threading import Lock
from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports it
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import paginated_query_with_retries
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import evidence as ev
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import is_not_implemented
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty import (
    FREQUENCIES,
    features_from_aws,
    features_from_params,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.guardduty_response import (
    InvalidInput,
    event_bus_arn,
    parse_topic_arn,
)
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.regions import (
    ENABLED_STATUSES,
    RegionalClients,
    account_region,
    check_regions,
    enabled_regions,
    error_code,
    region_counts,
    region_options,
    region_statuses,
    retry_decorator,
    run_in_regions,
    settle_refusals,
    variable_name,
)

COLLECTION_VERSION = "0.1.0"
# What an endpoint answers when it does not implement GetDataProtectionPolicy (moto 5.2.5: HTTP 500
# with an HTML body, so botocore's error code is "500"): backoff.NOT_IMPLEMENTED_CODES. Only the
# region's first call is judged by it (not retried): the rows say UNKNOWN with this reason instead of
# failing. Any other error fails the region.


class Calls:
    """Counts the API calls the module makes (returned as ``calls``; the benchmark prints them)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self.counts: Counter = Counter()

    def hook(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[f"{model.service_model.service_name}:{model.name}"] += 1


class CountingClients(RegionalClients):
    def __init__(self, module: Any, calls: Calls) -> None:
        super().__init__(module, retry_decorator())
        self._calls = calls

    def __call__(self, service: str, region: str) -> Any:
        new = (service, region) not in self._clients
        client = super().__call__(service, region)
        if new:
            client.client.meta.events.register("before-call", self._calls.hook)
        return client


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paginated List/Describe; each page under the client's retry policy."""
    retry = getattr(client, "retry", None) or retry_decorator()
    answer = paginated_query_with_retries(client, operation, retry_decorator=retry, **params)
    return list(answer.get(key) or [])


# --- Reading one region -----------------------------------------------------------------------


def read_guardduty(client: Any) -> list[dict[str, Any]]:
    ids = sorted(i for i in _pages(client, "list_detectors", "DetectorIds"))
    detectors = []
    for detector_id in ids:
        answer = client.get_detector(DetectorId=detector_id, aws_retry=True)
        detectors.append(
            {
                "id": detector_id,
                "status": answer.get("Status"),
                "frequency": answer.get("FindingPublishingFrequency"),
                "features": features_from_aws(answer.get("Features")),
            }
        )
    return detectors


def read_log_groups(client: Any, prefix: str, planned: list[str]) -> dict[str, dict[str, Any]]:
    """Groups under ``prefix`` plus the planned ones outside it, by name."""
    groups: dict[str, dict[str, Any]] = {}
    if prefix:
        for group in _pages(client, "describe_log_groups", "logGroups", logGroupNamePrefix=prefix):
            groups[group["logGroupName"]] = group
    for name in sorted(set(planned)):
        if name in groups or (prefix and name.startswith(prefix)):
            continue
        for group in _pages(client, "describe_log_groups", "logGroups", logGroupNamePrefix=name):
            if group["logGroupName"] == name:
                groups[name] = group
    return groups


def read_data_protection(client: Any, names: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """name -> (policy document or "", reason it could not be read). The first call is not retried:
    an endpoint without the operation answers HTTP 500, which the retry policy would retry."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for index, name in enumerate(names):
        try:
            answer = client.get_data_protection_policy(logGroupIdentifier=name, aws_retry=index > 0)
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "ResourceNotFoundException":
                out[name] = ("", None)
                continue
            if index == 0 and is_not_implemented(exc):
                reason = f"the endpoint cannot answer logs:GetDataProtectionPolicy ({code})"
                return dict.fromkeys(names, (None, reason))
            raise
        out[name] = (answer.get("policyDocument") or "", None)
    return out


def read_profiles(client: Any, instance_ids: list[str]) -> dict[str, str | None]:
    """instance ID -> associated instance profile ARN (None: none)."""
    if not instance_ids:
        return {}
    out: dict[str, str | None] = dict.fromkeys(instance_ids)
    associations = _pages(
        client,
        "describe_iam_instance_profile_associations",
        "IamInstanceProfileAssociations",
        Filters=[{"Name": "instance-id", "Values": instance_ids}],
    )
    for assoc in associations:
        if assoc.get("State") in ("associated", "associating") and assoc.get("InstanceId") in out:
            out[assoc["InstanceId"]] = (assoc.get("IamInstanceProfile") or {}).get("Arn")
    return out


def newest_stream_times(client: Any, group: str, wanted: dict[str, set[str]]) -> dict[str, int]:
    """instance ID -> newest event or ingestion time (ms) of the group's streams of that instance:
    those whose name contains the instance ID or equals one of its ``wanted`` stream names."""
    out: dict[str, int] = {}
    for stream in _pages(client, "describe_log_streams", "logStreams", logGroupName=group):
        name = stream.get("logStreamName", "")
        newest = max(stream.get("lastEventTimestamp") or 0, stream.get("lastIngestionTime") or 0)
        if not newest:
            continue
        for instance_id, names in wanted.items():
            if instance_id in name or name in names:
                out[instance_id] = max(out.get(instance_id, 0), newest)
    return out


def read_vpc_flow_logs(ec2: Any, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """instance ID -> ``{vpc_id, flow_logs}`` (DescribeFlowLogs entries of its VPC)."""
    reservations = _pages(ec2, "describe_instances", "Reservations", InstanceIds=instance_ids)
    vpcs = {i["InstanceId"]: i.get("VpcId") for r in reservations for i in r.get("Instances", [])}
    ids = sorted({v for v in vpcs.values() if v})
    found = (
        _pages(ec2, "describe_flow_logs", "FlowLogs", Filters=[{"Name": "resource-id", "Values": ids}])
        if ids
        else []
    )
    by_vpc = {v: [f for f in found if f.get("ResourceId") == v] for v in ids}
    return {i: {"vpc_id": v, "flow_logs": by_vpc.get(v, [])} for i, v in vpcs.items() if v}


def read_config_recorders(config: Any) -> list[dict[str, Any]]:
    """The region's configuration recorders with their status (service-linked ones left out)."""
    recorders = config.describe_configuration_recorders(aws_retry=True).get("ConfigurationRecorders") or []
    statuses = {
        s.get("name"): s
        for s in config.describe_configuration_recorder_status(aws_retry=True).get(
            "ConfigurationRecordersStatus"
        )
        or []
    }
    return [
        {
            "name": r.get("name"),
            "all_supported": bool((r.get("recordingGroup") or {}).get("allSupported")),
            "recording": bool(statuses.get(r.get("name"), {}).get("recording")),
            "last_status": statuses.get(r.get("name"), {}).get("lastStatus"),
        }
        for r in recorders
        if not str(r.get("name", "")).startswith("AWSConfigurationRecorderFor")
    ]


# The CloudTrail checks, all judged from the same read of the trails covering a region.
CLOUDTRAIL_CHECKS = {
    "cloudtrail_logging": ev.judge_cloudtrail_logging,
    "cloudtrail_log_file_validation": ev.judge_cloudtrail_log_file_validation,
    "cloudtrail_kms": ev.judge_cloudtrail_kms,
}


def read_trails(clients: Any, region: str) -> list[dict[str, Any]]:
    """The trails recording ``region`` (its own, and multi-region trails of any home region), each
    with its logging status asked in its home region."""
    found = clients("cloudtrail", region).describe_trails(includeShadowTrails=True, aws_retry=True)
    trails = []
    for trail in found.get("trailList") or []:
        home = trail.get("HomeRegion") or region
        if home != region and not trail.get("IsMultiRegionTrail"):
            continue
        status = clients("cloudtrail", home).get_trail_status(Name=trail["TrailARN"], aws_retry=True)
        trails.append(
            {
                "name": trail.get("Name"),
                "home_region": home,
                "multi_region": bool(trail.get("IsMultiRegionTrail")),
                "logging": bool(status.get("IsLogging")),
                "log_file_validation": bool(trail.get("LogFileValidationEnabled")),
                "kms_key_id": trail.get("KmsKeyId") or "",
            }
        )
    return trails


def read_alert_rule(events: Any, name: str) -> dict[str, Any] | None:
    """The findings rule's state and target ARNs (None: no such rule)."""
    try:
        rule = events.describe_rule(Name=name, aws_retry=True)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    targets = _pages(events, "list_targets_by_rule", "Targets", Rule=name)
    return {"state": rule.get("State"), "targets": [t.get("Arn") for t in targets]}


def read_destinations(
    guardduty: Any, detectors: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """(the single detector's publishing destinations, why they could not be read). The first call is
    not retried: an endpoint without the operation (moto: HTTP 404) answers what the policy retries."""
    if detectors is None:
        detectors = [{"id": i} for i in _pages(guardduty, "list_detectors", "DetectorIds")]
    if len(detectors) != 1:
        return None, None
    detector_id = detectors[0]["id"]
    try:
        listed = guardduty.list_publishing_destinations(DetectorId=detector_id, aws_retry=False)
    except botocore.exceptions.ClientError as exc:
        if is_not_implemented(exc):
            return (
                None,
                f"the endpoint cannot answer guardduty:ListPublishingDestinations ({error_code(exc)})",
            )
        raise
    found = list(listed.get("Destinations") or [])
    token = listed.get("NextToken")
    if token:
        found += _pages(
            guardduty, "list_publishing_destinations", "Destinations", DetectorId=detector_id, NextToken=token
        )
    out = []
    for item in found:
        described = guardduty.describe_publishing_destination(
            DetectorId=detector_id, DestinationId=item["DestinationId"], aws_retry=True
        )
        out.append(
            {
                "type": described.get("DestinationType"),
                "status": described.get("Status"),
                "arn": (described.get("DestinationProperties") or {}).get("DestinationArn"),
            }
        )
    return out, None


def read_subscriptions(sns: Any, topic_arn: str) -> list[dict[str, Any]] | None:
    """The topic's subscriptions (None: the topic does not exist)."""
    try:
        return _pages(sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=topic_arn)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NotFound":
            return None
        raise


def read_response(
    region: str, clients: Any, params: dict[str, Any], skip: set[str], facts: dict[str, Any]
) -> None:
    """What the guardduty response checks need in one region (alerts: rule, home topic; export)."""
    alerts = params["guardduty_alerts"]
    if alerts and "guardduty_alert_rule" not in skip:
        facts["alert_rule"] = read_alert_rule(clients("events", region), alerts["rule_name"])
    if (
        alerts
        and "guardduty_alert_subscriptions" not in skip
        and region == parse_topic_arn(alerts["topic_arn"])[1]
    ):
        facts["subscriptions"] = read_subscriptions(clients("sns", region), alerts["topic_arn"])
    if params["guardduty_export"] and "guardduty_export" not in skip:
        facts["destinations"] = read_destinations(clients("guardduty", region), facts.get("detectors"))


def read_region(region: str, clients: Any, params: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    """Everything the checks of one region need; raises on an error (the region is then UNKNOWN)."""
    facts: dict[str, Any] = {}
    if not {"guardduty_detector", "guardduty_frequency", "guardduty_features"} <= skip:
        facts["detectors"] = read_guardduty(clients("guardduty", region))
    planned = [g["name"] for g in params["log_groups"] if g["region"] == region]
    instances = [i for i in params["instances"] if i["region"] == region]
    logs = clients("logs", region)
    facts["groups"] = read_log_groups(logs, params["log_group_prefix"], planned)
    if "log_group_data_protection" not in skip:
        facts["data_protection"] = read_data_protection(logs, sorted(facts["groups"]))
    if instances and "instance_profile" not in skip:
        facts["profiles"] = read_profiles(
            clients("ec2", region), sorted({i["instance_id"] for i in instances})
        )
    if instances and "instance_logs_arriving" not in skip:
        newest: dict[str, int] = {}
        wanted: dict[str, dict[str, set[str]]] = {}
        for inst in instances:
            for group in inst["log_groups"]:
                wanted.setdefault(group, {})[inst["instance_id"]] = set(inst["stream_names"])
        for group in sorted(wanted):
            if group not in facts["groups"]:
                continue
            for instance_id, when in newest_stream_times(logs, group, wanted[group]).items():
                newest[instance_id] = max(newest.get(instance_id, 0), when)
        facts["newest"] = newest
    if instances and params["vpc_flow_logs"] and "vpc_flow_logs" not in skip:
        facts["vpcs"] = read_vpc_flow_logs(
            clients("ec2", region), sorted({i["instance_id"] for i in instances})
        )
    if params["config_recording"] and "config_recording" not in skip:
        facts["recorders"] = read_config_recorders(clients("config", region))
    if params["cloudtrail"] and not set(CLOUDTRAIL_CHECKS) <= skip:
        facts["trails"] = read_trails(clients, region)
    read_response(region, clients, params, skip, facts)
    return facts


def read_policies(clients: Any, home: str, profile_arns: set[str]) -> dict[str, list[str] | str]:
    """profile ARN -> managed policy ARNs of its roles, or the error reading them (a str)."""
    iam = clients("iam", home)
    out: dict[str, list[str] | str] = {}
    for arn in sorted(profile_arns):
        name = arn.rsplit("/", 1)[-1]
        try:
            profile = iam.get_instance_profile(InstanceProfileName=name, aws_retry=True)["InstanceProfile"]
            policies: list[str] = []
            for role in profile.get("Roles") or []:
                attached = _pages(
                    iam, "list_attached_role_policies", "AttachedPolicies", RoleName=role["RoleName"]
                )
                policies.extend(p["PolicyArn"] for p in attached)
            out[arn] = policies
        except botocore.exceptions.ClientError as exc:
            out[arn] = f"iam: {error_code(exc)} reading profile {name}"
    return out


# --- Judging ----------------------------------------------------------------------------------


class Judge:
    def __init__(self, params: dict[str, Any], account: str, skip: set[str]) -> None:
        self.params = params
        self.account = account
        self.skip = skip
        self.rows: list[dict[str, str]] = []
        self.now_ms = int(time.time() * 1000)

    def add(self, check_id: str, verdict: ev.Verdict, region: str, resource: str) -> None:
        if check_id not in self.skip:
            self.rows.append(ev.row(check_id, verdict, self.account, region, resource))

    def guardduty(self, region: str, detectors: list[dict[str, Any]] | None) -> None:
        single = detectors[0] if detectors and len(detectors) == 1 else None
        resource = single["id"] if single else "guardduty"
        wanted = features_from_params(self.params["guardduty_features"])
        self.add("guardduty_detector", ev.judge_guardduty_detector(detectors), region, resource)
        self.add(
            "guardduty_frequency",
            ev.judge_guardduty_frequency(single, self.params["guardduty_frequency"]),
            region,
            resource,
        )
        self.add("guardduty_features", ev.judge_guardduty_features(single, wanted), region, resource)

    def log_groups(self, region: str, facts: dict[str, Any]) -> None:
        groups = facts["groups"]
        planned: dict[str, list[str]] = {}
        for g in self.params["log_groups"]:
            if g["region"] == region:
                planned.setdefault(g["name"], []).extend(g.get("hosts") or [])
        protection = facts.get("data_protection") or {}
        low, high = self.params["min_retention_days"], self.params["max_retention_days"]
        for name in sorted(set(groups) | set(planned)):
            group = groups.get(name)
            if name in planned:
                self.add("log_group_exists", ev.judge_log_group_exists(group, planned[name]), region, name)
            if group is None:
                continue  # the missing group is the one FAIL above: its other checks would only repeat it
            self.add("log_group_retention", ev.judge_log_group_retention(group, low, high), region, name)
            self.add("log_group_kms", ev.judge_log_group_kms(group), region, name)
            policy, reason = protection.get(name, (None, "not read"))
            self.add(
                "log_group_data_protection",
                ev.judge_log_group_data_protection(group, policy, reason),
                region,
                name,
            )

    def instance(self, inst: dict[str, Any], facts: dict[str, Any], policies: dict[str, Any]) -> None:
        region, instance_id = inst["region"], inst["instance_id"]
        profile_arn = (facts.get("profiles") or {}).get(instance_id)
        found = policies.get(profile_arn) if profile_arn else None
        self.add(
            "instance_profile",
            ev.judge_instance_profile(
                {
                    "profile_arn": profile_arn,
                    "policies": found if isinstance(found, list) else None,
                    "profile_error": found if isinstance(found, str) else None,
                }
            ),
            region,
            instance_id,
        )
        existing = [g for g in inst["log_groups"] if g in facts["groups"]]
        missing = [g for g in inst["log_groups"] if g not in facts["groups"]]
        seen = {
            "log_groups": inst["log_groups"],
            "newest_ms": (facts.get("newest") or {}).get(instance_id),
            "logs_error": None
            if existing or not missing
            else "none of its log groups exists: " + ", ".join(missing),
        }
        self.add(
            "instance_logs_arriving",
            ev.judge_instance_logs(seen, self.now_ms, self.params["max_log_age_seconds"]),
            region,
            instance_id,
        )
        self.add(
            "agent_running", ev.judge_agent(inst.get("agent_status")), region, inst.get("host") or instance_id
        )

    def records(self, region: str, facts: dict[str, Any]) -> None:
        """Flow logs per monitored VPC (once per VPC) and Config recording of the region."""
        vpcs = {v["vpc_id"]: v["flow_logs"] for v in (facts.get("vpcs") or {}).values()}
        for vpc_id in sorted(vpcs):
            self.add("vpc_flow_logs", ev.judge_vpc_flow_logs(vpcs[vpc_id]), region, vpc_id)
        if "recorders" in facts:
            self.add("config_recording", ev.judge_config_recording(facts["recorders"]), region, "config")
        if "trails" in facts:
            for check_id, judge in CLOUDTRAIL_CHECKS.items():
                self.add(check_id, judge(facts["trails"]), region, "cloudtrail")

    def response(self, region: str, facts: dict[str, Any]) -> None:
        """GuardDuty's alert rule and export per region, the topic's subscriptions in its region."""
        alerts = self.params["guardduty_alerts"]
        if "alert_rule" in facts:
            partition, home, account, _name = parse_topic_arn(alerts["topic_arn"])
            target = alerts["topic_arn"] if region == home else event_bus_arn(partition, home, account)
            verdict = ev.judge_guardduty_alert_rule(facts["alert_rule"], alerts["rule_name"], target)
            self.add("guardduty_alert_rule", verdict, region, alerts["rule_name"])
        if "subscriptions" in facts:
            verdict = ev.judge_guardduty_subscriptions(facts["subscriptions"], alerts["topic_arn"])
            self.add("guardduty_alert_subscriptions", verdict, region, alerts["topic_arn"])
        if "destinations" in facts:
            destinations, reason = facts["destinations"]
            detectors = facts.get("detectors") or []
            resource = detectors[0]["id"] if len(detectors) == 1 else "guardduty"
            self.add("guardduty_export", ev.judge_guardduty_export(destinations, reason), region, resource)

    def failed_region(self, region: str, error: str) -> None:
        reason = f"the region could not be read: {error}"
        verdict = ev.unknown(reason)
        alerts = self.params["guardduty_alerts"]
        if alerts:
            self.add("guardduty_alert_rule", verdict, region, alerts["rule_name"])
            if region == parse_topic_arn(alerts["topic_arn"])[1]:
                self.add("guardduty_alert_subscriptions", verdict, region, alerts["topic_arn"])
        if self.params["guardduty_export"]:
            self.add("guardduty_export", verdict, region, "guardduty")
        if self.params["config_recording"]:
            self.add("config_recording", verdict, region, "config")
        if self.params["cloudtrail"]:
            for check_id in CLOUDTRAIL_CHECKS:
                self.add(check_id, verdict, region, "cloudtrail")
        for check_id in ("guardduty_detector", "guardduty_frequency", "guardduty_features"):
            self.add(check_id, verdict, region, "guardduty")
        for g in self.params["log_groups"]:
            if g["region"] == region:
                self.add("log_group_exists", verdict, region, g["name"])
        for inst in self.params["instances"]:
            if inst["region"] == region:
                for check_id in ("instance_profile", "instance_logs_arriving"):
                    self.add(check_id, verdict, region, inst["instance_id"])
                self.add(
                    "agent_running",
                    ev.judge_agent(inst.get("agent_status")),
                    region,
                    inst.get("host") or inst["instance_id"],
                )


# --- The run ----------------------------------------------------------------------------------


def validate(module: AnsibleAWSModule) -> None:
    """Bad input fails before any AWS call, naming the caller's variable."""
    params, names = module.params, module.params["variable_names"]
    unknown_ids = ev.unknown_check_ids(params["skip_checks"])
    if unknown_ids:
        module.fail_json(
            msg=f"{variable_name(names, 'skip_checks')}: unknown check id(s) {', '.join(unknown_ids)}; "
            f"known: {', '.join(ev.CHECKS_BY_ID)}"
        )
    problem = ev.bounds_problem(
        params["min_retention_days"],
        params["max_retention_days"],
        (variable_name(names, "min_retention_days"), variable_name(names, "max_retention_days")),
    )
    if problem:
        module.fail_json(msg=problem)
    if params["max_log_age_seconds"] < 1:
        module.fail_json(msg=f"{variable_name(names, 'max_log_age_seconds')} must be at least 1")
    if params["guardduty_frequency"] and params["guardduty_frequency"] not in FREQUENCIES:
        module.fail_json(msg=f"{variable_name(names, 'guardduty_frequency')}: not one of {FREQUENCIES}")
    if params["guardduty_alerts"]:
        try:
            parse_topic_arn(params["guardduty_alerts"]["topic_arn"])
        except InvalidInput as exc:
            module.fail_json(msg=str(exc).replace("topic_arn", variable_name(names, "guardduty_alerts"), 1))


def enabled_in(statuses: dict[str, str]) -> list[str]:
    """The enabled regions (opted in, or opt-in not required) of a region -> OptInStatus map."""
    return sorted(region for region, status in statuses.items() if status in ENABLED_STATUSES)


def main() -> None:
    module = AnsibleAWSModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    validate(module)
    params = module.params
    skip = set(params["skip_checks"])
    calls = Calls()
    clients = CountingClients(module, calls)
    named = sorted(
        set(params["regions"])
        | {g["region"] for g in params["log_groups"]}
        | {i["region"] for i in params["instances"]}
    )
    home = account_region(clients, [module.region, *named, "us-east-1"])
    try:
        account = clients("sts", home).get_caller_identity(aws_retry=True)["Account"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not read the account (sts:GetCallerIdentity)")
    names = params["variable_names"]
    statuses: dict[str, str] | None = None
    if named:
        sources = {variable_name(names, "regions"): params["regions"]}
        sources[variable_name(names, "log_groups")] = [g["region"] for g in params["log_groups"]]
        sources[variable_name(names, "instances")] = [i["region"] for i in params["instances"]]
        statuses = check_regions(module, clients("ec2", home), sources)
    if params["regions"]:
        regions = sorted(set(params["regions"]))
    else:
        # The check's answer (every region with its opt-in status) already says which are enabled:
        # a second DescribeRegions would be one more round trip before any region is read.
        enabled = (
            enabled_in(statuses) if statuses is not None else enabled_regions(module, clients("ec2", home))
        )
        regions = sorted(set(enabled) | set(named))
    outcomes = run_in_regions(
        regions, lambda r: read_region(r, clients, params, skip), params["max_concurrency"]
    )
    if not params["regions"]:
        settle_refusals(outcomes, lambda: region_statuses(clients("ec2", home)))
    profiles = {arn for o in outcomes if o.result for arn in (o.result.get("profiles") or {}).values() if arn}
    policies = read_policies(clients, home, profiles) if profiles else {}

    judge = Judge(params, account, skip)
    for outcome in outcomes:
        if outcome.error:
            if not outcome.refused:
                judge.failed_region(outcome.region, outcome.error)
            continue
        facts = outcome.result
        if "detectors" in facts:
            judge.guardduty(outcome.region, facts["detectors"])
        judge.log_groups(outcome.region, facts)
        judge.records(outcome.region, facts)
        judge.response(outcome.region, facts)
        for inst in params["instances"]:
            if inst["region"] == outcome.region:
                judge.instance(inst, facts, policies)
    rows = ev.sort_rows(judge.rows)
    header = {
        "account": account,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "collection_version": COLLECTION_VERSION,
        "regions": regions,
        "variables": {
            variable_name(names, key): params[key]
            for key in (
                "min_retention_days",
                "max_retention_days",
                "max_log_age_seconds",
                "log_group_prefix",
                "guardduty_frequency",
                "skip_checks",
            )
        },
    }
    result = {
        "changed": False,
        "rows": rows,
        "header": header,
        "counts": ev.counts(rows),
        "summary": ev.summary_lines(rows),
        "checks": [
            {k: getattr(c, k) for k in ("id", "article", "title", "scope", "reads", "remediation")}
            for c in ev.CHECKS
        ],
        "region_counts": region_counts(outcomes),
        "calls": dict(sorted(calls.counts.items())),
    }
    failed = [o for o in outcomes if o.error and not o.refused]
    if failed:
        module.fail_json(
            msg="Evidence could not be read in " + "; ".join(f"{o.region}: {o.error}" for o in failed),
            failed_regions=[{"region": o.region, "error": o.error} for o in failed],
            **result,
        )
    module.exit_json(**result)


ARGUMENT_SPEC: dict[str, Any] = dict(
    regions=dict(type="list", elements="str", default=[]),
    guardduty_frequency=dict(type="str", choices=list(FREQUENCIES)),
    guardduty_features=dict(type="list", elements="dict"),
    log_group_prefix=dict(type="str", default=""),
    log_groups=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(
            name=dict(type="str", required=True),
            region=dict(type="str", required=True),
            hosts=dict(type="list", elements="str", default=[]),
        ),
    ),
    instances=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(
            instance_id=dict(type="str", required=True),
            region=dict(type="str", required=True),
            host=dict(type="str"),
            log_groups=dict(type="list", elements="str", default=[]),
            stream_names=dict(type="list", elements="str", default=[]),
            agent_status=dict(type="dict"),
        ),
    ),
    min_retention_days=dict(type="int", default=365),
    max_retention_days=dict(type="int", default=3653),
    max_log_age_seconds=dict(type="int", default=3600),
    vpc_flow_logs=dict(type="bool", default=False),
    config_recording=dict(type="bool", default=False),
    cloudtrail=dict(type="bool", default=False),
    guardduty_alerts=dict(
        type="dict",
        options=dict(
            topic_arn=dict(type="str", required=True),
            rule_name=dict(type="str", default="gdpr-guardduty-findings"),
        ),
    ),
    guardduty_export=dict(type="bool", default=False),
    skip_checks=dict(type="list", elements="str", default=[]),
    **region_options(),
)


if __name__ == "__main__":
    main()
