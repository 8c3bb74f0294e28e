# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the guardduty_detector module: current detector + wish -> API actions.

Nothing here talks to AWS, so every decision the module takes is unit-testable without a network.

Two behaviours of the backends shape the feature handling:

* Real GuardDuty's UpdateDetector *merges* ``Features``: a feature left out of the request keeps its
  state. moto 5.2.5 *replaces* the detector's whole feature list with the request's. To give the
  same result on both, an update sends the user's features plus every other updatable feature the
  detector already has, unchanged. On AWS that is a no-op for the extra ones; on moto it keeps them.
* AWS rejects a request naming both RUNTIME_MONITORING and EKS_RUNTIME_MONITORING (the former
  includes the latter), yet GetDetector lists both. Echoing back must therefore never send both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FREQUENCIES: tuple[str, ...] = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")
FEATURE_NAMES: tuple[str, ...] = (
    "S3_DATA_EVENTS",
    "EKS_AUDIT_LOGS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
    "RUNTIME_MONITORING",
    "EKS_RUNTIME_MONITORING",
)
ADDITIONAL_CONFIGURATION_NAMES: tuple[str, ...] = (
    "EKS_ADDON_MANAGEMENT",
    "ECS_FARGATE_AGENT_MANAGEMENT",
    "EC2_AGENT_MANAGEMENT",
)
STATUSES: tuple[str, ...] = ("ENABLED", "DISABLED")
RUNTIME_PAIR: tuple[str, str] = ("RUNTIME_MONITORING", "EKS_RUNTIME_MONITORING")
# AWS's documented default when CreateDetector gets no frequency.
DEFAULT_FREQUENCY = "SIX_HOURS"


@dataclass
class Desired:
    """What the user asked for in one region (the same for every region)."""

    state: str = "present"
    frequency: str | None = None
    features: list[dict[str, Any]] | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = False

    @property
    def status(self) -> str:
        return "DISABLED" if self.state == "disabled" else "ENABLED"


@dataclass
class Action:
    kind: str  # create | update | tag | untag | delete
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    actions: list[Action]
    after: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        return bool(self.actions)


# --- normalising ---------------------------------------------------------------------------------


