"""The collection's retry policy (plugins/module_utils/backoff.py).

Three levels: the decorator alone with fake calls (what is retried, how long it sleeps, where it
stops); a real botocore client from RegionalClients answered by botocore's Stubber at the API
boundary (moto never throttles); and a real botocore client over HTTP against a throttling
endpoint on 127.0.0.1, counting the requests that really reach it (botocore's own retries are off,
so the policy's bounds are the real ones).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import backoff, regions


def client_error(code: str, status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


class Flaky:
    """A call that raises ``errors`` one after the other, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"ok": kwargs}


def policy(sleeps: list[float], **kwargs: Any) -> backoff.RetryPolicy:
    return backoff.RetryPolicy(sleep=sleeps.append, **kwargs)


TRANSIENT = [
    client_error("ThrottlingException"),
    client_error("Throttling"),
    client_error("TooManyRequestsException", 429),
    client_error("RequestLimitExceeded", 503),
    client_error("InternalServerErrorException", 500),  # GuardDuty's 5xx code: retried by status
    client_error("ServiceUnavailableException", 503),
    client_error("502", 502),  # a gateway's HTML page in front of the service
    client_error("InternalFailure", 500),
    botocore.exceptions.EndpointConnectionError(endpoint_url="https://logs.eu-west-1.amazonaws.com"),
    botocore.exceptions.ConnectionClosedError(endpoint_url="https://logs.eu-west-1.amazonaws.com"),
    botocore.exceptions.ReadTimeoutError(endpoint_url="https://logs.eu-west-1.amazonaws.com"),
]


