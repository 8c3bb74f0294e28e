"""Shared pytest fixtures: the embedded AWS (moto's server on 127.0.0.1) and the fault proxy."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HARNESS = Path(__file__).parent / "harness"
sys.path.insert(0, str(HARNESS))

import fault_proxy  # noqa: E402
import moto_server  # noqa: E402


@contextlib.contextmanager
def _exported(endpoint: str) -> Iterator[None]:
    """Point AWS_URL/AWS_ENDPOINT_URL (as amazon.aws and child processes read them) at ``endpoint``
    for the duration, then put back whatever was there."""
    saved = {k: os.environ.get(k) for k in moto_server.endpoint_env(endpoint)}
    os.environ.update(moto_server.endpoint_env(endpoint))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server per test session; the endpoint is exported the way amazon.aws reads it."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server.running(log_path=log) as endpoint, _exported(endpoint):
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str) -> Iterator[str]:
    """A clean embedded AWS for one test: state is reset before the test runs."""
    moto_server.reset(moto_endpoint)
    yield moto_endpoint


@pytest.fixture(scope="module")
def shared_aws(moto_endpoint: str) -> Iterator[str]:
    """One clean embedded AWS for a whole test module: reset once, before the module's first test.

    A reset re-creates every service and region the last tests touched (IAM with its ~1,000 managed
    policies, EC2 per region): seconds of CPU each time. Tests that share this one isolate
    themselves instead by names, tag values or regions of their own, and never assert on the
    account as a whole. A module must not mix it with ``aws``, whose reset would wipe it.
    """
    moto_server.reset(moto_endpoint)
    yield moto_endpoint


@pytest.fixture
def faulty_aws(moto_endpoint: str, tmp_path: Path) -> Iterator[fault_proxy.FaultProxy]:
    """A clean embedded AWS behind the fault proxy (tests/harness/fault_proxy.py), no faults yet.

    AWS_URL/AWS_ENDPOINT_URL point at the proxy for the test (child processes inherit them); the
    test sets faults with ``configure()``, reads ``operations()`` (also in ``log_path``), and reads
    the end state past the faults through ``upstream_endpoint``.
    """
    moto_server.reset(moto_endpoint)
    proxy_log = tmp_path / "operations.jsonl"
    with fault_proxy.FaultProxy(moto_endpoint, log_path=proxy_log) as proxy, _exported(proxy.endpoint):
        yield proxy
