# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the config_recorders module: a region's recorder + delivery channel -> actions.

Nothing here talks to AWS. What AWS Config allows shapes it:

* A region holds at most one (customer managed) configuration recorder and one delivery channel,
  and a recorder cannot be renamed. So "ours" is decided by name: a recorder called
  ``recorder_name`` is ours and kept as wished; a recorder of another name is someone else's and is
  reported and left alone unless ``manage_existing``, which then updates it in place, keeping its
  name. The delivery channel follows the same rule.
* Global resource types (IAM users, roles, policies...) are recorded in one region only, or every
  region would record the same changes: ``includeGlobalResourceTypes`` is true in exactly the
  ``global_region``.
* Recording needs a delivery channel: a recorder is started only once a channel exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FREQUENCIES: tuple[str, ...] = ("One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours")
SERVICE = "config.amazonaws.com"
SERVICE_LINKED_ROLE_PATH = f"/aws-service-role/{SERVICE}/"


@dataclass(frozen=True)
class Desired:
    recorder_name: str
    global_region: str
    role_arn: str | None
    bucket_name: str
    key_prefix: str = ""
    kms_key_arn: str = ""
    sns_topic_arn: str = ""
    frequency: str = "TwentyFour_Hours"
    manage_existing: bool = False


@dataclass
class Action:
    kind: str  # put_recorder | put_channel | start
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    status: str  # created | updated | unchanged | foreign
    actions: list[Action]
    before: dict[str, Any]
    after: dict[str, Any]
    differences: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.actions)


# --- views -----------------------------------------------------------------------------------------


def recording_group(all_supported: bool, include_global: bool) -> dict[str, Any]:
    return {"allSupported": all_supported, "includeGlobalResourceTypes": include_global, "resourceTypes": []}


def recorder_view(raw: Mapping[str, Any] | None, status: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DescribeConfigurationRecorders + ...Status entry -> what is compared and reported."""
    if not raw:
        return None
    group = raw.get("recordingGroup") or {}
    return {
        "name": raw.get("name"),
        "role_arn": raw.get("roleARN"),
        "all_supported": bool(group.get("allSupported")),
        "include_global_resource_types": bool(group.get("includeGlobalResourceTypes")),
        "resource_types": sorted(group.get("resourceTypes") or []),
        "recording": bool((status or {}).get("recording")),
    }


def channel_view(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    return {
        "name": raw.get("name"),
        "bucket_name": raw.get("s3BucketName") or "",
        "key_prefix": raw.get("s3KeyPrefix") or "",
        "kms_key_arn": raw.get("s3KmsKeyArn") or "",
        "sns_topic_arn": raw.get("snsTopicARN") or "",
        "frequency": (raw.get("configSnapshotDeliveryProperties") or {}).get("deliveryFrequency")
        or "TwentyFour_Hours",
    }


def wanted_recorder(name: str, region: str, desired: Desired) -> dict[str, Any]:
    return {
        "name": name,
        "role_arn": desired.role_arn,
        "all_supported": True,
        "include_global_resource_types": region == desired.global_region,
        "resource_types": [],
        "recording": True,
    }


def wanted_channel(name: str, desired: Desired) -> dict[str, Any]:
    return {
        "name": name,
        "bucket_name": desired.bucket_name,
        "key_prefix": desired.key_prefix,
        "kms_key_arn": desired.kms_key_arn,
        "sns_topic_arn": desired.sns_topic_arn,
        "frequency": desired.frequency,
    }


# --- requests --------------------------------------------------------------------------------------


def recorder_request(view: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "ConfigurationRecorder": {
            "name": view["name"],
            "roleARN": view["role_arn"],
            "recordingGroup": recording_group(True, view["include_global_resource_types"]),
        }
    }


def channel_request(view: Mapping[str, Any]) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "name": view["name"],
        "s3BucketName": view["bucket_name"],
        "configSnapshotDeliveryProperties": {"deliveryFrequency": view["frequency"]},
    }
    for key, field_name in (
        ("s3KeyPrefix", "key_prefix"),
        ("s3KmsKeyArn", "kms_key_arn"),
        ("snsTopicARN", "sns_topic_arn"),
    ):
        if view[field_name]:
            channel[key] = view[field_name]
    return {"DeliveryChannel": channel}


# --- planning --------------------------------------------------------------------------------------


def _differ(current: Mapping[str, Any], wanted: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [f"{k}: {current.get(k)!r} -> {wanted.get(k)!r}" for k in keys if current.get(k) != wanted.get(k)]


RECORDER_KEYS = ("role_arn", "all_supported", "include_global_resource_types", "resource_types")
CHANNEL_KEYS = ("bucket_name", "key_prefix", "kms_key_arn", "sns_topic_arn", "frequency")


def plan_region(
    region: str, recorder: dict[str, Any] | None, channel: dict[str, Any] | None, desired: Desired
) -> Plan:
    """Actions for one region. ``recorder``/``channel``: recorder_view/channel_view or None."""
    before = {"recorder": recorder, "delivery_channel": channel}
    if recorder is not None and recorder["name"] != desired.recorder_name and not desired.manage_existing:
        return Plan("foreign", [], before, before)
    name = recorder["name"] if recorder else desired.recorder_name
    want_rec = wanted_recorder(name, region, desired)
    actions: list[Action] = []
    differences: list[str] = []
    if recorder is None:
        actions.append(Action("put_recorder", recorder_request(want_rec)))
    else:
        differences += _differ(recorder, want_rec, RECORDER_KEYS)
        if differences:
            actions.append(Action("put_recorder", recorder_request(want_rec)))
    channel_after = channel
    if channel is None or channel["name"] == name or desired.manage_existing:
        want_ch = wanted_channel(channel["name"] if channel else name, desired)
        channel_diff = _differ(channel, want_ch, CHANNEL_KEYS) if channel else []
        if channel is None or channel_diff:
            actions.append(Action("put_channel", channel_request(want_ch)))
        differences += channel_diff
        channel_after = want_ch
    else:
        differences.append(f"delivery channel {channel['name']!r} is not this recorder's: left alone")
    if not (recorder or {}).get("recording"):
        actions.append(Action("start", {"ConfigurationRecorderName": name}))
    status = "created" if recorder is None else ("updated" if actions else "unchanged")
    after = {"recorder": want_rec, "delivery_channel": channel_after}
    return Plan(status, actions, before, after, differences)


def service_linked_role_arn(partition: str, account_id: str) -> str:
    """The ARN AWS gives Config's service-linked role (used in check mode before it exists)."""
    return f"arn:{partition}:iam::{account_id}:role{SERVICE_LINKED_ROLE_PATH}AWSServiceRoleForConfig"
