"""The fault proxy (tests/harness/fault_proxy.py), with real botocore clients against moto through it:
each fault arrives in the shape botocore parses into the error code real AWS sends, latency is added,
the proxy dies when told, and the operation log names every call as an IAM action."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import fault_proxy
import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_RETRY = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})

# service, region, a read-only call, the throttling code and status the protocol answers with
THROTTLED = [
    ("guardduty", "eu-west-1", lambda c: c.list_detectors(), "ThrottlingException", 400),
    ("logs", "eu-west-1", lambda c: c.describe_log_groups(), "ThrottlingException", 400),
    ("kms", "eu-west-1", lambda c: c.list_keys(), "ThrottlingException", 400),
    ("ec2", "eu-west-1", lambda c: c.describe_regions(), "RequestLimitExceeded", 503),
    ("iam", "us-east-1", lambda c: c.list_roles(), "Throttling", 400),
    ("sts", "eu-west-1", lambda c: c.get_caller_identity(), "Throttling", 400),
]
DENIED = [
    ("guardduty", lambda c: c.list_detectors(), "AccessDeniedException", 403),
    ("logs", lambda c: c.describe_log_groups(), "AccessDeniedException", 400),
    ("kms", lambda c: c.list_keys(), "AccessDeniedException", 400),
    ("ec2", lambda c: c.describe_instances(), "UnauthorizedOperation", 403),
    ("sts", lambda c: c.get_caller_identity(), "AccessDenied", 403),
]


@pytest.fixture(scope="module")
def shared_proxy(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    log = tmp_path_factory.mktemp("proxy") / "operations.jsonl"
    with fault_proxy.FaultProxy(moto_endpoint, log_path=log) as proxy:
        yield proxy


@pytest.fixture
def proxy(shared_proxy: fault_proxy.FaultProxy) -> fault_proxy.FaultProxy:
    """The module's proxy with no faults and an empty log (moto's state is not reset: the tests
    use names of their own, which keeps them fast)."""
    if shared_proxy.dead:
        shared_proxy.revive()
    shared_proxy.configure()
    shared_proxy.clear_log()
    return shared_proxy


def client(proxy: fault_proxy.FaultProxy, service: str, region: str = "eu-west-1", **config: Any) -> Any:
    cfg = NO_RETRY.merge(botocore.config.Config(**config)) if config else NO_RETRY
    return boto3.client(service, region_name=region, endpoint_url=proxy.endpoint, config=cfg)


def error_of(call: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize(
    ("service", "region", "call", "code", "status"), THROTTLED, ids=[t[0] for t in THROTTLED]
)
def test_throttling_has_each_protocols_shape(proxy, service, region, call, code, status) -> None:
    proxy.configure(throttle={service: 100})
    assert error_of(lambda: call(client(proxy, service, region))) == (code, status)
    assert proxy.operations()[-1]["fault"] == "throttle"
    assert proxy.operations()[-1]["error_code"] == code


def test_botocore_treats_the_throttling_as_retryable(proxy) -> None:
    """botocore's standard retry mode retries it: the log has one call per attempt."""
    proxy.configure(throttle={"guardduty": 100})
    gd = client(proxy, "guardduty", retries={"mode": "standard", "total_max_attempts": 2})
    assert error_of(gd.list_detectors)[0] == "ThrottlingException"
    assert [r["operation"] for r in proxy.operations()] == ["ListDetectors", "ListDetectors"]


def test_throttling_only_the_chosen_services_at_about_the_chosen_share(proxy) -> None:
    proxy.configure(throttle={"logs": 30}, seed=7)
    logs, gd = client(proxy, "logs"), client(proxy, "guardduty")
    for _attempt in range(5):
        gd.list_detectors()  # never throttled: not a chosen service
    throttled = 0
    for _attempt in range(60):
        try:
            logs.describe_log_groups(limit=1)
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException"
            throttled += 1
    assert 8 <= throttled <= 30
    assert throttled == sum(r["fault"] == "throttle" for r in proxy.operations())


