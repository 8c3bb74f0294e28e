"""What a region's error means, unknown regions, and how many regions run at once (regions.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import botocore.exceptions
import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import regions


def client_error(code: str, status: int = 403) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def failing(errors: dict[str, BaseException]) -> list[regions.RegionOutcome]:
    def work(region: str) -> str:
        if region in errors:
            raise errors[region]
        return "done"

    return regions.run_in_regions(sorted({"eu-west-1", *errors}), work)


STATUSES = {"eu-west-1": "opt-in-not-required", "me-south-1": "not-opted-in", "af-south-1": "opted-in"}


@pytest.mark.parametrize("code", sorted(regions.OPT_IN_REFUSALS))
def test_refusal_only_in_a_region_not_opted_in(code):
    outcomes = failing({"me-south-1": client_error(code), "af-south-1": client_error(code)})
    regions.settle_refusals(outcomes, lambda: STATUSES)
    by_region = {o.region: o for o in outcomes}
    assert by_region["me-south-1"].refused
    assert not by_region["af-south-1"].refused  # enabled: the credentials are wrong, that is a failure
    assert regions.region_counts(outcomes) == {"done": 1, "refused": 1, "failed": 1}


@pytest.mark.parametrize(
    "error",
    [
        client_error("AccessDenied"),
        client_error("AccessDeniedException"),
        client_error("UnauthorizedOperation"),
        client_error("SubscriptionRequiredException"),
        client_error("InvalidSignatureException"),
        botocore.exceptions.EndpointConnectionError(
            endpoint_url="https://guardduty.me-south-1.amazonaws.com"
        ),
    ],
    ids=lambda e: type(e).__name__ + str(getattr(e, "response", "")),
)
def test_denials_and_outages_are_never_refusals_and_the_account_is_not_even_asked(error):
    """Issue 10: these passed as "region refused" and the run ended rc=0."""
    asked = []
    outcomes = failing({"me-south-1": error})
    regions.settle_refusals(outcomes, lambda: asked.append(1) or STATUSES)
    assert asked == []
    assert not any(o.refused for o in outcomes)
    assert regions.region_counts(outcomes) == {"done": 1, "refused": 0, "failed": 1}


def test_no_refusal_after_a_write_or_when_the_account_cannot_say():
    cause = client_error("UnrecognizedClientException")
    outcomes = failing({"me-south-1": regions.PartialWrite(cause)})
    regions.settle_refusals(outcomes, lambda: STATUSES)
    assert outcomes[1].wrote and not outcomes[1].refused

    def broken() -> dict[str, str]:
        raise client_error("AccessDenied")

    outcomes = failing({"me-south-1": client_error("UnrecognizedClientException")})
    regions.settle_refusals(outcomes, broken)
    assert not any(o.refused for o in outcomes)


def test_run_in_regions_itself_never_calls_an_error_a_refusal():
    outcomes = failing({"me-south-1": client_error("UnrecognizedClientException")})
    assert [o.refused for o in outcomes] == [False, False]


def test_unknown_region_message_names_the_variable_and_suggests():
    known = ["eu-west-1", "eu-west-2", "us-east-1"]
    assert regions.unknown_regions_message({"guardduty_regions": ["eu-west-1"]}, known) is None
    message = regions.unknown_regions_message(
        {"guardduty_regions": ["eu-wset-1", "eu-west-1"], "guardduty_region": ["xx-nowhere-9"]}, known
    )
    assert "eu-wset-1 in guardduty_regions (did you mean eu-west-1?)" in message
    assert "xx-nowhere-9 in guardduty_region" in message
    assert "Nothing was changed" in message


class Failed(Exception):
    pass


def test_check_regions_fails_the_module_before_anything_else():
    def fail_json(**kwargs: Any) -> None:
        raise Failed(kwargs)

    module = SimpleNamespace(fail_json=fail_json, fail_json_aws=None)

    class Ec2:
        def describe_regions(self, **kwargs: Any) -> dict[str, Any]:
            assert kwargs["AllRegions"] is True  # opt-in regions not enabled are regions too
            return {"Regions": [{"RegionName": r, "OptInStatus": s} for r, s in STATUSES.items()]}

    assert regions.check_regions(module, Ec2(), {"regions": ["me-south-1"]}) == STATUSES
    with pytest.raises(Failed) as info:
        regions.check_regions(module, Ec2(), {"agent_iam_regions": ["eu-wset-1", "eu-west-1"]})
    assert info.value.args[0]["unknown_regions"] == ["eu-wset-1"]
    assert "eu-wset-1 in agent_iam_regions" in info.value.args[0]["msg"]


def test_variable_name_falls_back_to_the_option():
    assert regions.variable_name({"regions": "guardduty_regions"}, "regions") == "guardduty_regions"
    assert regions.variable_name({}, "region") == "region"
    assert regions.variable_name(None, "region") == "region"


def test_concurrency_is_every_region_unless_the_user_limits_it():
    assert regions.concurrency(None, 38) == 38
    assert regions.concurrency(0, 38) == 38
    assert regions.concurrency(4, 38) == 4
    assert regions.concurrency(100, 3) == 3
    assert regions.concurrency(None, 500) == regions.MAX_CONCURRENCY
    assert regions.DEFAULT_WORKERS >= 38


def test_all_38_regions_run_at_the_same_time_by_default():
    """Issue 16: with 16 workers, 38 regions went in three waves. Every worker waits at a barrier
    for all 38: that only passes when all 38 regions run at once."""
    names = [f"r-{n}" for n in range(38)]
    barrier = threading.Barrier(len(names), timeout=10)
    outcomes = regions.run_in_regions(names, lambda r: barrier.wait() >= 0)
    assert [o.error for o in outcomes] == [None] * 38


def test_a_lower_limit_is_kept():
    names = [f"r-{n}" for n in range(12)]
    running = [0]
    peak = [0]
    lock = threading.Lock()
    gate = threading.Event()

    def work(_region: str) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        gate.wait(0.05)
        with lock:
            running[0] -= 1

    regions.run_in_regions(names, work, workers=3)
    assert peak[0] == 3


def test_a_partial_write_is_a_typed_result_that_reads_as_its_cause():
    """The region's error, exception and code are the cause's; only ``wrote`` tells the write."""
    cause = client_error("AccessDenied")
    outcomes = failing({"me-south-1": regions.PartialWrite(cause)})
    by_region = {o.region: o for o in outcomes}
    assert by_region["me-south-1"].exception is cause
    assert by_region["me-south-1"].error == f"ClientError: {cause}"
    assert regions.error_code(by_region["me-south-1"].exception) == "AccessDenied"
    assert by_region["me-south-1"].wrote is True
    assert by_region["eu-west-1"].wrote is False
    # The same error without the wrapper: no write, and nothing is set on the exception itself.
    plain = failing({"me-south-1": cause})
    assert plain[1].wrote is False and not hasattr(cause, "gdpr_after_write")