@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__ + str(getattr(e, "response", "")))
def test_transient_errors_are_retried_until_the_call_passes(error):
    sleeps: list[float] = []
    call = Flaky(error, error)
    assert policy(sleeps)(call)(Name="x") == {"ok": {"Name": "x"}}
    assert call.calls == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "error",
    [
        client_error("AccessDeniedException", 403),
        client_error("AccessDenied", 403),
        client_error("UnrecognizedClientException", 403),
        client_error("ValidationException"),
        client_error("BadRequestException"),
        client_error("ResourceAlreadyExistsException"),
        client_error("LimitExceededException"),  # CloudWatch Logs: a quota, not throttling
        client_error("500", 500),  # moto's answer to a call it does not implement (an HTML page)
        client_error("404", 404),
        botocore.exceptions.SSLError(endpoint_url="https://x", error="bad certificate"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__ + str(getattr(e, "response", "")),
)
def test_other_errors_are_not_retried(error):
    sleeps: list[float] = []
    call = Flaky(error)
    with pytest.raises(type(error)):
        policy(sleeps)(call)()
    assert call.calls == 1
    assert sleeps == []


def test_attempts_are_bounded_and_the_last_error_is_raised():
    sleeps: list[float] = []
    call = Flaky(*[client_error("ThrottlingException") for _n in range(50)])
    with pytest.raises(botocore.exceptions.ClientError, match="ThrottlingException"):
        policy(sleeps)(call)()
    assert call.calls == backoff.MAX_ATTEMPTS == 10
    assert len(sleeps) == backoff.MAX_ATTEMPTS - 1


def test_total_time_is_bounded():
    """No retry starts after the budget, however many attempts are left."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    retry = backoff.RetryPolicy(
        attempts=100, budget=30.0, sleep=sleep, clock=lambda: now[0], rand=lambda: 1.0
    )
    call = Flaky(*[client_error("ThrottlingException") for _n in range(100)])
    with pytest.raises(botocore.exceptions.ClientError):
        retry(call)()
    assert now[0] <= 30.0
    # 0.25 + 0.5 + 1 + 2 + 4 + 8 = 15.75 s; the next sleep (16 s) would end after 30 s.
    assert call.calls == 7


def test_backoff_is_exponential_with_full_jitter_and_capped():
    top = backoff.RetryPolicy(rand=lambda: 1.0)
    assert [top.delay(n) for n in range(9)] == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]
    assert backoff.RetryPolicy(rand=lambda: 0.5).delay(3) == 1.0
    jittered = {backoff.RetryPolicy().delay(4) for _n in range(20)}
    assert len(jittered) > 1 and all(0 <= d <= 4.0 for d in jittered)


def test_extra_codes_only_for_the_policy_that_names_them():
    sleeps: list[float] = []
    eventual = client_error("InvalidParameterValue")
    with pytest.raises(botocore.exceptions.ClientError):
        policy(sleeps)(Flaky(eventual))()
    call = Flaky(client_error("InvalidParameterValue"))
    backoff.RetryPolicy(extra_codes=frozenset({"InvalidParameterValue"}), sleep=sleeps.append)(call)()
    assert call.calls == 2


# --- a real botocore client from RegionalClients ----------------------------------------------------


def fake_module() -> SimpleNamespace:
    params = {
        "access_key": "AKIATESTTESTTESTTEST",
        "secret_key": "test",  # not a secret: nothing is sent anywhere real
        "session_token": None,
        "profile": None,
        "endpoint_url": None,
        "validate_certs": True,
        "aws_ca_bundle": None,
        "aws_config": None,
        "region": "eu-west-1",
    }
    return SimpleNamespace(params=params, fail_json=None)


def test_regional_clients_retry_throttling_by_default_stubber():
    """Stubber at the API boundary: GuardDuty's ThrottlingException twice, then the answer."""
    sleeps: list[float] = []
    clients = regions.RegionalClients(fake_module(), backoff.RetryPolicy(sleep=sleeps.append))
    client = clients("guardduty", "eu-west-1")
    with Stubber(client.client) as stub:
        stub.add_client_error("list_detectors", "ThrottlingException", http_status_code=429)
        stub.add_client_error("list_detectors", "InternalServerErrorException", http_status_code=500)
        stub.add_response("list_detectors", {"DetectorIds": ["d" * 32]})
        assert client.list_detectors(aws_retry=True)["DetectorIds"] == ["d" * 32]
        stub.assert_no_pending_responses()
    assert len(sleeps) == 2


def test_regional_clients_use_the_collection_policy_and_turn_botocore_retries_off():
    clients = regions.RegionalClients(fake_module())
    client = clients("logs", "eu-west-1")
    assert isinstance(client.retry, backoff.RetryPolicy)
    assert client.client.meta.config.retries["total_max_attempts"] == 1


class ThrottlingEndpoint(BaseHTTPRequestHandler):
    """GuardDuty (rest-json) answering ThrottlingException to the first ``throttle`` requests."""

    counts: dict[str, int]
    throttle: int

    def do_GET(self) -> None:
        self.counts["requests"] += 1
        if self.counts["requests"] <= self.throttle:
            body = json.dumps({"message": "Rate exceeded"}).encode()
            self.send_response(400)
            self.send_header("x-amzn-ErrorType", "ThrottlingException")
        else:
            body = json.dumps({"detectorIds": ["d" * 32]}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def throttling_endpoint() -> Iterator[tuple[str, type[ThrottlingEndpoint]]]:
    handler = type("Handler", (ThrottlingEndpoint,), {"counts": {"requests": 0}, "throttle": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("throttle", "requests", "passes"), [(4, 5, True), (100, 10, False)])
def test_requests_on_the_wire_are_bounded_by_the_policy(throttling_endpoint, throttle, requests, passes):
    """Issue 10: under 100% throttling botocore gave up after 3 requests; now exactly 10 are sent,
    and a throttled endpoint that recovers is waited for."""
    endpoint, handler = throttling_endpoint
    handler.throttle = throttle
    module = fake_module()
    module.params["endpoint_url"] = endpoint
    client = regions.RegionalClients(module, backoff.RetryPolicy(sleep=lambda _s: None))(
        "guardduty", "eu-west-1"
    )
    if passes:
        assert client.list_detectors(aws_retry=True)["DetectorIds"] == ["d" * 32]
    else:
        with pytest.raises(botocore.exceptions.ClientError, match="ThrottlingException"):
            client.list_detectors(aws_retry=True)
    assert handler.counts["requests"] == requests


@pytest.mark.parametrize("code", sorted(backoff.NOT_IMPLEMENTED_CODES))
def test_one_set_of_not_implemented_codes(code):
    """The modules (log groups, data protection, evidence) judge "the endpoint lacks this call" by
    this one set; a denial or a throttle is never taken for it."""
    assert backoff.is_not_implemented(client_error(code, 500))


@pytest.mark.parametrize(
    "code", ["AccessDeniedException", "ThrottlingException", "ResourceNotFoundException"]
)
def test_other_errors_are_not_not_implemented(code):
    assert not backoff.is_not_implemented(client_error(code, 400))