def test_throttling_code_can_be_chosen(proxy) -> None:
    proxy.configure(throttle={"*": 100}, throttle_codes={"guardduty": "TooManyRequestsException"})
    assert error_of(client(proxy, "guardduty").list_detectors) == ("TooManyRequestsException", 429)


@pytest.mark.parametrize(("service", "call", "code", "status"), DENIED, ids=[d[0] for d in DENIED])
def test_denied_region_has_each_protocols_access_denied_shape(proxy, service, call, code, status) -> None:
    proxy.configure(deny={"eu-west-3": ""})
    assert error_of(lambda: call(client(proxy, service, "eu-west-3"))) == (code, status)
    call(client(proxy, service, "eu-west-1"))  # other regions answer
    assert [r["fault"] for r in proxy.operations()] == ["deny", None]


def test_iam_denial_in_its_signing_region(proxy) -> None:
    proxy.configure(deny={"us-east-1": ""})
    assert error_of(client(proxy, "iam", "us-east-1").list_roles) == ("AccessDenied", 403)


@pytest.mark.parametrize(
    ("service", "code", "status"),
    [
        ("logs", "UnrecognizedClientException", 400),
        ("guardduty", "UnrecognizedClientException", 400),
        ("ec2", "AuthFailure", 401),
        ("sts", "InvalidClientTokenId", 403),
    ],
)
def test_denial_with_a_chosen_code(proxy, service, code, status) -> None:
    """What an opt-in region the account has not enabled answers."""
    proxy.configure(deny={"me-south-1": code})
    calls = {
        "logs": lambda c: c.describe_log_groups(),
        "guardduty": lambda c: c.list_detectors(),
        "ec2": lambda c: c.describe_regions(),
        "sts": lambda c: c.get_caller_identity(),
    }
    assert error_of(lambda: calls[service](client(proxy, service, "me-south-1"))) == (code, status)


def test_denial_of_some_services_only(proxy) -> None:
    proxy.configure(deny={"eu-west-1": {"code": "", "services": ["guardduty"]}})
    assert error_of(client(proxy, "guardduty").list_detectors)[0] == "AccessDeniedException"
    client(proxy, "logs").describe_log_groups()


def test_latency_is_added_to_every_call(proxy) -> None:
    logs = client(proxy, "logs")
    logs.describe_log_groups()  # connection and moto's service app warm
    start = time.perf_counter()
    logs.describe_log_groups()
    base = time.perf_counter() - start
    proxy.configure(latency_ms=300)
    start = time.perf_counter()
    logs.describe_log_groups()
    slowed = time.perf_counter() - start
    assert slowed >= 0.3
    assert slowed - base < 2.0


def test_latency_per_region(proxy) -> None:
    far, near = client(proxy, "logs", "ap-southeast-2"), client(proxy, "logs", "eu-west-1")
    far.describe_log_groups()
    near.describe_log_groups()
    proxy.configure(latency_ms_by_region={"ap-southeast-2": 400})
    start = time.perf_counter()
    far.describe_log_groups()
    far_time = time.perf_counter() - start
    start = time.perf_counter()
    near.describe_log_groups()
    near_time = time.perf_counter() - start
    assert far_time >= 0.4
    assert near_time < far_time - 0.2


def test_latency_calls_overlap(proxy) -> None:
    """The proxy is threaded: concurrent calls wait their delay side by side, as on AWS."""
    from concurrent.futures import ThreadPoolExecutor

    regions = ["eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "us-east-1", "us-east-2"]
    clients = [client(proxy, "logs", r) for r in regions]
    for c in clients:
        c.describe_log_groups()
    proxy.configure(latency_ms=500)
    start = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(lambda c: c.describe_log_groups(), clients))
    assert time.perf_counter() - start < 0.5 * len(clients) / 2


@pytest.mark.parametrize("style", ["reset", "close"])
def test_dropped_connection_before_moto(proxy, style) -> None:
    proxy.configure(drop={"logs": 100}, drop_style=style)
    logs = client(proxy, "logs")
    name = f"/gdpr/proxy/dropped-{style}-{time.time_ns()}"
    with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        logs.create_log_group(logGroupName=name)
    proxy.configure()
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    assert proxy.operations()[0]["fault"] == "drop"


