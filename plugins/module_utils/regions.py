# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fan one piece of work out over many AWS regions in a single module run.

An Ansible task costs far more than an API call, so the modules of this collection take a list of
regions and work them concurrently (all at once by default) instead of asking the user to loop one
task per region.

What a region's error means is decided here, the same way for every module:

* A region counts as *refused* only when the account has not enabled it (an opt-in region whose
  ``OptInStatus`` in ec2:DescribeRegions is ``not-opted-in``) and its error has the shape such regions
  give (``OPT_IN_REFUSALS``), and only when the module found the region itself. A region the user
  named is never refused: its error fails the run.
* Any other error (access denied, throttling that outlasted the retries, a lost endpoint...) fails the
  run after all regions ran, naming each region and its error.
* Regions the user names are checked against ec2:DescribeRegions before anything is written: a typo
  like ``eu-wset-1`` is rejected with the name of the variable it came from.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from threading import Lock
from typing import Any, Callable

try:
    import boto3
    import botocore
    import botocore.config
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    boto3 = None
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import get_aws_connection_info
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils.backoff import aws_error_code, retry_policy

# What a region the account has not opted in to answers (measured on AWS: the credentials are not
# valid there until the region is enabled). Only these errors, in such a region, are a refusal.
OPT_IN_REFUSALS: frozenset[str] = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "OptInRequired"}
)
NOT_OPTED_IN = "not-opted-in"
ENABLED_STATUSES: tuple[str, ...] = ("opt-in-not-required", "opted-in")

# All regions at once: a region's work is a few calls in a row, so waves of regions multiply the
# run time. 64 is above the 38 regions AWS has and bounds the threads should that number grow.
MAX_CONCURRENCY = 64
DEFAULT_WORKERS = MAX_CONCURRENCY
# The most calls one client has in flight at once (instance_profile_attachment's writes in a region).
# botocore keeps 10 connections per client by default and drops the rest after each call ("Connection
# pool is full, discarding connection"): each call over 10 then opens a new TLS connection, two more
# round trips to a far region. The pool holds what the collection sends at once.
CALLS_IN_FLIGHT_PER_CLIENT = 25


def region_options() -> dict[str, dict[str, Any]]:
    """The argument spec of the options every multi-region module takes, as the doc fragment
    gdpr.aws_monitoring.regions documents them (fresh dicts: AnsibleModule may fill in defaults)."""
    return {
        "max_concurrency": {"type": "int", "default": 0},
        "variable_names": {"type": "dict", "default": {}},
    }


def retry_decorator() -> Callable:
    """The collection's retry policy (module_utils/backoff.py) as a decorator for client calls."""
    return retry_policy()


def concurrency(requested: int | None, regions: int) -> int:
    """Regions worked at once: all of them (up to MAX_CONCURRENCY) unless ``requested`` is lower.

    ``requested`` is the modules' ``max_concurrency``; 0 or None means no limit of the user's.
    """
    limit = requested if requested and requested > 0 else MAX_CONCURRENCY
    return max(1, min(limit, regions))


@dataclass
class RegionOutcome:
    region: str
    result: Any = None
    error: str | None = None
    refused: bool = False
    exception: BaseException | None = field(default=None, repr=False)
    # The region failed after a write call had been sent (it may have gone through): the run must
    # report changed, and such a region is never a refusal (it answered before).
    wrote: bool = False


