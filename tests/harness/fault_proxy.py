"""Fault-injecting HTTP proxy in front of the embedded AWS (moto's server), for reliability tests.

Everything a test points at AWS (``AWS_URL``/``AWS_ENDPOINT_URL``) goes through this proxy, which can:
  * throttle a share of the calls of chosen services, with the error each protocol really sends
    (GuardDuty/Logs/KMS: ``ThrottlingException``; EC2: ``RequestLimitExceeded``; IAM/STS: ``Throttling``);
  * refuse chosen regions with a chosen error code (default: each protocol's access-denied error);
  * drop connections (close or reset them, before or after moto did the work);
  * die after N requests, or when the Nth call of a given action arrives (then the port refuses
    connections, as an endpoint that went away does; ``revive()`` listens again on the same port);
  * add latency to every call, optionally per region (real AWS round trips are 50-300 ms);
  * log every AWS call: service, region, operation, IAM action, status, fault (JSON lines).

The service and region come from the SigV4 credential scope (``Authorization`` header or presigned
``X-Amz-Credential``), the operation from ``X-Amz-Target`` (JSON protocols), the ``Action`` parameter
(query and EC2 protocols) or, for REST protocols (GuardDuty), from the method and path matched against
botocore's service model. The IAM action is ``<prefix>:<Operation>``, the IAM action name for every
service this collection calls except S3, whose actions come from the table in fault_proxy_s3.py
(HeadBucket is ``s3:ListBucket``; a CreateBucket with ``x-amz-object-ownership`` also needs
``s3:PutBucketOwnershipControls``).

Configure it per test:
  * Python: ``with FaultProxy(moto_endpoint, throttle={"*": 30}) as proxy: ...``, then
    ``proxy.configure(...)``, ``proxy.operations()``;
  * HTTP control endpoint on the same port (not under AWS paths): ``GET/PUT /__fault_proxy__/config``,
    ``GET/DELETE /__fault_proxy__/log``;
  * a JSON config file (``--config``), read again whenever it changes;
  * CLI: ``python tests/harness/fault_proxy.py --upstream http://127.0.0.1:PORT --throttle '*=30'``,
    or ``python tests/harness/moto_server.py run --proxy CONFIG.json -- CMD``.

Config keys (all optional; FaultConfig documents each): seed, throttle, throttle_codes, deny, drop,
drop_style, drop_phase, die_after, die_at, latency_ms, latency_ms_by_region, status_overrides.
Requests of the harness itself (``/moto-api/...``) pass through untouched and unlogged.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import fault_proxy_s3

CONTROL_PREFIX = "/__fault_proxy__/"
HARNESS_PREFIXES = ("/moto-api/",)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

# Signing names whose botocore service model or IAM prefix has another name.
MODEL_BY_SIGNING_NAME = {"monitoring": "cloudwatch", "email": "ses", "states": "stepfunctions"}
IAM_PREFIX_BY_SIGNING_NAME = {"monitoring": "cloudwatch", "email": "ses"}

# (code, HTTP status) each protocol answers for throttling and for a denied call.
THROTTLE_BY_PROTOCOL = {
    "json": ("ThrottlingException", 400),
    "rest-json": ("ThrottlingException", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "query": ("Throttling", 400),
    "rest-xml": ("SlowDown", 503),
}
DENY_BY_PROTOCOL = {
    "json": ("AccessDeniedException", 400),
    "rest-json": ("AccessDeniedException", 403),
    "ec2": ("UnauthorizedOperation", 403),
    "query": ("AccessDenied", 403),
    "rest-xml": ("AccessDenied", 403),
}
# HTTP status AWS sends with a named code (when a test picks the code itself).
STATUS_BY_CODE = {
    "AccessDenied": 403,
    "AccessDeniedException": 403,
    "UnauthorizedOperation": 403,
    "AuthFailure": 401,
    "OptInRequired": 401,
    "UnrecognizedClientException": 400,
    "InvalidClientTokenId": 403,
    "InvalidSignatureException": 400,
    "SignatureDoesNotMatch": 403,
    "ExpiredToken": 400,
    "ExpiredTokenException": 400,
    "Throttling": 400,
    "ThrottlingException": 400,
    "RequestLimitExceeded": 503,
    "TooManyRequestsException": 429,
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "InternalFailure": 500,
    "InternalServerError": 500,
    "InternalServerErrorException": 500,
}
MESSAGES = {
    "RequestLimitExceeded": "Request limit exceeded.",
    "UnauthorizedOperation": "You are not authorized to perform this operation.",
    "AuthFailure": "AWS was not able to validate the provided access credentials",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "InvalidClientTokenId": "The security token included in the request is invalid.",
}

CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass
class FaultConfig:
    """What the proxy does to the calls. Service keys are signing names (``guardduty``, ``logs``,
    ``ec2``, ``iam``, ``kms``, ``sts``); ``"*"`` means every service.

    seed: random seed, for reproducible runs (None: random).
    throttle: {service: percent of its calls answered with a throttling error}.
    throttle_codes: {service: code} instead of the protocol's usual throttling code.
    deny: {region: code or "" (the protocol's access-denied code)} or {region: {"code", "services"}}:
        every call of those services in that region is refused.
    drop: {service: percent of its calls whose connection is dropped, no answer}.
    drop_style: "reset" (TCP RST, ECONNRESET) or "close" (FIN before any answer).
    drop_phase: "before" (moto never sees the call) or "after" (moto did it, the answer is lost).
    die_after: serve this many AWS calls, then die at the next one (the port refuses connections).
    die_at: {"action": "kms:CreateKey", "occurrence": 1, "forward": true}: die when that call
        arrives for the nth time; forward=true lets moto do it first (the answer is lost).
    latency_ms: delay added to every AWS call; latency_ms_by_region: {region: ms} instead of it.
    status_overrides: {code: HTTP status}.
    """

    seed: int | None = None
    throttle: dict[str, float] = field(default_factory=dict)
    throttle_codes: dict[str, str] = field(default_factory=dict)
    deny: dict[str, Any] = field(default_factory=dict)
    drop: dict[str, float] = field(default_factory=dict)
    drop_style: str = "reset"
    drop_phase: str = "before"
    die_after: int | None = None
    die_at: dict[str, Any] | None = None
    latency_ms: float = 0.0
    latency_ms_by_region: dict[str, float] = field(default_factory=dict)
    status_overrides: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"fault proxy config: unknown keys {unknown}; known: {sorted(known)}")
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        if self.drop_style not in ("reset", "close"):
            raise ValueError(f"drop_style must be reset or close, got {self.drop_style!r}")
        if self.drop_phase not in ("before", "after"):
            raise ValueError(f"drop_phase must be before or after, got {self.drop_phase!r}")
        for name in ("throttle", "drop"):
            for service, percent in getattr(self, name).items():
                if not 0 <= float(percent) <= 100:
                    raise ValueError(f"{name}[{service}] must be a percentage, got {percent}")
        if self.die_at is not None and ":" not in str(self.die_at.get("action", "")):
            raise ValueError(f"die_at needs an IAM action like kms:CreateKey, got {self.die_at}")


@dataclass
class Call:
    """What the proxy knows about one AWS call."""

    service: str | None
    region: str | None
    operation: str | None
    method: str
    path: str
    # The IAM actions of a service whose API and IAM names differ (S3), from its table: the call's
    # own action first, then those its headers add; () for an operation the table lacks.
    mapped_actions: tuple[str, ...] | None = None

    @property
    def action(self) -> str | None:
        if self.mapped_actions is not None:
            return self.mapped_actions[0] if self.mapped_actions else None
        if not (self.service and self.operation):
            return None
        return f"{IAM_PREFIX_BY_SIGNING_NAME.get(self.service, self.service)}:{self.operation}"

    @property
    def actions(self) -> tuple[str, ...]:
        """Every IAM action the call needs (most calls: one)."""
        if self.mapped_actions is not None:
            return self.mapped_actions
        return (self.action,) if self.action else ()


# --- identifying a call ----------------------------------------------------------------------------


def credential_scope(headers: Any, query: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """(service, region) of a SigV4-signed request, from its header or presigned query."""
    auth = headers.get("Authorization", "") or ""
    match = CREDENTIAL_RE.search(auth)
    if match is None and "X-Amz-Credential" in query:
        match = CREDENTIAL_RE.search("Credential=" + query["X-Amz-Credential"][0])
    if match is None:
        return None, None
    return match.group(4), match.group(3)


@cache
def _service_model(signing_name: str) -> Any:
    import botocore.session  # the venv has it; imported late to keep the CLI start fast

    session = botocore.session.get_session()
    try:
        return session.get_service_model(MODEL_BY_SIGNING_NAME.get(signing_name, signing_name))
    except Exception:  # an unknown service: identified by headers only
        return None


def protocol_of(service: str | None) -> str | None:
    model = _service_model(service) if service else None
    if model is None:
        return None
    protocol = model.protocol
    # botocore prefers JSON for services that also offer CBOR; errors of both carry __type.
    return "json" if protocol == "smithy-rpc-v2-cbor" else protocol


def _uri_pattern(request_uri: str) -> tuple[re.Pattern[str], list[str], int]:
    """Regex of a ``requestUri`` (matched against the path as sent: labels are URL-encoded, so a
    label never holds a raw slash except a greedy ``{Key+}``), its literal query keys, its literal
    length (more literal characters: a more specific route)."""
    path, _sep, query = request_uri.partition("?")
    literal = len(re.sub(r"\{[^}]+\}", "", path))
    regex = re.escape(path)
    regex = re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", regex)  # {Key+}: greedy, may hold slashes
    regex = re.sub(r"\\\{[^}]+?\\\}", "[^/]+", regex)
    query_keys = [part.split("=", 1)[0] for part in query.split("&") if part]
    return re.compile(f"^{regex}/?$"), query_keys, literal


def _required_query_keys(operation: Any) -> list[str]:
    """Query parameters an operation cannot be sent without (tells S3's GetObject from ListParts)."""
    shape = operation.input_shape
    if shape is None:
        return []
    required = set(shape.required_members)
    return [
        member.serialization.get("name", name)
        for name, member in shape.members.items()
        if name in required and member.serialization.get("location") == "querystring"
    ]


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], list[str], int, str]]:
    model = _service_model(service)
    if model is None:
        return []
    routes = []
    for name in model.operation_names:
        operation = model.operation_model(name)
        http = operation.http
        pattern, query_keys, literal = _uri_pattern(http.get("requestUri", "/"))
        query_keys += _required_query_keys(operation)
        routes.append((http.get("method", "POST"), pattern, query_keys, literal, name))
    return routes