def test_dropped_answer_after_moto_did_the_work(proxy) -> None:
    proxy.configure(drop={"logs": 100}, drop_phase="after")
    logs = client(proxy, "logs")
    name = f"/gdpr/proxy/answer-lost-{time.time_ns()}"
    with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        logs.create_log_group(logGroupName=name)
    proxy.configure()
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]] == [
        name
    ]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_dies_after_n_requests_and_revives_on_the_same_port(proxy) -> None:
    proxy.configure(die_after=3)
    logs = client(proxy, "logs", retries={"mode": "standard", "total_max_attempts": 2})
    for _attempt in range(3):
        logs.describe_log_groups()
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        logs.describe_log_groups()  # the 4th is cut; botocore's retry finds the port closed
    assert proxy.dead
    assert not _port_open(proxy.port)
    assert [r["fault"] for r in proxy.operations()] == [None, None, None, "die"]
    proxy.revive(die_after=None)
    assert _port_open(proxy.port)
    logs.describe_log_groups()


def test_dies_at_the_nth_call_of_an_action_after_moto_did_it(proxy) -> None:
    """The hostile case for idempotency: the key exists, the caller never learned its id."""
    direct = boto3.client("kms", region_name="eu-west-1", endpoint_url=proxy.upstream_endpoint)
    before = len(direct.list_keys()["Keys"])
    proxy.configure(die_at={"action": "kms:CreateKey", "occurrence": 2, "forward": True})
    kms = client(proxy, "kms")
    kms.create_key(Description="first")
    with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        kms.create_key(Description="second")
    assert proxy.dead
    assert len(direct.list_keys()["Keys"]) == before + 2


def test_operation_log_names_iam_actions_for_every_protocol(proxy) -> None:
    gd = client(proxy, "guardduty")
    detector = gd.create_detector(Enable=True)["DetectorId"]
    gd.get_detector(DetectorId=detector)
    gd.update_detector(DetectorId=detector, FindingPublishingFrequency="FIFTEEN_MINUTES")
    gd.list_detectors()
    client(proxy, "logs").create_log_group(logGroupName="/gdpr/proxy/log")
    client(proxy, "kms").list_aliases()
    client(proxy, "ec2").describe_regions()
    client(proxy, "iam", "us-east-1").list_roles()
    client(proxy, "sts", "eu-central-1").get_caller_identity()
    records = proxy.operations()
    assert [(r["action"], r["region"], r["status"]) for r in records] == [
        ("guardduty:CreateDetector", "eu-west-1", 200),
        ("guardduty:GetDetector", "eu-west-1", 200),
        ("guardduty:UpdateDetector", "eu-west-1", 200),
        ("guardduty:ListDetectors", "eu-west-1", 200),
        ("logs:CreateLogGroup", "eu-west-1", 200),
        ("kms:ListAliases", "eu-west-1", 200),
        ("ec2:DescribeRegions", "eu-west-1", 200),
        ("iam:ListRoles", "us-east-1", 200),
        ("sts:GetCallerIdentity", "eu-central-1", 200),
    ]
    assert records[1]["method"] == "GET"
    assert records[1]["path"] == f"/detector/{detector}"
    assert fault_proxy.read_log(proxy.log_path) == records
    assert proxy.actions() == {r["action"] for r in records}


