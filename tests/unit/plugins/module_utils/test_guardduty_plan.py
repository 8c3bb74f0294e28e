"""Planning logic of guardduty_detector (plugins/module_utils/guardduty.py): no AWS involved."""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import guardduty as gd


def feature(name: str, status: str = "ENABLED", **addl: str) -> dict:
    return {
        "name": name,
        "status": status,
        "additional_configuration": [{"name": k, "status": v} for k, v in sorted(addl.items())],
    }


def view(
    status: str = "ENABLED", frequency: str = "SIX_HOURS", features=None, tags=None, did: str = "d1"
) -> dict:
    return {
        "detector_id": did,
        "status": status,
        "finding_publishing_frequency": frequency,
        "features": sorted(features or [], key=lambda f: f["name"]),
        "tags": dict(tags or {}),
    }


# --- creating ------------------------------------------------------------------------------------


def test_missing_detector_is_created_enabled_with_everything_in_one_call():
    desired = gd.Desired(
        frequency="FIFTEEN_MINUTES",
        features=[feature("S3_DATA_EVENTS"), feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="ENABLED")],
        tags={"Purpose": "gdpr"},
    )
    plan = gd.plan_region(None, desired)
    assert [a.kind for a in plan.actions] == ["create"]
    assert plan.actions[0].params == {
        "Enable": True,
        "FindingPublishingFrequency": "FIFTEEN_MINUTES",
        "Features": [
            {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
            {
                "Name": "RUNTIME_MONITORING",
                "Status": "ENABLED",
                "AdditionalConfiguration": [{"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"}],
            },
        ],
        "Tags": {"Purpose": "gdpr"},
    }
    assert plan.after["status"] == "ENABLED"
    assert plan.after["tags"] == {"Purpose": "gdpr"}


def test_create_without_options_sends_only_enable():
    plan = gd.plan_region(None, gd.Desired())
    assert plan.actions[0].params == {"Enable": True}
    assert plan.after["finding_publishing_frequency"] == gd.DEFAULT_FREQUENCY


def test_disabled_creates_nothing_where_there_is_no_detector():
    plan = gd.plan_region(None, gd.Desired(state="disabled", frequency="ONE_HOUR"))
    assert plan.actions == []
    assert plan.after is None


# --- updating ------------------------------------------------------------------------------------


def test_matching_detector_needs_nothing():
    current = view(frequency="FIFTEEN_MINUTES", features=[feature("S3_DATA_EVENTS")], tags={"a": "1"})
    desired = gd.Desired(frequency="FIFTEEN_MINUTES", features=[feature("S3_DATA_EVENTS")], tags={"a": "1"})
    plan = gd.plan_region(current, desired)
    assert plan.actions == []
    assert not plan.changed
    assert plan.after == current


def test_suspended_detector_is_re_enabled():
    plan = gd.plan_region(view(status="DISABLED"), gd.Desired())
    assert [(a.kind, a.params) for a in plan.actions] == [("update", {"DetectorId": "d1", "Enable": True})]
    assert plan.after["status"] == "ENABLED"


def test_disabled_suspends_an_enabled_detector():
    plan = gd.plan_region(view(), gd.Desired(state="disabled"))
    assert plan.actions[0].params == {"DetectorId": "d1", "Enable": False}


def test_frequency_left_alone_when_not_given():
    plan = gd.plan_region(view(frequency="ONE_HOUR"), gd.Desired())
    assert plan.actions == []


def test_frequency_change_is_one_update():
    plan = gd.plan_region(view(frequency="SIX_HOURS"), gd.Desired(frequency="FIFTEEN_MINUTES"))
    assert plan.actions[0].params == {"DetectorId": "d1", "FindingPublishingFrequency": "FIFTEEN_MINUTES"}


def test_status_frequency_and_features_go_in_a_single_update():
    current = view(status="DISABLED", frequency="SIX_HOURS")
    desired = gd.Desired(frequency="ONE_HOUR", features=[feature("RDS_LOGIN_EVENTS")])
    plan = gd.plan_region(current, desired)
    assert [a.kind for a in plan.actions] == ["update"]
    assert set(plan.actions[0].params) == {"DetectorId", "Enable", "FindingPublishingFrequency", "Features"}


# --- features ------------------------------------------------------------------------------------


def test_only_listed_features_are_compared():
    current = view(features=[feature("S3_DATA_EVENTS"), feature("EKS_AUDIT_LOGS", "DISABLED")])
    plan = gd.plan_region(current, gd.Desired(features=[feature("S3_DATA_EVENTS")]))
    assert plan.actions == []


def test_unlisted_feature_is_treated_as_disabled():
    """moto lists only features that were set; AWS lists all. Missing == DISABLED covers both."""
    assert gd.features_differ([], [feature("S3_DATA_EVENTS", "DISABLED")]) == []
    assert gd.features_differ([], [feature("S3_DATA_EVENTS")]) == ["S3_DATA_EVENTS"]


def test_additional_configuration_difference_is_a_change():
    current = [feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="DISABLED")]
    wanted = [feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="ENABLED")]
    assert gd.features_differ(current, wanted) == ["RUNTIME_MONITORING"]


