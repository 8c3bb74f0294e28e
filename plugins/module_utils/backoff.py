# -*- coding: utf-8 -*-
# Copyright: contributors to gdpr.aws_monitoring
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one retry policy of this collection's AWS calls: throttling and transient errors only.

Why not amazon.aws's ``AWSRetry``: it does not retry ``ThrottlingException`` (how GuardDuty and
CloudWatch Logs throttle), HTTP 5xx answers with other codes, nor connection resets (those are
botocore exceptions, not ``ClientError``). Why not botocore's own retries: they stop after 3
(standard) or 5 (legacy) attempts, which a throttled fan-out over 38 regions exhausts. So clients
made by ``RegionalClients`` have botocore's retries off and every call goes through this policy
instead: one place decides what is retried, how often and for how long.

A retry sleeps a random time between 0 and ``min(cap, base * 2**n)`` ("full jitter"): concurrent
regions that were throttled together do not come back together. A call gives up after
``attempts`` attempts or once the next sleep would pass ``budget`` seconds since its first attempt,
whichever comes first, and then raises the last error.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable

try:
    import botocore.exceptions
except ImportError:  # AnsibleAWSModule reports the missing SDK itself
    botocore = None

# Error codes AWS services use for "slow down" or "try again"; never for a wrong request.
RETRYABLE_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "EC2ThrottledException",
        "SlowDown",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "Unavailable",
    }
)
# What an endpoint answers for an operation it does not implement, one set for every module: moto
# answers HTTP 500 with an HTML page (botocore's code is then the bare "500"), some moto services a
# bare 404, other endpoints 501 or a named code (UnknownOperationException for JSON services,
# InvalidAction for query ones, InternalFailure for an unnamed 500). Real AWS implements every call
# this collection makes, so these only ever explain a failure, or (evidence) turn a row UNKNOWN. The
# 5xx ones are also retried (is_transient) where the call is: they count once the retries are spent.
NOT_IMPLEMENTED_CODES: frozenset[str] = frozenset(
    {"500", "501", "404", "NotImplemented", "InternalFailure", "UnknownOperationException", "InvalidAction"}
)
# Attempts per call, first included.
MAX_ATTEMPTS = 10
# Upper bound of the first retry's sleep; it doubles with every further retry...
BASE_DELAY = 0.25
# ... up to this many seconds per sleep.
MAX_DELAY = 20.0
# No retry starts later than this many seconds after the call's first attempt.
TIME_BUDGET = 120.0


def http_status(exc: BaseException) -> int:
    response = getattr(exc, "response", None) or {}
    try:
        return int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def aws_error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def is_not_implemented(exc: BaseException) -> bool:
    """Whether ``exc`` is an endpoint's answer to an operation it does not implement."""
    return aws_error_code(exc) in NOT_IMPLEMENTED_CODES


def is_transient(exc: BaseException, extra_codes: frozenset[str] = frozenset()) -> bool:
    """Whether ``exc`` is worth the same request again: throttling, 5xx, a lost connection."""
    if botocore is None:
        return False
    if isinstance(exc, botocore.exceptions.ClientError):
        code = aws_error_code(exc)
        status = http_status(exc)
        if code in RETRYABLE_CODES or code in extra_codes or status in (429, 502, 503, 504):
            return True
        # Any other 5xx that names an AWS error is the service's own failure: worth another try.
        # A bare "500" (a body botocore could not parse) is an endpoint that does not implement the
        # call (moto answers so): asking again cannot help.
        return status >= 500 and not code.isdigit()
    if isinstance(exc, botocore.exceptions.SSLError):
        return False  # a certificate problem does not go away by asking again
    # EndpointConnectionError, ConnectTimeoutError (ConnectionError); ConnectionClosedError and
    # ReadTimeoutError (HTTPClientError): the connection was refused, reset or timed out.
    return isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError))


@dataclass(frozen=True)
class RetryPolicy:
    """A decorator: ``RetryPolicy()(client.call)(**params)`` retries transient errors of the call.

    Usable wherever amazon.aws expects a retry decorator (``RetryingBotoClientWrapper``,
    ``paginated_query_with_retries``). ``sleep``, ``clock`` and ``rand`` are there for tests.
    """

    attempts: int = MAX_ATTEMPTS
    base: float = BASE_DELAY
    cap: float = MAX_DELAY
    budget: float = TIME_BUDGET
    extra_codes: frozenset[str] = frozenset()
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    rand: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, retry: int) -> float:
        """Sleep before retry number ``retry`` (0 = the first retry)."""
        return self.rand() * min(self.cap, self.base * (2**retry))

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        deadline = self.clock() + self.budget
        attempt = 1
        while True:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc, self.extra_codes) or attempt >= self.attempts:
                    raise
                pause = self.delay(attempt - 1)
                if self.clock() + pause > deadline:
                    raise
                self.sleep(pause)
                attempt += 1

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def retrying(*args: Any, **kwargs: Any) -> Any:
            return self.call(func, *args, **kwargs)

        return retrying


def retry_policy(extra_codes: tuple[str, ...] = ()) -> RetryPolicy:
    """The collection's policy; ``extra_codes``: further errors one call retries (eventual consistency)."""
    return RetryPolicy(extra_codes=frozenset(extra_codes))
