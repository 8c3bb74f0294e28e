"""Unit tests of the log_groups role's filters: the group list derived from the agents' plans."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter import log_groups as flt

NGINX = {"name": "/gdpr/prod/nginx/access", "retention_in_days": 365, "log_group_class": "STANDARD"}
IIS = {"name": "/gdpr/prod/iis/access", "retention_in_days": 365, "log_group_class": "STANDARD"}

HOSTVARS = {
    "web1": {"placement": {"region": "eu-west-1"}, "cloudwatch_agent_linux_log_groups": [NGINX]},
    "web2": {"placement": {"region": "eu-west-1"}, "cloudwatch_agent_linux_log_groups": [NGINX]},
    "win1": {"placement": {"region": "us-east-1"}, "cloudwatch_agent_windows_log_groups": [IIS]},
    "bare": {"cloudwatch_agent_linux_log_groups": [NGINX]},
    "none": {},
}


def test_union_per_host_region_with_fallback_region_tags_and_keys():
    groups = flt.log_groups_plan(
        HOSTVARS,
        ["web1", "web2", "win1", "bare", "none"],
        "eu-central-1",
        tags={"ManagedBy": "x"},
        kms_keys={"eu-west-1": "arn:aws:kms:eu-west-1:123456789012:key/k"},
    )
    assert [(g["region"], g["name"]) for g in groups] == [
        ("eu-central-1", "/gdpr/prod/nginx/access"),
        ("eu-west-1", "/gdpr/prod/nginx/access"),
        ("us-east-1", "/gdpr/prod/iis/access"),
    ]
    assert all(g["tags"] == {"ManagedBy": "x"} for g in groups)
    assert groups[1]["kms_key_id"].endswith(":key/k")
    assert "kms_key_id" not in groups[0]


def test_extras_get_default_region_retention_and_keep_their_tags_over_common_ones():
    groups = flt.log_groups_plan(
        HOSTVARS,
        ["web1"],
        "eu-west-1",
        extra=[
            {
                "name": "/gdpr/prod/nginx/access",
                "retention_in_days": 365,
                "tags": {"ManagedBy": "me", "x": "1"},
            },
            {"name": "/gdpr/prod/findings", "region": "us-east-1"},
        ],
        default_retention="731",
        tags={"ManagedBy": "role"},
    )
    by_name = {g["name"]: g for g in groups}
    assert by_name["/gdpr/prod/nginx/access"]["tags"] == {"ManagedBy": "me", "x": "1"}
    assert by_name["/gdpr/prod/findings"]["retention_in_days"] == 731
    assert by_name["/gdpr/prod/findings"]["region"] == "us-east-1"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([{"name": "/gdpr/prod/nginx/access", "retention_in_days": 30}], "different retention_in_days"),
        ([{"name": "bad name"}], r"log_groups_extra\[0\]: name"),
        ([{"name": "/x", "retention_in_days": 42}], r"log_groups_extra\[0\]: retention_in_days: 42"),
        ([{"name": "/x", "log_group_class": "COLD"}], "log_group_class 'COLD'"),
    ],
)
def test_conflicts_and_bad_values_fail_naming_the_source(extra, message):
    with pytest.raises(AnsibleFilterError, match=message):
        flt.log_groups_plan(HOSTVARS, ["web1"], "eu-west-1", extra=extra)


def test_summary_joins_groups_and_data_protection_per_region():
    groups_result = {
        "log_groups": [
            {
                "name": "/a",
                "region": "eu-west-1",
                "retention_in_days": 365,
                "kms_key_id": "k",
                "actions": ["create"],
            },
            {"name": "/b", "region": "us-east-1", "retention_in_days": 30, "kms_key_id": None},
        ]
    }
    dp = {
        "log_groups": [
            {
                "name": "/a",
                "region": "eu-west-1",
                "policy": {"Statement": [{"DataIdentifier": ["E", "I"]}, {"DataIdentifier": ["E", "I"]}]},
            }
        ]
    }
    summary = flt.log_groups_summary(groups_result, dp)
    assert summary["eu-west-1"][0]["data_protection"] is True
    assert summary["eu-west-1"][0]["data_protection_identifiers"] == ["E", "I"]
    assert summary["us-east-1"][0]["data_protection"] is False
    assert flt.log_groups_summary({}, {}) == {}
    assert flt.log_groups_refs(groups_result["log_groups"]) == [
        {"name": "/a", "region": "eu-west-1"},
        {"name": "/b", "region": "us-east-1"},
    ]


def test_a_planned_groups_own_region_wins_over_the_hosts():
    """An agent configured for another region (cloudwatch_agent_linux_region) writes there."""
    hostvars = {"onprem": {"cloudwatch_agent_linux_log_groups": [{**NGINX, "region": "eu-north-1"}]}}
    groups = flt.log_groups_plan(hostvars, ["onprem"], "eu-central-1")
    assert [(g["region"], g["name"]) for g in groups] == [("eu-north-1", NGINX["name"])]


def test_pending_are_the_groups_this_run_has_not_applied_with_the_same_retention_and_class():
    groups = flt.log_groups_plan(HOSTVARS, ["web1", "win1"], "eu-central-1")
    applied = {
        "eu-west-1": [{"name": NGINX["name"], "retention_in_days": 365, "log_group_class": "STANDARD"}],
        "us-east-1": [{"name": IIS["name"], "retention_in_days": 3653, "log_group_class": "STANDARD"}],
    }
    assert [g["name"] for g in flt.log_groups_pending(groups, applied)] == [IIS["name"]]
    assert flt.log_groups_pending(groups, {}) == groups
    applied["us-east-1"][0]["retention_in_days"] = 365
    assert flt.log_groups_pending(groups, applied) == []