def rest_operation(service: str, method: str, path: str, query: dict[str, list[str]]) -> str | None:
    """The operation of a REST call (``path`` as sent, still URL-encoded): the most specific route
    of the service model that matches the method, the path and the query keys."""
    best: tuple[int, int, str] | None = None
    for route_method, pattern, query_keys, literal, name in _rest_routes(service):
        if route_method != method or not pattern.match(path):
            continue
        if any(key not in query for key in query_keys):
            continue
        rank = (len(query_keys), literal, name)
        if best is None or rank > best:
            best = rank
    return best[2] if best else None


def identify(method: str, raw_path: str, headers: Any, body: bytes) -> Call:
    split = urllib.parse.urlsplit(raw_path)
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    service, region = credential_scope(headers, query)
    operation = None
    target = headers.get("X-Amz-Target")
    if target:
        operation = target.rsplit(".", 1)[-1]
    elif "Action" in query:
        operation = query["Action"][0]
    elif "x-www-form-urlencoded" in (headers.get("Content-Type") or "") and body:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        operation = form.get("Action", [None])[0]
    elif split.path.startswith("/service/") and "/operation/" in split.path:  # smithy RPC v2
        operation = split.path.rsplit("/", 1)[-1]
    elif service:
        operation = rest_operation(service, method, split.path, query)
    mapped = fault_proxy_s3.iam_actions(operation, headers) if service == "s3" else None
    return Call(
        service=service,
        region=region,
        operation=operation,
        method=method,
        path=split.path,
        mapped_actions=mapped,
    )