def test_unlisted_additional_configuration_is_not_compared():
    current = [feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="ENABLED", EKS_ADDON_MANAGEMENT="DISABLED")]
    wanted = [feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="ENABLED")]
    assert gd.features_differ(current, wanted) == []


def test_update_echoes_other_updatable_features_so_a_replacing_backend_keeps_them():
    """moto replaces the feature list on UpdateDetector; AWS merges. Echoing keeps both equal."""
    current = [
        feature("CLOUD_TRAIL"),
        feature("LAMBDA_NETWORK_LOGS"),
        feature("S3_DATA_EVENTS", "DISABLED"),
    ]
    request = gd.features_request(current, [feature("S3_DATA_EVENTS")])
    assert request == [
        {"Name": "LAMBDA_NETWORK_LOGS", "Status": "ENABLED"},
        {"Name": "S3_DATA_EVENTS", "Status": "ENABLED"},
    ]


def test_update_keeps_other_sub_options_of_a_listed_feature():
    current = [feature("RUNTIME_MONITORING", "DISABLED", EKS_ADDON_MANAGEMENT="ENABLED")]
    request = gd.features_request(current, [feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="ENABLED")])
    assert request == [
        {
            "Name": "RUNTIME_MONITORING",
            "Status": "ENABLED",
            "AdditionalConfiguration": [
                {"Name": "EC2_AGENT_MANAGEMENT", "Status": "ENABLED"},
                {"Name": "EKS_ADDON_MANAGEMENT", "Status": "ENABLED"},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("wanted", "sent"),
    [
        ([feature("S3_DATA_EVENTS")], "RUNTIME_MONITORING"),
        ([feature("RUNTIME_MONITORING")], "RUNTIME_MONITORING"),
        ([feature("EKS_RUNTIME_MONITORING")], "EKS_RUNTIME_MONITORING"),
    ],
)
def test_update_never_sends_both_runtime_features(wanted, sent):
    """AWS lists both in GetDetector but rejects an UpdateDetector that names both."""
    current = [feature("RUNTIME_MONITORING", "DISABLED"), feature("EKS_RUNTIME_MONITORING", "DISABLED")]
    names = [f["Name"] for f in gd.features_request(current, wanted)]
    assert sent in names
    assert not set(gd.RUNTIME_PAIR) <= set(names)


def test_features_after_update_are_the_merge():
    current = view(features=[feature("LAMBDA_NETWORK_LOGS")])
    plan = gd.plan_region(current, gd.Desired(features=[feature("S3_DATA_EVENTS")]))
    assert [f["name"] for f in plan.after["features"]] == ["LAMBDA_NETWORK_LOGS", "S3_DATA_EVENTS"]


# --- tags ----------------------------------------------------------------------------------------


def test_tags_are_added_and_users_tags_kept_by_default():
    plan = gd.plan_region(view(tags={"owner": "me", "a": "old"}), gd.Desired(tags={"a": "new"}))
    assert [(a.kind, a.params) for a in plan.actions] == [("tag", {"Tags": {"a": "new"}})]
    assert plan.after["tags"] == {"owner": "me", "a": "new"}


def test_purge_tags_removes_unlisted():
    plan = gd.plan_region(view(tags={"owner": "me", "a": "1"}), gd.Desired(tags={"a": "1"}, purge_tags=True))
    assert [(a.kind, a.params) for a in plan.actions] == [("untag", {"TagKeys": ["owner"]})]
    assert plan.after["tags"] == {"a": "1"}


def test_tags_omitted_means_tags_untouched_even_with_purge():
    plan = gd.plan_region(view(tags={"owner": "me"}), gd.Desired(tags=None, purge_tags=True))
    assert plan.actions == []


# --- absent --------------------------------------------------------------------------------------


def test_absent_deletes_every_detector_of_the_region():
    plan = gd.plan_region(view(did="a"), gd.Desired(state="absent"), other_ids=["b"])
    assert [(a.kind, a.params) for a in plan.actions] == [
        ("delete", {"DetectorId": "a"}),
        ("delete", {"DetectorId": "b"}),
    ]
    assert plan.after is None


def test_absent_without_detector_is_a_no_op():
    assert gd.plan_region(None, gd.Desired(state="absent")).actions == []


def test_extra_detectors_are_never_touched_unless_absent():
    plan = gd.plan_region(view(status="DISABLED", did="a"), gd.Desired(), other_ids=["b"])
    assert all(a.params.get("DetectorId") == "a" for a in plan.actions)
    assert [a.kind for a in plan.actions] == ["update"]


# --- normalising and validation ------------------------------------------------------------------


def test_aws_shaped_features_are_normalised_and_sorted():
    raw = [
        {"Name": "S3_DATA_EVENTS", "Status": "ENABLED", "UpdatedAt": "x"},
        {
            "Name": "EKS_RUNTIME_MONITORING",
            "Status": "DISABLED",
            "AdditionalConfiguration": [
                {"Name": "EKS_ADDON_MANAGEMENT", "Status": "DISABLED", "UpdatedAt": "x"}
            ],
        },
    ]
    assert gd.features_from_aws(raw) == [
        feature("EKS_RUNTIME_MONITORING", "DISABLED", EKS_ADDON_MANAGEMENT="DISABLED"),
        feature("S3_DATA_EVENTS"),
    ]


def test_params_features_default_status_enabled():
    assert gd.features_from_params([{"name": "S3_DATA_EVENTS", "additional_configuration": None}]) == [
        feature("S3_DATA_EVENTS")
    ]
    assert gd.features_from_params(None) is None


def test_validation_rejects_both_runtime_features_and_duplicates():
    problems = gd.validate_features(
        [
            feature("RUNTIME_MONITORING", EC2_AGENT_MANAGEMENT="ENABLED")
            | {"additional_configuration": [{"name": "EC2_AGENT_MANAGEMENT", "status": "ENABLED"}] * 2},
            feature("EKS_RUNTIME_MONITORING"),
            feature("S3_DATA_EVENTS"),
            feature("S3_DATA_EVENTS"),
        ]
    )
    assert any("S3_DATA_EVENTS is listed more than once" in p for p in problems)
    assert any("RUNTIME_MONITORING and EKS_RUNTIME_MONITORING" in p for p in problems)
    assert any("EC2_AGENT_MANAGEMENT more than once" in p for p in problems)
    assert gd.validate_features([feature("S3_DATA_EVENTS")]) == []


def test_detector_arn():
    assert gd.detector_arn("aws-cn", "cn-north-1", "123456789012", "abc") == (
        "arn:aws-cn:guardduty:cn-north-1:123456789012:detector/abc"
    )