def _addl_from_aws(raw: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    items = [{"name": a["Name"], "status": a["Status"]} for a in raw or [] if a.get("Name")]
    return sorted(items, key=lambda a: a["name"])


def features_from_aws(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """GetDetector's ``Features`` -> sorted ``[{name, status, additional_configuration}]``."""
    items = [
        {
            "name": f["Name"],
            "status": f.get("Status", "DISABLED"),
            "additional_configuration": _addl_from_aws(f.get("AdditionalConfiguration")),
        }
        for f in raw or []
        if f.get("Name")
    ]
    return sorted(items, key=lambda f: f["name"])


def features_from_params(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The module's ``features`` option -> the same normalised shape (None = leave features alone)."""
    if raw is None:
        return None
    items = [
        {
            "name": f["name"],
            "status": f.get("status") or "ENABLED",
            "additional_configuration": sorted(
                (
                    {"name": a["name"], "status": a.get("status") or "ENABLED"}
                    for a in f.get("additional_configuration") or []
                ),
                key=lambda a: a["name"],
            ),
        }
        for f in raw
    ]
    return sorted(items, key=lambda f: f["name"])


def features_to_aws(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in features:
        item: dict[str, Any] = {"Name": f["name"], "Status": f["status"]}
        if f.get("additional_configuration"):
            item["AdditionalConfiguration"] = [
                {"Name": a["name"], "Status": a["status"]} for a in f["additional_configuration"]
            ]
        out.append(item)
    return out


def detector_view(detector_id: str | None, detector: dict[str, Any] | None) -> dict[str, Any] | None:
    """GetDetector's answer -> the state this module reports and compares (None = no detector)."""
    if detector is None:
        return None
    return {
        "detector_id": detector_id,
        "status": detector.get("Status"),
        "finding_publishing_frequency": detector.get("FindingPublishingFrequency"),
        "features": features_from_aws(detector.get("Features")),
        "tags": dict(detector.get("Tags") or {}),
    }


def absent_view() -> dict[str, Any]:
    return {
        "detector_id": None,
        "status": None,
        "finding_publishing_frequency": None,
        "features": [],
        "tags": {},
    }


# --- validation ----------------------------------------------------------------------------------


def validate_features(features: list[dict[str, Any]] | None) -> list[str]:
    """Problems AWS would reject only after some regions were already changed; checked up front."""
    problems: list[str] = []
    if not features:
        return problems
    names = [f["name"] for f in features]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"features: {name} is listed more than once")
    if all(n in names for n in RUNTIME_PAIR):
        problems.append(
            "features: RUNTIME_MONITORING and EKS_RUNTIME_MONITORING cannot both be set; "
            "RUNTIME_MONITORING already covers EKS (AWS rejects the pair)"
        )
    for f in features:
        addl = [a["name"] for a in f.get("additional_configuration") or []]
        for name in sorted({n for n in addl if addl.count(n) > 1}):
            problems.append(f"features: {f['name']} lists additional_configuration {name} more than once")
    return problems


# --- features ------------------------------------------------------------------------------------


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in items}


def _status_of(items: dict[str, dict[str, Any]], name: str) -> str:
    # A feature or sub-option the detector does not list is off (moto lists only what was set).
    return items[name]["status"] if name in items else "DISABLED"


def features_differ(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[str]:
    """Names of the wanted features whose status or listed sub-options differ from the detector."""
    have = _by_name(current)
    differ = []
    for want in wanted:
        name = want["name"]
        if _status_of(have, name) != want["status"]:
            differ.append(name)
            continue
        have_addl = _by_name(have[name]["additional_configuration"]) if name in have else {}
        if any(_status_of(have_addl, a["name"]) != a["status"] for a in want["additional_configuration"]):
            differ.append(name)
    return differ


def merge_features(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The detector's features with the wanted ones laid over them (what the detector ends up with)."""
    merged = {f["name"]: dict(f) for f in current}
    for want in wanted:
        base = merged.get(want["name"], {"additional_configuration": []})
        addl = {a["name"]: a for a in base.get("additional_configuration") or []}
        addl.update({a["name"]: a for a in want["additional_configuration"]})
        merged[want["name"]] = {
            "name": want["name"],
            "status": want["status"],
            "additional_configuration": sorted(addl.values(), key=lambda a: a["name"]),
        }
    return sorted(merged.values(), key=lambda f: f["name"])


def features_request(current: list[dict[str, Any]], wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """UpdateDetector ``Features``: the wanted features plus the detector's other updatable ones."""
    wanted_names = {f["name"] for f in wanted}
    merged = merge_features(current, wanted)
    keep = []
    for f in merged:
        if f["name"] not in FEATURE_NAMES:
            continue  # CLOUD_TRAIL, DNS_LOGS, FLOW_LOGS... are reported but not updatable
        keep.append(
            {
                **f,
                "additional_configuration": [
                    a for a in f["additional_configuration"] if a["name"] in ADDITIONAL_CONFIGURATION_NAMES
                ],
            }
        )
    names = {f["name"] for f in keep}
    if all(n in names for n in RUNTIME_PAIR):
        chosen = [n for n in RUNTIME_PAIR if n in wanted_names]
        drop = RUNTIME_PAIR[1] if not chosen or chosen[0] == RUNTIME_PAIR[0] else RUNTIME_PAIR[0]
        keep = [f for f in keep if f["name"] != drop]
    return features_to_aws(keep)


# --- planning ------------------------------------------------------------------------------------


def tag_changes(
    current: dict[str, str], wanted: dict[str, str] | None, purge: bool
) -> tuple[dict[str, str], list[str]]:
    """(tags to set, keys to remove). Without ``purge`` a user's other tags are never removed."""
    if wanted is None:
        return {}, []
    to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
    to_remove = sorted(k for k in current if k not in wanted) if purge else []
    return to_set, to_remove


def plan_region(
    current: dict[str, Any] | None,
    desired: Desired,
    other_ids: list[str] | None = None,
) -> Plan:
    """Actions that turn ``current`` (a detector_view or None) into ``desired`` in one region.

    ``other_ids`` are further detectors in the region (possible on moto, never on AWS); only
    ``state=absent`` touches them, by deleting them too.
    """
    if desired.state == "absent":
        ids = ([current["detector_id"]] if current else []) + list(other_ids or [])
        return Plan([Action("delete", {"DetectorId": i}) for i in ids], None)
    if current is None:
        if desired.state == "disabled":
            return Plan([], None)  # nothing to suspend; creating a detector only to suspend it helps no one
        return _plan_create(desired)
    return _plan_update(current, desired)


def _plan_create(desired: Desired) -> Plan:
    params: dict[str, Any] = {"Enable": True}
    if desired.frequency:
        params["FindingPublishingFrequency"] = desired.frequency
    if desired.features:
        params["Features"] = features_to_aws(desired.features)
    if desired.tags:
        params["Tags"] = dict(desired.tags)
    after = {
        "detector_id": None,
        "status": "ENABLED",
        "finding_publishing_frequency": desired.frequency or DEFAULT_FREQUENCY,
        "features": merge_features([], desired.features or []),
        "tags": dict(desired.tags or {}),
    }
    return Plan([Action("create", params)], after)


def _plan_update(current: dict[str, Any], desired: Desired) -> Plan:
    actions: list[Action] = []
    after = {**current, "features": list(current["features"]), "tags": dict(current["tags"])}
    update: dict[str, Any] = {}
    if current["status"] != desired.status:
        update["Enable"] = desired.status == "ENABLED"
        after["status"] = desired.status
    if desired.frequency and current["finding_publishing_frequency"] != desired.frequency:
        update["FindingPublishingFrequency"] = desired.frequency
        after["finding_publishing_frequency"] = desired.frequency
    if desired.features and features_differ(current["features"], desired.features):
        update["Features"] = features_request(current["features"], desired.features)
        after["features"] = merge_features(current["features"], desired.features)
    if update:
        actions.append(Action("update", {"DetectorId": current["detector_id"], **update}))
    to_set, to_remove = tag_changes(current["tags"], desired.tags, desired.purge_tags)
    if to_set:
        actions.append(Action("tag", {"Tags": to_set}))
        after["tags"].update(to_set)
    if to_remove:
        actions.append(Action("untag", {"TagKeys": to_remove}))
        for key in to_remove:
            after["tags"].pop(key, None)
    return Plan(actions, after)


def detector_arn(partition: str, region: str, account_id: str, detector_id: str) -> str:
    return f"arn:{partition}:guardduty:{region}:{account_id}:detector/{detector_id}"
