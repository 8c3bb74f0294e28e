# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fan one piece of work out over many AWS regions in a single module run.

An Ansible task costs far more than an API call, so the modules of this collection take a list of
regions and work them concurrently instead of asking the user to loop one task per region. A region
that refuses (not opted in, credentials not valid there, service not offered) is reported and
skipped; the other regions still succeed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper

# Error codes that mean "this region is not usable for this account", not "the module is wrong".
REGION_REFUSALS: frozenset[str] = frozenset(
    {
        "AuthFailure",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "OptInRequired",
        "SubscriptionRequiredException",
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "InvalidSignatureException",
    }
)

DEFAULT_WORKERS = 16


def retry_decorator(retries: int = 10) -> Callable:
    """Jittered exponential backoff on throttling and transient errors."""
    return AWSRetry.jittered_backoff(retries=retries, delay=1, max_delay=30)


@dataclass
class RegionOutcome:
    region: str
    result: Any = None
    error: str | None = None
    refused: bool = False
    exception: BaseException | None = field(default=None, repr=False)


def enabled_regions(module: Any, ec2: Any = None) -> list[str]:
    """Regions enabled for the account (opted-in or opt-in not required), from DescribeRegions.

    ``ec2``: a retrying EC2 client to use (e.g. from RegionalClients); default ``module.client``.
    """
    ec2 = ec2 or module.client("ec2", retry_decorator=retry_decorator())
    try:
        answer = ec2.describe_regions(
            AllRegions=False,
            Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}],
            aws_retry=True,
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        module.fail_json_aws(exc, msg="Could not list the account's enabled regions (ec2:DescribeRegions)")
    return sorted(r["RegionName"] for r in answer.get("Regions", []))


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
        config = botocore.config.Config(user_agent_extra="gdpr.aws_monitoring")
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
                self._clients[key] = RetryingBotoClientWrapper(client, self._retry)
            return self._clients[key]


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
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def is_refusal(exc: BaseException) -> bool:
    if botocore is not None and isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return True
    return error_code(exc) in REGION_REFUSALS


def run_in_regions(
    regions: list[str],
    work: Callable[[str], Any],
    workers: int = DEFAULT_WORKERS,
) -> list[RegionOutcome]:
    """Run ``work(region)`` for every region concurrently; outcomes come back in region order.

    ``work`` must not call ``module.exit_json``/``fail_json``: exceptions are captured per region
    so one region's failure does not hide what happened in the others.
    """

    def _one(region: str) -> RegionOutcome:
        try:
            return RegionOutcome(region=region, result=work(region))
        except Exception as exc:  # reported per region by the caller
            return RegionOutcome(
                region=region,
                error=f"{type(exc).__name__}: {exc}",
                refused=is_refusal(exc),
                exception=exc,
            )

    if not regions:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(regions)))) as pool:
        return list(pool.map(_one, regions))
