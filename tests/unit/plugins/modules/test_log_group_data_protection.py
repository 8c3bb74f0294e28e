"""Unit tests of gdpr.aws_monitoring.log_group_data_protection.

moto does not implement Put/Get/DeleteDataProtectionPolicy (it answers HTTP 500), so the API calls
are tested with botocore's Stubber at the API boundary: real botocore clients that validate every
request against the CloudWatch Logs service model, with the answers queued here.
"""

from __future__ import annotations

import json

import pytest
from log_groups_stubs import run_module, stubbed_client

from ansible_collections.gdpr.aws_monitoring.plugins.modules import log_group_data_protection as mod

EU = "eu-west-1"
US = "us-east-1"
EMAIL = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"
IP = "arn:aws:dataprotection::aws:data-identifier/IpAddress"


def default_policy(region: str = EU, destination=None, custom=()):
    return mod.build_policy(
        region,
        ["EmailAddress", "IpAddress"],
        list(custom),
        destination,
        "gdpr-aws-monitoring",
        "Masks personal data in logs (GDPR Art. 32)",
    )


def test_policy_has_audit_and_deidentify_statements_over_the_same_identifiers():
    policy = default_policy()
    assert policy["Version"] == "2021-06-01"
    audit, redact = policy["Statement"]
    assert audit["DataIdentifier"] == [EMAIL, IP] == redact["DataIdentifier"]
    assert audit["Operation"] == {"Audit": {"FindingsDestination": {}}}
    assert redact["Operation"] == {"Deidentify": {"MaskConfig": {}}}
    assert "Configuration" not in policy


def test_policy_findings_destinations_and_custom_identifiers():
    policy = default_policy(
        destination={
            "cloudwatch_logs_log_group": "/findings",
            "s3_bucket": "b",
            "firehose_delivery_stream": "s",
        },
        custom=[{"name": "CustomerId", "regex": "CUST-\\d{8}"}],
    )
    assert policy["Statement"][0]["Operation"]["Audit"]["FindingsDestination"] == {
        "CloudWatchLogs": {"LogGroup": "/findings"},
        "S3": {"Bucket": "b"},
        "Firehose": {"DeliveryStream": "s"},
    }
    assert policy["Statement"][1]["DataIdentifier"][-1] == "CustomerId"
    assert policy["Configuration"] == {
        "CustomDataIdentifier": [{"Name": "CustomerId", "Regex": "CUST-\\d{8}"}]
    }


def test_identifier_arns_follow_the_partition_and_keep_given_arns():
    assert mod.identifier_arn("EmailAddress", "cn-north-1") == (
        "arn:aws-cn:dataprotection::aws:data-identifier/EmailAddress"
    )
    assert mod.identifier_arn(EMAIL, "us-gov-west-1") == EMAIL


def test_no_identifier_at_all_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        mod.build_policy(EU, [], [], None, "n", "d")


def test_comparison_ignores_order_and_formatting_but_not_content():
    want = default_policy()
    reordered = json.loads(json.dumps(want))
    reordered["Statement"].reverse()
    reordered["Statement"][0]["DataIdentifier"].reverse()
    assert mod.policies_equal(json.dumps(reordered, indent=4), want)
    fewer = json.loads(json.dumps(want))
    for statement in fewer["Statement"]:
        statement["DataIdentifier"] = [EMAIL]
    assert not mod.policies_equal(json.dumps(fewer), want)
    assert not mod.policies_equal(None, want)
    assert mod.policies_equal("", None)


def test_puts_policy_where_missing_or_different_and_leaves_equal_ones():
    client, stub = stubbed_client(EU)
    want = default_policy()
    stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/a"}, {"logGroupIdentifier": "/a"}
    )
    stub.add_response(
        "put_data_protection_policy",
        {"logGroupIdentifier": "/a", "policyDocument": json.dumps(want)},
        {"logGroupIdentifier": "/a", "policyDocument": json.dumps(want)},
    )
    stub.add_response(
        "get_data_protection_policy",
        {"logGroupIdentifier": "/b", "policyDocument": json.dumps(want, indent=2)},
        {"logGroupIdentifier": "/b"},
    )
    results = mod.sync_region(client, ["/a", "/b"], want, check_mode=False)
    assert [r["changed"] for r in results] == [True, False]
    stub.assert_no_pending_responses()


def test_check_mode_only_reads():
    client, stub = stubbed_client(EU)
    stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/a"}, {"logGroupIdentifier": "/a"}
    )
    results = mod.sync_region(client, ["/a"], default_policy(), check_mode=True)
    assert results[0]["changed"] is True
    stub.assert_no_pending_responses()