# --- error responses -------------------------------------------------------------------------------


def _protocol_guess(call: Call, headers: Any) -> str:
    protocol = protocol_of(call.service)
    if protocol:
        return protocol
    if headers.get("X-Amz-Target"):
        return "json"
    if "x-www-form-urlencoded" in (headers.get("Content-Type") or ""):
        return "ec2" if call.service == "ec2" else "query"
    return "rest-json"


def error_response(
    call: Call, headers: Any, code: str, status: int, message: str
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of ``code`` in the shape of the call's protocol."""
    protocol = _protocol_guess(call, headers)
    request_id = str(uuid.uuid4())
    esc = _xml_escape
    if protocol == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{esc(code)}</Code><Message>{esc(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        return status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    if protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="https://{call.service}.amazonaws.com/doc/"><Error><Type>{kind}</Type>'
            f"<Code>{esc(code)}</Code><Message>{esc(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()
    if protocol == "rest-xml":
        body = (
            f"<Error><Code>{esc(code)}</Code><Message>{esc(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    if protocol == "rest-json":
        error_type = f"{code}:http://internal.amazon.com/coral/com.amazonaws.{call.service}/"
        content_type = "application/json"
    else:
        error_type = code
        content_type = headers.get("Content-Type") or "application/x-amz-json-1.1"
    body = json.dumps({"__type": code, "message": message}).encode()
    return (
        status,
        {"Content-Type": content_type, "x-amzn-RequestId": request_id, "x-amzn-ErrorType": error_type},
        body,
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- deciding the fault ----------------------------------------------------------------------------


@dataclass
class Decision:
    kind: str | None = None  # throttle, deny, drop, die, or None: forwarded untouched
    code: str | None = None
    status: int | None = None
    forward: bool = True
    delay: float = 0.0


def _share(table: dict[str, float], service: str | None) -> float:
    if service and service in table:
        return float(table[service])
    return float(table.get("*", 0.0))


def _deny_rule(config: FaultConfig, call: Call) -> str | None:
    rule = config.deny.get(call.region or "")
    if rule is None:
        return None
    if isinstance(rule, dict):
        services = rule.get("services") or ["*"]
        if "*" not in services and call.service not in services:
            return None
        return str(rule.get("code") or "")
    return str(rule)


# --- the proxy -------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone (or cut by a fault) is part of the game; anything else is a harness bug."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections, as with AWS
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        with suppress(OSError):
            super().finish()
        self.server.proxy._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the operation log says what happened."""

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._body()
        if self.path.startswith(CONTROL_PREFIX):
            self._reply(*self.server.proxy._control(self.command, self.path, body))
            return
        self.server.proxy._serve(self, body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response_only(status)  # moto's Server/Date headers, not a second set of ours
        if not any(name.lower() == "date" for name in headers):
            self.send_header("Date", self.date_time_string())
        for name, value in headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _drop(self, style: str) -> None:
        """No answer: the client sees a reset (ECONNRESET) or a closed connection."""
        self.close_connection = True
        with suppress(OSError):
            if style == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()


class FaultProxy:
    """A threaded proxy on 127.0.0.1 in front of ``upstream`` (moto's endpoint).

    Use as a context manager, or ``start()``/``stop()``. ``endpoint`` is what AWS clients point at.
    """

    def __init__(
        self,
        upstream: str,
        config: FaultConfig | dict[str, Any] | None = None,
        *,
        port: int = 0,
        log_path: Path | str | None = None,
        config_path: Path | str | None = None,
        **config_kwargs: Any,
    ) -> None:
        split = urllib.parse.urlsplit(upstream)
        self.upstream_endpoint = upstream.rstrip("/")
        self.upstream = (split.hostname or "127.0.0.1", split.port or 80)
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._pool: list[http.client.HTTPConnection] = []
        self._sockets: set[socket.socket] = set()
        self._records: list[dict[str, Any]] = []
        self._log_path = Path(log_path) if log_path else None
        self._config_path = Path(config_path) if config_path else None
        self._config_mtime: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._die_thread: threading.Thread | None = None
        self._port = port
        self.dead = False
        self.configure(config, **config_kwargs)
        self._reload_config_file()

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> FaultProxy:
        self._server = _Server(("127.0.0.1", self._port), self)
        self._port = self._server.server_address[1]
        self.dead = False
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (what a dead endpoint looks like)."""
        with self._lock:  # _die publishes its thread together with `dead` (see there)
            thread, self._die_thread = self._die_thread, None
        if thread is not None:
            while thread.ident is None:  # published just before it is started
                time.sleep(0.01)
            thread.join()
        server, self._server = self._server, None
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
            pool, self._pool = self._pool, []
        _shut(server, sockets)
        for conn in pool:
            conn.close()

    def revive(self, **config_changes: Any) -> FaultProxy:
        """Listen again on the same port after ``die``; the call counters start again."""
        self.stop()
        with self._lock:
            self._counter = 0
            self._action_counts = {}
            self._apply_changes(config_changes)
        return self.start()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- configuration ------------------------------------------------------------------------------

    def configure(self, config: FaultConfig | dict[str, Any] | None = None, **changes: Any) -> None:
        """Replace the whole configuration (``config``) and/or change some keys; counters restart."""
        if isinstance(config, dict):
            config = FaultConfig.from_dict(config)
        with self._lock:
            self.config = config or FaultConfig()
            self._counter = 0
            self._action_counts: dict[str, int] = {}
            self._apply_changes(changes)

    def _apply_changes(self, changes: dict[str, Any]) -> None:
        if changes:
            self.config = FaultConfig.from_dict({**asdict(self.config), **changes})
        self._random = random.Random(self.config.seed)

    def _reload_config_file(self) -> None:
        if self._config_path is None:
            return
        try:
            mtime = self._config_path.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != self._config_mtime:
            self._config_mtime = mtime
            self.configure(json.loads(self._config_path.read_text() or "{}"))

    # -- the operation log -------------------------------------------------------------------------

    def operations(self) -> list[dict[str, Any]]:
        """Every AWS call so far, in arrival order (see ``_record`` for the fields)."""
        with self._log_lock:
            return list(self._records)

    def actions(self, *, answered_only: bool = False) -> set[str]:
        """IAM actions of the calls so far; ``answered_only``: those moto answered (2xx/4xx from it)."""
        return {
            action
            for r in self.operations()
            if not answered_only or r["fault"] is None
            for action in r["actions"]
        }

    def unidentified_calls(self) -> set[str]:
        """Calls so far whose IAM action the proxy does not know (an S3 operation missing from
        fault_proxy_s3's table, a path no model route matches): a least-privilege proof must fail
        on them rather than miss a permission."""
        return {
            f"{r['service']}:{r['operation']}"
            if r["operation"]
            else f"{r['service']} {r['method']} {r['path']}"
            for r in self.operations()
            if r["service"] and not r["actions"]
        }

    def clear_log(self) -> None:
        """Forget the calls so far (the log file too)."""
        with self._log_lock:
            self._records.clear()
            if self._log_path is not None:
                self._log_path.write_text("")

    def _record(self, call: Call, status: int | None, fault: str | None, code: str | None, t0: float) -> None:
        record = {
            "time": round(time.time(), 3),
            "service": call.service,
            "region": call.region,
            "operation": call.operation,
            "action": call.action,
            "actions": list(call.actions),
            "method": call.method,
            "path": call.path,
            "status": status,
            "fault": fault,
            "error_code": code,
            "duration_ms": round((time.perf_counter() - t0) * 1000, 1),
        }
        with self._log_lock:
            record["seq"] = len(self._records) + 1
            self._records.append(record)
            if self._log_path is not None:
                with self._log_path.open("a") as log:
                    log.write(json.dumps(record, sort_keys=True) + "\n")

    # -- serving -----------------------------------------------------------------------------------

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def _decide(self, call: Call) -> Decision:
        config = self.config
        region_delay = config.latency_ms_by_region.get(call.region or "", config.latency_ms)
        decision = Decision(delay=float(region_delay) / 1000.0)
        with self._lock:
            self._counter += 1
            if self.dead:  # calls on connections still open while the listener goes away
                return Decision(kind="die", forward=False)
            if config.die_after is not None and self._counter > config.die_after:
                return Decision(kind="die", forward=False, delay=decision.delay)
            if config.die_at and call.action == config.die_at.get("action"):
                seen = self._action_counts.get(call.action, 0) + 1
                self._action_counts[call.action] = seen
                if seen == int(config.die_at.get("occurrence", 1)):
                    forward = bool(config.die_at.get("forward", False))
                    return Decision(kind="die", forward=forward, delay=decision.delay)
            denied = _deny_rule(config, call)
            if denied is not None:
                decision.kind, decision.code, decision.forward = "deny", denied, False
                return decision
            if self._random.random() * 100 < _share(config.throttle, call.service):
                code = config.throttle_codes.get(call.service or "") or config.throttle_codes.get("*")
                decision.kind, decision.code, decision.forward = "throttle", code or "", False
                return decision
            if self._random.random() * 100 < _share(config.drop, call.service):
                decision.kind = "drop"
                decision.forward = config.drop_phase == "after"
        return decision

    def _error(self, call: Call, headers: Any, kind: str, code: str) -> tuple[int, dict[str, str], bytes]:
        protocol = _protocol_guess(call, headers)
        default_code, default_status = (THROTTLE_BY_PROTOCOL if kind == "throttle" else DENY_BY_PROTOCOL)[
            protocol
        ]
        code = code or default_code
        status = self.config.status_overrides.get(code) or (
            default_status if code == default_code else STATUS_BY_CODE.get(code, default_status)
        )
        what = "Rate exceeded" if kind == "throttle" else f"{call.action} refused in {call.region}"
        return error_response(call, headers, code, int(status), MESSAGES.get(code, what))

    def _serve(self, handler: _Handler, body: bytes) -> None:
        t0 = time.perf_counter()
        if handler.path.startswith(HARNESS_PREFIXES):
            handler._reply(*self._forward(handler, body))
            return
        self._reload_config_file()
        call = identify(handler.command, handler.path, handler.headers, body)
        decision = self._decide(call)
        if decision.delay:
            time.sleep(decision.delay)
        if decision.kind in ("throttle", "deny"):
            reply = self._error(call, handler.headers, decision.kind, decision.code or "")
            self._record(call, reply[0], decision.kind, _code_of(reply), t0)
            handler._reply(*reply)
            return
        reply = self._forward(handler, body) if decision.forward else None
        if decision.kind == "die":
            self._record(call, None, "die", None, t0)
            self._die()  # the port refuses before the client learns this call is lost
            handler._drop(self.config.drop_style)
            return
        if decision.kind == "drop":
            self._record(call, None, "drop", None, t0)
            handler._drop(self.config.drop_style)
            return
        assert reply is not None
        self._record(call, reply[0], None, _code_of(reply) if reply[0] >= 400 else None, t0)
        handler._reply(*reply)

    def _die(self) -> None:
        with self._lock:
            if self.dead:
                return
            self.dead = True
            server, self._server = self._server, None
            sockets, self._sockets = list(self._sockets), set()
            # shutdown() waits for serve_forever, which runs in another thread: never from a handler's
            # own. The thread is published with `dead`: a watcher that sees the proxy dead and revives
            # it must find the thread to wait for (it used to find none yet, or one not yet started:
            # "cannot join thread before it is started", and the proxy stayed dead).
            thread = threading.Thread(target=_shut, args=(server, sockets), daemon=True)
            self._die_thread = thread
        if server is not None:
            with suppress(OSError):  # a listening socket shut down refuses new connections at once
                server.socket.shutdown(socket.SHUT_RDWR)
        thread.start()

    def _forward(self, handler: _Handler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(handler.command, handler.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if attempt == 2:
                    raise
                continue  # a pooled keep-alive connection moto had closed: once more on a fresh one
            if resp.will_close:
                conn.close()
            else:
                with self._lock:
                    self._pool.append(conn)
            return resp.status, dict(resp.getheaders()), data
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        with self._lock:
            if self._pool:
                return self._pool.pop()
        return http.client.HTTPConnection(*self.upstream, timeout=120)

    # -- control endpoint --------------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        what = path[len(CONTROL_PREFIX) :].split("?", 1)[0].strip("/")
        as_json = {"Content-Type": "application/json"}
        try:
            if what == "config" and method in ("PUT", "POST"):
                self.configure(json.loads(body or b"{}"))
                return 200, as_json, json.dumps(asdict(self.config)).encode()
            if what == "config" and method == "GET":
                return 200, as_json, json.dumps(asdict(self.config)).encode()
            if what == "log" and method == "GET":
                lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in self.operations())
                return 200, {"Content-Type": "application/x-ndjson"}, lines.encode()
            if what == "log" and method == "DELETE":
                self.clear_log()
                return 204, {}, b""
        except ValueError as exc:
            return 400, as_json, json.dumps({"error": str(exc)}).encode()
        return 404, as_json, json.dumps({"error": f"no {method} {what}"}).encode()


def _shut(server: _Server | None, sockets: list[socket.socket]) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
    for sock in sockets:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _code_of(reply: tuple[int, dict[str, str], bytes]) -> str | None:
    """The error code of an answer (moto's or ours), for the log."""
    status, headers, body = reply
    if status < 400:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "x-amzn-errortype" in lowered:
        return lowered["x-amzn-errortype"].split(":", 1)[0]
    match = re.search(rb"<Code>([^<]+)</Code>", body)
    if match:
        return match.group(1).decode()
    with suppress(ValueError, AttributeError):
        return str(json.loads(body).get("__type", "")).rsplit("#", 1)[-1] or None
    return None


def read_log(path: Path | str) -> list[dict[str, Any]]:
    """The records of a JSON-lines operation log (``log_path``/``--log``)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


@contextmanager
def proxied(upstream: str, **kwargs: Any) -> Iterator[FaultProxy]:
    with FaultProxy(upstream, **kwargs) as proxy:
        yield proxy


# --- CLI -------------------------------------------------------------------------------------------


def _pairs(values: list[str], convert: type = str) -> dict[str, Any]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {value!r}")
        out[key] = convert(val)
    return out


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    config.update({"throttle": _pairs(args.throttle, float)} if args.throttle else {})
    config.update({"deny": _pairs(args.deny)} if args.deny else {})
    config.update({"drop": _pairs(args.drop, float)} if args.drop else {})
    for key in ("die_after", "latency_ms", "seed"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    return config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="JSON config file (read again whenever it changes)")
    parser.add_argument("--throttle", action="append", default=[], metavar="SERVICE=PERCENT")
    parser.add_argument("--deny", action="append", default=[], metavar="REGION=CODE")
    parser.add_argument("--drop", action="append", default=[], metavar="SERVICE=PERCENT")
    parser.add_argument("--die-after", type=int)
    parser.add_argument("--latency-ms", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--log", help="append the operation log here (JSON lines)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="moto's endpoint, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    proxy = FaultProxy(args.upstream, config, port=args.port, log_path=args.log, config_path=args.config)
    proxy.start()
    print(proxy.endpoint, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        if proxy.dead:
            break
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