def test_operation_log_has_moto_errors_and_skips_the_harness_calls(proxy) -> None:
    logs = client(proxy, "logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName="/gdpr/proxy/none", retentionInDays=7)
    urllib.request.urlopen(
        urllib.request.Request(proxy.endpoint + "/moto-api/reset", method="POST", data=b""), timeout=10
    ).close()
    [record] = proxy.operations()
    assert record["action"] == "logs:PutRetentionPolicy"
    assert record["status"] == 400
    assert record["error_code"] == "ResourceNotFoundException"
    assert record["fault"] is None


def _control(proxy: fault_proxy.FaultProxy, method: str, what: str, body: Any = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{proxy.endpoint}{fault_proxy.CONTROL_PREFIX}{what}", data=data, method=method
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def test_control_endpoint_sets_config_and_serves_the_log(proxy) -> None:
    answer = json.loads(_control(proxy, "PUT", "config", {"throttle": {"ec2": 100}}))
    assert answer["throttle"] == {"ec2": 100}
    assert error_of(client(proxy, "ec2").describe_regions)[0] == "RequestLimitExceeded"
    lines = _control(proxy, "GET", "log").decode().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["ec2:DescribeRegions"]
    _control(proxy, "DELETE", "log")
    assert proxy.operations() == []
    with pytest.raises(urllib.error.HTTPError) as err:
        _control(proxy, "PUT", "config", {"throtle": {}})
    assert err.value.code == 400


def test_config_file_is_read_again_when_it_changes(moto_endpoint, tmp_path) -> None:
    config = tmp_path / "faults.json"
    config.write_text(json.dumps({"throttle": {"*": 100}}))
    with fault_proxy.FaultProxy(moto_endpoint, config_path=config) as proxy:
        assert error_of(client(proxy, "logs").describe_log_groups)[0] == "ThrottlingException"
        config.write_text(json.dumps({"deny": {"eu-west-1": "UnrecognizedClientException"}}))
        assert error_of(client(proxy, "logs").describe_log_groups)[0] == "UnrecognizedClientException"


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        fault_proxy.FaultConfig.from_dict({"throtle": {"*": 30}})
    with pytest.raises(ValueError, match="percentage"):
        fault_proxy.FaultConfig.from_dict({"throttle": {"*": 130}})
    with pytest.raises(ValueError, match="IAM action"):
        fault_proxy.FaultConfig.from_dict({"die_at": {"action": "CreateKey"}})


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("POST", "/detector", {}, "CreateDetector"),
        ("GET", "/detector", {}, "ListDetectors"),
        ("GET", "/detector/abc", {}, "GetDetector"),
        ("POST", "/detector/abc", {}, "UpdateDetector"),
        ("DELETE", "/detector/abc", {}, "DeleteDetector"),
        (
            "POST",
            "/tags/" + urllib.parse.quote("arn:aws:guardduty:eu-west-1:1:detector/a", safe=""),
            {},
            "TagResource",
        ),
        ("DELETE", "/tags/arn%3Ax", {"tagKeys": ["k"]}, "UntagResource"),
        ("POST", "/detector/abc/member/detector/get", {}, "GetMemberDetectors"),
    ],
)
def test_rest_operation_from_botocores_model(method, path, query, operation) -> None:
    assert fault_proxy.rest_operation("guardduty", method, path, query) == operation


def test_moto_server_run_with_proxy(tmp_path) -> None:
    """``moto_server.py run --proxy CONFIG --proxy-log LOG -- CMD``: CMD talks to moto through it."""
    config, log = tmp_path / "faults.json", tmp_path / "ops.jsonl"
    config.write_text(json.dumps({"deny": {"eu-west-3": ""}}))
    script = textwrap.dedent(
        """
        import os, boto3, botocore.exceptions
        assert os.environ["AWS_URL"] != os.environ["GDPR_TEST_MOTO_ENDPOINT"]
        boto3.client("logs", region_name="eu-west-1").create_log_group(logGroupName="/gdpr/cli")
        try:
            boto3.client("logs", region_name="eu-west-3").describe_log_groups()
        except botocore.exceptions.ClientError as exc:
            print(exc.response["Error"]["Code"])
        """
    )
    cmd = [sys.executable, str(ROOT / "tests/harness/moto_server.py"), "run", "--proxy", str(config)]
    done = subprocess.run(
        [*cmd, "--proxy-log", str(log), "--", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "AccessDeniedException"
    records = fault_proxy.read_log(log)
    assert [(r["action"], r["region"], r["fault"]) for r in records] == [
        ("logs:CreateLogGroup", "eu-west-1", None),
        ("logs:DescribeLogGroups", "eu-west-3", "deny"),
    ]
