"""Unit tests of the evidence_report role's filters (plugins/filter/evidence.py)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gdpr.aws_monitoring.plugins.filter import evidence as f

STATUS = {"status": "running", "configstatus": "configured", "log_groups": ["/gdpr/p/nginx/access"]}


def _hostvars() -> dict:
    return {
        "web1": {
            "instance_id": "i-1",
            "placement": {"region": "eu-central-1"},
            "ansible_facts": {"hostname": "web1-host"},
            "cloudwatch_agent_linux_log_groups": [
                {"name": "/gdpr/p/nginx/access", "retention_in_days": 365},
                {"name": "/gdpr/p/nginx/error", "retention_in_days": 365},
            ],
            "cloudwatch_agent_linux_status": STATUS,
        },
        "web2": {
            "instance_id": "i-2",
            "cloudwatch_agent_linux_log_groups": [{"name": "/gdpr/p/nginx/access", "retention_in_days": 365}],
        },
        "onprem": {"cloudwatch_agent_linux_log_groups": [{"name": "/gdpr/p/nginx/access"}]},
    }


def test_inputs_give_planned_groups_per_region_with_their_hosts_and_the_instances():
    inputs = f.evidence_inputs(_hostvars(), ["web1", "web2", "onprem"], "eu-west-1")
    assert inputs["log_groups"] == [
        {"name": "/gdpr/p/nginx/access", "region": "eu-central-1", "hosts": ["web1"]},
        {"name": "/gdpr/p/nginx/error", "region": "eu-central-1", "hosts": ["web1"]},
        {"name": "/gdpr/p/nginx/access", "region": "eu-west-1", "hosts": ["onprem", "web2"]},
    ]
    web1, web2 = inputs["instances"]
    # The agent's own word (status fact) on where it writes wins over the plan.
    assert web1 == {
        "instance_id": "i-1",
        "region": "eu-central-1",
        "host": "web1",
        "log_groups": ["/gdpr/p/nginx/access"],
        "stream_names": ["web1-host"],
        "agent_status": STATUS,
    }
    assert web2["region"] == "eu-west-1" and web2["log_groups"] == ["/gdpr/p/nginx/access"]
    assert "agent_status" not in web2 and web2["stream_names"] == []


def test_failing_rows_and_renderings_need_the_module_result():
    result = {"header": {"time": "t"}, "rows": [{"status": "FAIL"}, {"status": "PASS"}]}
    assert f.evidence_failing(result, ["fail"]) == [{"status": "FAIL"}]
    assert f.evidence_failing(result, []) == []
    with pytest.raises(AnsibleFilterError, match="registered result"):
        f.evidence_html({"rows": []})
    assert f.evidence_unknown_checks(["log_group_kms", "x"]) == ["x"]
