"""Embedded AWS for tests: start moto's server on 127.0.0.1, hand out its endpoint, always stop it.

Used three ways:
  * pytest: the ``moto_endpoint`` fixture in ``tests/conftest.py``;
  * Molecule and the demo: ``python tests/harness/moto_server.py run -- CMD ...`` starts the server,
    exports ``AWS_URL``/``AWS_ENDPOINT_URL`` and dummy credentials to CMD, and stops the server when
    CMD exits (whatever its exit status); ``run --proxy [CONFIG.json] --proxy-log OPS.jsonl -- CMD``
    puts the fault proxy (fault_proxy.py) in front and points CMD at it;
  * by hand: ``start`` / ``stop`` with a state file.

The server is moto's own, started through ``serve``, which first drops per-request work whose result
never changes (``_lighten_moto``).

Everything under test reaches the server only through the standard endpoint settings, so the same
code runs against real AWS when those variables are not set.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAMOTOTESTING00000",
    "AWS_SECRET_ACCESS_KEY": "moto-secret-not-real",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint_env(endpoint: str) -> dict[str, str]:
    """Variables that point amazon.aws (AWS_URL), boto3 (AWS_ENDPOINT_URL) and the CLI at ``endpoint``."""
    env = dict(DUMMY_CREDENTIALS)
    env.update(
        {
            "AWS_URL": endpoint,
            "AWS_ENDPOINT_URL": endpoint,
            "GDPR_TEST_AWS_ENDPOINT": endpoint,
        }
    )
    return env


def _moto_command(port: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "serve", "-p", str(port)]


def _lighten_moto() -> None:
    """Take work off moto's server that does not change a single answer it gives.

    moto 5.2 redoes, on every request, work whose result never changes while the server runs; on a
    2-core machine where the embedded AWS shares the cores with the run being tested, that CPU sits
    in every test's and benchmark's critical path (measured on 200 instance-profile associations:
    moto's CPU 1.45 s before, 0.95 s after). Each patch is skipped when moto's internals moved.
    """
    from moto import backends
    from moto.core import responses
    from moto.core.base_backend import BackendDict, BaseBackend, backend_lock

    # The names of a response class's methods (inspect.getmembers, on every request): per class.
    names_of = getattr(responses, "method_names_from_class", None)
    if names_of is not None:
        by_class: dict[type, frozenset[str]] = {}

        def method_names_from_class(clazz: type) -> frozenset[str]:
            if clazz not in by_class:
                by_class[clazz] = frozenset(names_of(clazz))
            return by_class[clazz]

        responses.method_names_from_class = method_names_from_class

    # The service directories in moto's package (a listdir and ~150 isdir per request): once.
    if hasattr(backends, "list_of_moto_modules"):
        modules = frozenset(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules

    # A reset re-creates every backend it is about to drop (IAM with its ~1,000 managed policies, EC2
    # per region: over a CPU-second) and then drops them; the next request creates what it needs.
    # Backends with their own reset (S3 closes its temporary files) still get it.
    if hasattr(BackendDict, "_instances"):

        def reset(_cls: type) -> None:
            with backend_lock:
                for backend in BackendDict._instances:
                    for account_backend in backend.values():
                        for region_backend in account_backend.values():
                            if type(region_backend).reset is not BaseBackend.reset:
                                region_backend.reset()
                    backend.clear()
                BackendDict._instances.clear()

        BackendDict.reset = classmethod(reset)  # type: ignore[method-assign,assignment]

    _memoize_attribute_keys()


def _memoize_attribute_keys() -> None:
    """Work moto's response serializer repeats for every member of every object it answers with.

    For each member (DescribeInstances: ~70 per instance) moto asks six alias providers, built anew,
    which attribute names to try, then tests the member's path against every response transformer
    of the service (EC2: ~20 ``str.endswith`` per member); xmltodict then checks every element name
    character by character. None of it depends on the object's values: the names to try depend on
    the object's class and the member's shape, a transformer on the member's path, a name's
    validity on the name. Each is computed once; a value is still read from the object every time.
    """
    try:
        from moto.core import serialize
    except ImportError:
        return
    picker = getattr(serialize, "AttributePicker", None)
    missing = getattr(serialize, "MISSING", None)
    if picker is None or missing is None or not hasattr(picker, "get_possible_keys"):
        return
    keys_computed: dict[tuple, tuple[str, ...]] = {}
    original = {}

    def keys_of(self: Any, cls: type, context: Any) -> tuple[str, ...]:
        shape = context.shape
        parent = getattr(shape, "parent", None)
        memo_key = (
            cls,
            tuple(self.alias_providers),
            type(context.obj),
            context.key,
            getattr(context.service_model, "service_name", None),
            shape.name if shape is not None else None,
            parent.name if parent is not None else None,
        )
        found = keys_computed.get(memo_key)
        if found is None:
            found = keys_computed[memo_key] = tuple(original[cls](self, context))
        return found

    for cls in (picker, *_subclasses(picker)):
        if "get_possible_keys" in vars(cls):
            original[cls] = cls.get_possible_keys
            cls.get_possible_keys = functools.partialmethod(keys_of, cls)  # type: ignore[method-assign]

    no_transform = object()

    def pick(self: Any, context: Any) -> Any:
        obj = context.obj
        for possible_key in self.get_possible_keys(context):
            value = serialize.get_value(obj, possible_key, missing)
            if value is not missing:
                break
        else:
            value = None
        key_path = f"{context.key_path}.{context.key}"
        transforms = self.__dict__.setdefault("_transform_of_path", {})
        transform = transforms.get(key_path)
        if transform is None:
            transform = transforms[key_path] = next(
                (t for path, t in self.response_transformers.items() if key_path.endswith(path)), no_transform
            )
        return value if transform is no_transform else transform(value)

    if "__call__" in vars(picker) and hasattr(serialize, "get_value"):
        picker.__call__ = pick  # type: ignore[method-assign]
    _memoize_xml_names()


def _memoize_xml_names() -> None:
    try:
        import xmltodict
    except ImportError:
        return
    validate = getattr(xmltodict, "_validate_name", None)
    if validate is None:
        return
    valid: set[tuple[str, str]] = set()

    def validate_name(value: Any, kind: str) -> None:
        if (value, kind) in valid:
            return
        validate(value, kind)  # raises for a bad name, which is never remembered
        valid.add((value, kind))

    xmltodict._validate_name = validate_name


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def _cmd_serve(args: argparse.Namespace) -> int:
    """moto's own server (what ``moto_server -H 127.0.0.1 -p PORT`` runs), lightened first."""
    _lighten_moto()
    from moto.server import main as moto_main

    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])
    return 0


