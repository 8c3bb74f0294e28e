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


# --- the end of every multi-region module: sort_outcomes, RegionReport.result, finish -------------
def test_outcomes_sort_into_done_skipped_and_failed_with_what_to_do_for_a_named_disabled_region():
    outcomes = failing(
        {
            "me-south-1": client_error("UnrecognizedClientException"),
            "af-south-1": client_error("AccessDenied"),
            "ap-east-1": regions.PartialWrite(client_error("Throttling")),
        }
    )
    regions.settle_refusals(outcomes, lambda: {**STATUSES, "ap-east-1": "opted-in"})
    named = {"af-south-1": "not-opted-in"}  # as check_regions answers for regions the user named
    report = regions.sort_outcomes(outcomes, "GuardDuty alerts", named, "guardduty_regions")
    assert [o.region for o in report.done] == ["eu-west-1"]
    assert report.skipped == [{"region": "me-south-1", "reason": outcomes[3].error}]
    assert report.warnings == [
        f"GuardDuty alerts: skipped region me-south-1: not opted in: {outcomes[3].error}"
    ]
    failed = {f["region"]: f["error"] for f in report.failed}
    assert failed["af-south-1"].endswith(
        "(the account has not opted in to af-south-1: enable it, or leave it out of guardduty_regions)"
    )
    assert failed["ap-east-1"] == outcomes[1].error  # enabled: no hint
    assert report.counts == {"done": 1, "refused": 1, "failed": 2}
    assert report.wrote is True  # ap-east-1 failed after a write


def test_report_result_is_changed_when_a_failed_region_had_written():
    clean = regions.sort_outcomes(failing({}), "Flow logs")
    assert clean.result(False, {"before": {}}, flow_logs=[]) == {
        "changed": False,
        "flow_logs": [],
        "skipped_regions": [],
        "region_counts": {"done": 1, "refused": 0, "failed": 0},
        "diff": {"before": {}},
    }
    assert clean.result(True, {})["changed"] is True
    wrote = regions.sort_outcomes(
        failing({"ap-east-1": regions.PartialWrite(client_error("X"))}), "Flow logs"
    )
    assert wrote.result(False, {})["changed"] is True


class FinishingModule:
    """The AnsibleModule calls ``finish`` makes, recorded; fail_json/exit_json end the test's run."""

    def __init__(self, diff: bool) -> None:
        self._diff = diff
        self.warnings: list[str] = []
        self.ended: tuple[str, dict[str, Any]] | None = None

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def fail_json(self, **kwargs: Any) -> None:
        self.ended = ("fail", kwargs)
        raise Failed(kwargs)

    def exit_json(self, **kwargs: Any) -> None:
        self.ended = ("exit", kwargs)
        raise Failed(kwargs)


def test_finish_warns_drops_the_diff_without_diff_mode_and_exits():
    module = FinishingModule(diff=False)
    with pytest.raises(Failed):
        regions.finish(module, "AWS Config", {"changed": True, "diff": {"a": 1}}, ["w1", "w2"], [])
    assert module.warnings == ["w1", "w2"]
    assert module.ended == ("exit", {"changed": True})
    module = FinishingModule(diff=True)
    with pytest.raises(Failed):
        regions.finish(module, "AWS Config", {"changed": False, "diff": {"a": 1}}, [], [])
    assert module.ended == ("exit", {"changed": False, "diff": {"a": 1}})


def test_finish_fails_naming_every_failed_region_with_the_whole_result():
    module = FinishingModule(diff=False)
    failed = [{"region": "eu-west-1", "error": "AccessDenied: no"}, {"region": "us-east-1", "error": "lost"}]
    with pytest.raises(Failed):
        regions.finish(module, "GuardDuty", {"changed": True, "detectors": [1], "diff": {}}, [], failed)
    kind, result = module.ended
    assert kind == "fail"
    assert result["msg"] == "GuardDuty failed in eu-west-1: AccessDenied: no; us-east-1: lost"
    assert result["failed_regions"] == failed
    assert result["changed"] is True and result["detectors"] == [1] and "diff" not in result


# --- target_regions: the named regions (checked) or every enabled one -----------------------------
class DescribingEc2:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def describe_regions(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        listed = STATUSES.items()
        if not kwargs["AllRegions"]:
            wanted = kwargs["Filters"][0]["Values"]
            listed = [(r, s) for r, s in listed if s in wanted]
        return {"Regions": [{"RegionName": r, "OptInStatus": s} for r, s in listed]}


def checking_module(variable_names: dict[str, str]) -> SimpleNamespace:
    def fail_json(**kwargs: Any) -> None:
        raise Failed(kwargs)

    return SimpleNamespace(
        params={"variable_names": variable_names}, fail_json=fail_json, fail_json_aws=None, region=None
    )


def test_target_regions_named_are_checked_sorted_once_and_come_with_their_statuses():
    ec2 = DescribingEc2()
    module = checking_module({})
    assert regions.target_regions(module, ec2, ["me-south-1", "eu-west-1", "me-south-1"]) == (
        ["eu-west-1", "me-south-1"],
        STATUSES,
    )
    assert [c["AllRegions"] for c in ec2.calls] == [True]


def test_target_regions_without_names_are_the_enabled_ones_and_check_the_other_sources():
    ec2 = DescribingEc2()
    module = checking_module({})
    assert regions.target_regions(module, ec2, []) == (["af-south-1", "eu-west-1"], {})
    assert [c["AllRegions"] for c in ec2.calls] == [False]  # nothing named: nothing to check
    regions_, statuses = regions.target_regions(module, ec2, None, {"home_region": ["eu-west-1"]})
    assert (regions_, statuses) == (["af-south-1", "eu-west-1"], STATUSES)


def test_target_regions_refuse_a_typo_naming_the_callers_variable_before_listing_regions():
    ec2 = DescribingEc2()
    module = checking_module({"regions": "config_recorder_regions"})
    with pytest.raises(Failed) as info:
        regions.target_regions(module, ec2, ["eu-wset-1"], {"home_region": ["eu-west-1"]})
    assert "eu-wset-1 in config_recorder_regions (did you mean eu-west-1?)" in info.value.args[0]["msg"]
    assert [c["AllRegions"] for c in ec2.calls] == [True]
