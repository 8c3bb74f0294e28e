"""Shared pytest fixtures: the embedded AWS (moto's server on 127.0.0.1)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HARNESS = Path(__file__).parent / "harness"
sys.path.insert(0, str(HARNESS))

import moto_server  # noqa: E402


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto server per test session; the endpoint is exported the way amazon.aws reads it."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with moto_server.running(log_path=log) as endpoint:
        saved = {k: os.environ.get(k) for k in moto_server.endpoint_env(endpoint)}
        os.environ.update(moto_server.endpoint_env(endpoint))
        try:
            yield endpoint
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def aws(moto_endpoint: str) -> Iterator[str]:
    """A clean embedded AWS for one test: state is reset before the test runs."""
    moto_server.reset(moto_endpoint)
    yield moto_endpoint
