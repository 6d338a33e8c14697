"""Fixtures: the real Prometheus stack (started once per session) and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import PrometheusEndpoint
from tests.integration.monitoring.prom_stack import PromStack, prometheus_stack


@pytest.fixture(scope="session")
def prom_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    with prometheus_stack(tmp_path_factory.mktemp("prom-stack")) as stack:
        yield stack


@pytest.fixture
async def prom(prom_stack: PromStack) -> AsyncIterator[PrometheusClient]:
    client = PrometheusClient(
        "local",
        PrometheusEndpoint(url=prom_stack.prometheus, timeout_s=10, retries=1),
        max_response_bytes=8 * 2**20,
    )
    try:
        yield client
    finally:
        await client.aclose()