class PartialWrite(Exception):
    """A region's work failed after it sent a write: ``raise PartialWrite(exc) from exc``.

    ``run_in_regions`` unwraps it: the outcome's ``error`` and ``exception`` are those of ``cause``
    (so error codes and messages read as without the wrapper) and ``wrote`` is true.
    """

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def enabled_regions(module: Any, ec2: Any = None) -> list[str]:
    """Regions enabled for the account (opted-in or opt-in not required), from DescribeRegions.

    ``ec2``: a retrying EC2 client to use (e.g. from RegionalClients); default one from ``module``.
    """
    ec2 = ec2 or RegionalClients(module)("ec2", module.region or "us-east-1")
    try:
        answer = ec2.describe_regions(
            AllRegions=False,
            Filters=[{"Name": "opt-in-status", "Values": list(ENABLED_STATUSES)}],
            aws_retry=True,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not list the account's enabled regions (ec2:DescribeRegions)")
    return sorted(r["RegionName"] for r in answer.get("Regions", []))


def region_statuses(ec2: Any) -> dict[str, str]:
    """Every region AWS has for this account's partition -> its ``OptInStatus``."""
    answer = ec2.describe_regions(AllRegions=True, aws_retry=True)
    return {r["RegionName"]: r.get("OptInStatus", ENABLED_STATUSES[0]) for r in answer.get("Regions", [])}


def unknown_regions_message(sources: Mapping[str, Iterable[str]], known: Iterable[str]) -> str | None:
    """None when every region is known; else an error naming each unknown region and where it came from.

    ``sources``: label (the variable or option the user set) -> the regions taken from it.
    """
    known = sorted(known)
    problems = []
    for label, regions in sources.items():
        for region in sorted({r for r in regions if r not in known}):
            close = difflib.get_close_matches(region, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{region} in {label}{hint}")
    if not problems:
        return None
    return (
        "Unknown AWS region(s): "
        + "; ".join(problems)
        + ". ec2:DescribeRegions lists: "
        + ", ".join(known)
        + ". Nothing was changed."
    )


def check_regions(module: Any, ec2: Any, sources: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Fail the module (before any write) on regions AWS does not know; returns region -> OptInStatus."""
    try:
        statuses = region_statuses(ec2)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(
            exc, msg="Could not list the regions to check the given ones (ec2:DescribeRegions)"
        )
    message = unknown_regions_message(sources, statuses)
    if message:
        module.fail_json(
            msg=message, unknown_regions=sorted({r for rs in sources.values() for r in rs} - set(statuses))
        )
    return statuses


def variable_name(names: Mapping[str, str] | None, option: str) -> str:
    """What to call a module option in a message: the caller's variable for it, if it said."""
    return (names or {}).get(option) or option


class RegionalClients:
    """Retrying boto3 clients for any service and region, all made from ONE boto3 session.

    ``module.client()`` builds a fresh boto3 session per call, and each fresh session parses the
    service model again: measured ~150 ms per client, i.e. ~6 s for moto's 38 regions, more than the
    whole API work. One shared session loads each model once (~8 ms per further client).
    Credentials, profile, endpoint (``endpoint_url``/``AWS_URL``) and ``aws_config`` come from the
    same ``get_aws_connection_info`` that ``module.client()`` uses.

    Safe to call from ``run_in_regions`` workers: a boto3 session is not thread-safe, so clients are
    made one at a time under a lock (the clients themselves are thread-safe). Making them inside the
    workers lets one region's requests run while the next region's client is being built.
    """

    def __init__(self, module: Any, retry: Callable | None = None) -> None:
        _region, self._endpoint_url, params = get_aws_connection_info(module)
        params = dict(params)
        self._session = boto3.session.Session(profile_name=params.pop("profile_name", None))
        # botocore's own retries off: RetryPolicy (backoff.py) is the one policy, so attempts and
        # time spent are bounded where it says (botocore's 3 or 5 attempts would multiply them).
        config = botocore.config.Config(
            user_agent_extra="gdpr.aws_monitoring",
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=CALLS_IN_FLIGHT_PER_CLIENT,
        )
        for key in ("config", "aws_config"):
            extra = params.pop(key, None)
            if isinstance(extra, dict):
                extra = botocore.config.Config(**extra)
            if extra is not None:
                config = config.merge(extra)
        self._config = config
        self._params = params
        self._retry = retry or retry_decorator()
        self._lock = Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def known_regions(self, service: str, region: str) -> list[str]:
        """Regions botocore lists for ``service`` in ``region``'s partition (no API call)."""
        with self._lock:
            partition = self._session.get_partition_for_region(region)
            return list(self._session.get_available_regions(service, partition_name=partition))

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                    **self._params,
                )
                if any(known == service for known, _region in self._clients):
                    load_pagination(client)
                self._clients[key] = RetryingBotoClientWrapper(client, self._retry)
            return self._clients[key]


def load_pagination(client: Any) -> None:
    """Load the service's paginator model through ``client`` once, before a fan-out pages with it.

    Each client reads its paginator model on its first ``get_paginator`` from the session's loader,
    which caches it only once a read has finished: 38 region threads paging at the same moment all
    miss that cache and parse the model at once, under the GIL. Measured through the latency proxy:
    38 regions' ListDetectors took 1.1-2.1 s each instead of 0.16 s. Called for every client of a
    service after its first (a fan-out is starting): the first such call reads the model (about 9 ms),
    the others find it in the loader's cache. One-region runs do not call it.
    """
    with suppress(Exception):  # best effort: a client without paginators pages nothing anyway
        client.can_paginate(next(iter(client.meta.method_to_api_mapping)))


def checked_clients(module: Any, service: str, regions: list[str], option: str) -> dict[str, Any]:
    """One retrying ``service`` client per region, all from one boto3 session, made before the fan-out.

    The regions are checked against ec2:DescribeRegions first: nothing is read or written in a region
    AWS does not know (a typo fails naming ``option``, or the caller's variable for it).
    """
    clients = RegionalClients(module)
    home = account_region(clients, [module.region, *regions])
    names = module.params["variable_names"]
    check_regions(module, clients("ec2", home), {variable_name(names, option): regions})
    return {region: clients(service, region) for region in regions}


def account_region(clients: RegionalClients, candidates: list[str | None]) -> str:
    """Region for the account-wide calls (DescribeRegions, STS, IAM): the first candidate botocore
    knows, so a typo in a region option does not send them to an endpoint that does not exist."""
    given = [c for c in candidates if c]
    try:
        known = set(clients.known_regions("ec2", given[0] if given else "us-east-1"))
    except Exception:  # an unknown partition: keep the user's choice
        known = set(given)
    return next((c for c in given if c in known), given[0] if given else "us-east-1")


def regional_clients(
    module: Any,
    service: str,
    regions: list[str],
    retry: Callable | None = None,
) -> dict[str, Any]:
    """One retrying client per region, all from one boto3 session (see RegionalClients)."""
    clients = RegionalClients(module, retry)
    return {region: clients(service, region) for region in regions}


def error_code(exc: BaseException) -> str:
    return aws_error_code(exc)


def is_refusal(exc: BaseException | None, status: str | None) -> bool:
    """The error of a region the account has not enabled, as such regions answer (see module doc)."""
    return exc is not None and status == NOT_OPTED_IN and error_code(exc) in OPT_IN_REFUSALS


def settle_refusals(outcomes: list[RegionOutcome], statuses: Callable[[], Mapping[str, str]]) -> None:
    """Mark as refused the failed regions the account has not opted in to (regions the module found).

    ``statuses`` is called (one ec2:DescribeRegions) only if some error has a refusal's shape: it is
    asked after the errors, so a region disabled during the run is recognised too. A region that
    failed after a write is not a refusal: it answered before.
    """
    shaped = [o for o in outcomes if o.error and not o.wrote and error_code(o.exception) in OPT_IN_REFUSALS]
    if not shaped:
        return
    try:
        known = statuses()
    except Exception:  # without the account's word, the errors stay failures: never assume a refusal
        return
    for outcome in shaped:
        outcome.refused = is_refusal(outcome.exception, known.get(outcome.region))


def region_counts(outcomes: list[RegionOutcome]) -> dict[str, int]:
    """How many regions were done, refused and failed (for the module result and the site summary)."""
    refused = sum(1 for o in outcomes if o.error and o.refused)
    failed = sum(1 for o in outcomes if o.error and not o.refused)
    return {"done": len(outcomes) - refused - failed, "refused": refused, "failed": failed}


@dataclass
class RegionReport:
    """A fan-out's outcomes sorted for a module result (see ``sort_outcomes``)."""

    done: list[RegionOutcome]
    skipped: list[dict[str, str]]
    failed: list[dict[str, str]]
    warnings: list[str]
    counts: dict[str, int]
    # A failed region had sent a write (it may have gone through): the run reports changed.
    wrote: bool

    def result(self, changed: bool, diff: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """The keys every multi-region module returns, around the module's own ``fields``."""
        return {
            "changed": changed or self.wrote,
            **fields,
            "skipped_regions": self.skipped,
            "region_counts": self.counts,
            "diff": diff,
        }


def sort_outcomes(
    outcomes: list[RegionOutcome],
    what: str,
    statuses: Mapping[str, str] | None = None,
    label: str = "regions",
) -> RegionReport:
    """Refused regions become skipped (with a warning), other errors failed; the rest are done.

    ``what`` names the work in messages ("GuardDuty alerts"). ``statuses`` (region -> OptInStatus, as
    ``check_regions`` returns for named regions) adds to a failed region the account has not enabled
    what to do about it, naming ``label`` (the variable the regions came from).
    """
    done, skipped, failed, warnings = [], [], [], []
    for outcome in outcomes:
        if outcome.error and outcome.refused:
            skipped.append({"region": outcome.region, "reason": outcome.error})
            warnings.append(f"{what}: skipped region {outcome.region}: not opted in: {outcome.error}")
        elif outcome.error:
            error = outcome.error
            if (statuses or {}).get(outcome.region) == NOT_OPTED_IN:
                todo = f"enable it, or leave it out of {label}"
                error += f" (the account has not opted in to {outcome.region}: {todo})"
            failed.append({"region": outcome.region, "error": error})
        else:
            done.append(outcome)
    wrote = any(o.wrote for o in outcomes if o.error)
    return RegionReport(done, skipped, failed, warnings, region_counts(outcomes), wrote)


def failure_message(what: str, failed: list[dict[str, str]]) -> str:
    """One line naming each failed region and its error."""
    return f"{what} failed in " + "; ".join(f"{f['region']}: {f['error']}" for f in failed)


def finish(
    module: Any, what: str, result: dict[str, Any], warnings: list[str], failed: list[dict[str, str]]
) -> None:
    """End a multi-region module: warn, keep the diff only under --diff, fail naming every failed
    region (after all regions ran, with the whole result), else exit with the result."""
    for warning in warnings:
        module.warn(warning)
    if not module._diff:
        result.pop("diff", None)
    if failed:
        module.fail_json(msg=failure_message(what, failed), failed_regions=failed, **result)
    module.exit_json(**result)


def target_regions(
    module: Any, ec2: Any, named: list[str], sources: Mapping[str, Iterable[str]] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The regions a run works, and every region's OptInStatus if any region was checked (else {}).

    ``named`` (the module's ``regions`` option): checked against ec2:DescribeRegions before anything
    is written, a typo failing with the caller's variable name. Empty: every region enabled for the
    account; only those may later be refusals (``settle_refusals``). ``sources``: other options whose
    regions are checked in the same call (label -> regions).
    """
    checked = dict(sources or {})
    if named:
        checked[variable_name(module.params.get("variable_names"), "regions")] = named
    statuses = check_regions(module, ec2, checked) if checked else {}
    regions = sorted(set(named)) if named else enabled_regions(module, ec2)
    return regions, statuses


def run_in_regions(
    regions: list[str],
    work: Callable[[str], Any],
    workers: int = DEFAULT_WORKERS,
) -> list[RegionOutcome]:
    """Run ``work(region)`` for every region concurrently; outcomes come back in region order.

    ``work`` must not call ``module.exit_json``/``fail_json``: exceptions are captured per region
    so one region's failure does not hide what happened in the others. No outcome is a refusal
    until ``settle_refusals`` says so.
    """

    def _one(region: str) -> RegionOutcome:
        try:
            return RegionOutcome(region=region, result=work(region))
        except PartialWrite as partial:
            exc = partial.cause
            return RegionOutcome(
                region=region, error=f"{type(exc).__name__}: {exc}", exception=exc, wrote=True
            )
        except Exception as exc:  # reported per region by the caller
            return RegionOutcome(region=region, error=f"{type(exc).__name__}: {exc}", exception=exc)

    if not regions:
        return []
    with ThreadPoolExecutor(max_workers=concurrency(workers, len(regions))) as pool:
        return list(pool.map(_one, regions))