def wait_ready(endpoint: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/data.json", timeout=2):
                return
        except OSError as exc:  # connection refused until the server listens
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"moto_server at {endpoint} not ready after {timeout}s: {last}")


def reset(endpoint: str) -> None:
    """Drop all state in the embedded AWS (cheap isolation between tests)."""
    req = urllib.request.Request(endpoint + "/moto-api/reset", method="POST", data=b"")
    # A reset drops every backend of every region: on a loaded 2-core machine (CI runs three lanes
    # at once) it has taken over 10 s, and a fixture's timeout is a failed test, not a slow one.
    with urllib.request.urlopen(req, timeout=120):
        pass


def start(port: int | None = None, log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    env = dict(os.environ)
    env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        _moto_command(port),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(endpoint)
    except Exception:
        stop(proc.pid)
        raise
    return proc, endpoint


def stop(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _attempt in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextmanager
def running(log_path: Path | None = None) -> Iterator[str]:
    proc, endpoint = start(log_path=log_path)
    try:
        yield endpoint
    finally:
        stop(proc.pid)
        proc.wait(timeout=10)


@contextmanager
def proxied(endpoint: str, config_path: str = "", log_path: str | None = None) -> Iterator[str]:
    """The fault proxy (tests/harness/fault_proxy.py) in front of ``endpoint``; yields its endpoint.

    ``config_path``: its JSON config, read again whenever the file changes ("" : no faults, only
    the operation log and what a test sets later through the control endpoint).
    """
    import fault_proxy  # same directory; only needed with --proxy

    with fault_proxy.FaultProxy(endpoint, config_path=config_path or None, log_path=log_path) as proxy:
        yield proxy.endpoint


def _cmd_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise SystemExit("run: give a command after --")
    with running(Path(args.log) if args.log else None) as endpoint:
        env = dict(os.environ)
        if args.proxy is None:
            env.update(endpoint_env(endpoint))
            print(f"embedded AWS (moto) at {endpoint}", file=sys.stderr, flush=True)
            return subprocess.call(command, env=env)
        with proxied(endpoint, args.proxy, args.proxy_log) as proxy_endpoint:
            env.update(endpoint_env(proxy_endpoint))
            env["GDPR_TEST_MOTO_ENDPOINT"] = endpoint  # moto itself, past the faults
            print(
                f"embedded AWS (moto) at {endpoint}, fault proxy at {proxy_endpoint}",
                file=sys.stderr,
                flush=True,
            )
            return subprocess.call(command, env=env)


def _cmd_start(args: argparse.Namespace) -> int:
    proc, endpoint = start(log_path=Path(args.log) if args.log else None)
    Path(args.state).write_text(json.dumps({"pid": proc.pid, "endpoint": endpoint}))
    print(endpoint)
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if state.exists():
        stop(int(json.loads(state.read_text())["pid"]))
        state.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run_p = sub.add_parser("run", help="run a command with the embedded AWS up")
    run_p.add_argument("--log", help="append moto's output here")
    run_p.add_argument(
        "--proxy",
        nargs="?",
        const="",
        metavar="CONFIG.json",
        help="put the fault proxy in front (optional JSON config, re-read when it changes)",
    )
    run_p.add_argument("--proxy-log", help="the proxy's operation log (JSON lines)")
    run_p.add_argument("command", nargs=argparse.REMAINDER)
    run_p.set_defaults(func=_cmd_run)
    start_p = sub.add_parser("start", help="start and record pid/endpoint in a state file")
    start_p.add_argument("--state", required=True)
    start_p.add_argument("--log")
    start_p.set_defaults(func=_cmd_start)
    stop_p = sub.add_parser("stop", help="stop the server recorded in a state file")
    stop_p.add_argument("--state", required=True)
    stop_p.set_defaults(func=_cmd_stop)
    serve_p = sub.add_parser("serve", help="moto's server in the foreground (what start runs)")
    serve_p.add_argument("-p", "--port", type=int, required=True)
    serve_p.set_defaults(func=_cmd_serve)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
