"""Fixtures: the real Prometheus stack and a Prometheus on backfilled SLO history (each started once
per session), and clients pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import PrometheusEndpoint
from tests.integration.monitoring.backfill import Backfilled, slo_prometheus
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


@pytest.fixture(scope="session")
def slo_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    """A Prometheus on 31 days of backfilled SLO history (see backfill.py)."""
    with slo_prometheus(tmp_path_factory.mktemp("slo-prometheus")) as backfilled:
        yield backfilled