def test_absent_deletes_an_existing_policy_only():
    client, stub = stubbed_client(EU)
    stub.add_response(
        "get_data_protection_policy",
        {"logGroupIdentifier": "/a", "policyDocument": json.dumps(default_policy())},
        {"logGroupIdentifier": "/a"},
    )
    stub.add_response("delete_data_protection_policy", {}, {"logGroupIdentifier": "/a"})
    stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/b"}, {"logGroupIdentifier": "/b"}
    )
    results = mod.sync_region(client, ["/a", "/b"], None, check_mode=False)
    assert [r["changed"] for r in results] == [True, False]
    stub.assert_no_pending_responses()


def test_an_endpoint_without_the_api_is_named_as_such():
    client, stub = stubbed_client(EU)
    stub.add_client_error(
        "get_data_protection_policy",
        service_error_code="500",
        service_message="<!doctype html><title>500 Internal Server Error</title>",
        http_status_code=500,
    )
    with pytest.raises(mod.NotImplementedByEndpoint, match="does not implement GetDataProtectionPolicy"):
        mod.read_policy(client, "/a")


def test_module_runs_all_regions_in_one_call_with_diff():
    eu, eu_stub = stubbed_client(EU)
    us, us_stub = stubbed_client(US)
    want_eu, want_us = default_policy(EU), default_policy(US)
    eu_stub.add_response(
        "get_data_protection_policy",
        {"logGroupIdentifier": "/a", "policyDocument": json.dumps(want_eu)},
        {"logGroupIdentifier": "/a"},
    )
    us_stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/b"}, {"logGroupIdentifier": "/b"}
    )
    us_stub.add_response(
        "put_data_protection_policy",
        {"logGroupIdentifier": "/b", "policyDocument": json.dumps(want_us)},
        {"logGroupIdentifier": "/b", "policyDocument": json.dumps(want_us)},
    )
    result = run_module(
        mod,
        {"log_groups": [{"name": "/a", "region": EU}, {"name": "/b", "region": US}], "_ansible_diff": True},
        {EU: eu, US: us},
    )
    assert not result.failed
    assert result.result["changed"] is True
    assert {(g["region"], g["name"], g["changed"]) for g in result.result["log_groups"]} == {
        (EU, "/a", False),
        (US, "/b", True),
    }
    assert result.result["diff"] == {"before": {f"{US}:/b": None}, "after": {f"{US}:/b": want_us}}
    eu_stub.assert_no_pending_responses()
    us_stub.assert_no_pending_responses()


def test_module_reports_unimplemented_endpoint():
    eu, stub = stubbed_client(EU)
    stub.add_client_error(
        "get_data_protection_policy", service_error_code="500", service_message="<html>", http_status_code=500
    )
    result = run_module(mod, {"log_groups": [{"name": "/a"}]}, {EU: eu})
    assert result.failed
    assert result.result["not_implemented"] is True
    assert result.result["changed"] is False  # nothing was written
    assert result.result["region_counts"] == {"done": 0, "refused": 0, "failed": 1}


def test_module_failing_after_a_write_reports_changed_naming_the_region():
    """Issue 10: a region that failed after a write must report changed."""
    eu, stub = stubbed_client(EU)
    want = default_policy(EU)
    stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/a"}, {"logGroupIdentifier": "/a"}
    )
    stub.add_response(
        "put_data_protection_policy",
        {"logGroupIdentifier": "/a", "policyDocument": json.dumps(want)},
        {"logGroupIdentifier": "/a", "policyDocument": json.dumps(want)},
    )
    stub.add_client_error("get_data_protection_policy", service_error_code="AccessDeniedException")
    us, us_stub = stubbed_client(US)
    us_stub.add_response(
        "get_data_protection_policy", {"logGroupIdentifier": "/c"}, {"logGroupIdentifier": "/c"}
    )
    us_stub.add_client_error("put_data_protection_policy", service_error_code="OperationAbortedException")
    result = run_module(
        mod,
        {"log_groups": [{"name": "/a"}, {"name": "/b"}, {"name": "/c", "region": US}]},
        {EU: eu, US: us},
    )
    assert result.failed
    assert result.result["changed"] is True
    assert result.result["failed_regions"] == [EU, US]
    assert (
        "AccessDeniedException" in result.result["msg"]
        and "OperationAbortedException" in result.result["msg"]
    )
    assert result.result["region_counts"] == {"done": 0, "refused": 0, "failed": 2}
    stub.assert_no_pending_responses()


def test_unknown_region_is_rejected_before_any_call(moto_endpoint):
    """Issue 10 item 6: checked against the embedded AWS's DescribeRegions, before any policy call."""
    result = run_module(
        mod,
        {
            "log_groups": [{"name": "/a", "region": EU}, {"name": "/b", "region": "us-eats-1"}],
            "variable_names": {"log_groups": "log_groups_default_region"},
        },
        None,
    )
    assert result.failed
    assert "us-eats-1 in log_groups_default_region (did you mean us-east-1?)" in result.result["msg"]
    assert "not_implemented" not in result.result  # no data protection call was made at all
