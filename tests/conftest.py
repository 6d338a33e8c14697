"""Fixtures shared by every test: the anyio backend and the `connect` fixture (all transports)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.connect import TRANSPORTS, Connector, TransportName
from tests.support.jaeger import Jaeger, jaeger_receiver


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every async test and fixture (of any scope) runs on asyncio; the one definition of the backend."""
    return "asyncio"


@pytest.fixture(params=TRANSPORTS)
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
    """Runs the test once per transport: memory, stdio, sse, http (see tests/support/connect.py)."""
    transport: TransportName = request.param
    return Connector(transport, tmp_path)


@pytest.fixture(params=["sse", "http"])
def http_connect(request: pytest.FixtureRequest, tmp_path: Path) -> Connector:
    """Like `connect`, for behaviour only the HTTP transports have (auth, 429, /metrics)."""
    transport: TransportName = request.param
    return Connector(transport, tmp_path)


@pytest.fixture(scope="session")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """A real OTLP receiver (Jaeger with in-memory storage) for the tracing tests."""
    with jaeger_receiver(tmp_path_factory.mktemp("jaeger")) as running:
        yield running
