"""Two replicas of a real server (each its own Runtime, as two pods would have) behind real MCP
client sessions, sharing one quota through Redis: the guard refuses, fleet-wide, once it is spent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client

from shared.runtime import Runtime
from shared.settings import SuiteConfig
from tests.integration.scale.redis_service import RedisServer
from tests.support.demo_server import build_server

pytestmark = pytest.mark.anyio


def replica(url: str, *, fail: str = "open") -> tuple[Any, Runtime]:
    config = SuiteConfig.model_validate(
        {
            "role": "operator",
            "limits": {
                "backend": "redis",
                "fail": fail,
                "retry_interval_s": 0.05,
                "global": {"rate": 1, "burst": 6, "period_s": 3600},
                "identity": None,
            },
            "redis": {"url": url},
        }
    )
    runtime = Runtime.from_config(config)
    return build_server(config, runtime=runtime), runtime


@asynccontextmanager
async def two_replicas(url: str) -> AsyncIterator[list[Client]]:
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            server, _runtime = replica(url)
            clients.append(await stack.enter_async_context(Client(server)))
        yield clients


async def test_replicas_share_one_quota(redis_srv: RedisServer) -> None:
    async with two_replicas(redis_srv.url) as (first, second):
        with anyio.fail_after(30):
            outcomes = []
            for i in range(10):
                client = first if i % 2 == 0 else second
                result = await client.call_tool("demo_echo", {"text": f"call {i}"})
                outcomes.append(result)
    admitted = [r for r in outcomes if not r.is_error]
    refused = [r for r in outcomes if r.is_error]
    assert len(admitted) == 6  # the fleet's burst, though each replica alone would admit 6
    for result in refused:
        assert result.structured_content is not None
        assert result.structured_content["error"] == "rate_limited"
        assert result.structured_content["retry_after_ms"] > 0
        assert "global quota" in result.structured_content["message"]


async def test_costs_are_charged_fleet_wide(redis_srv: RedisServer) -> None:
    async with two_replicas(redis_srv.url) as (first, second):
        with anyio.fail_after(30):
            for client in (first, second, first):
                assert not (await client.call_tool("demo_costly", {})).is_error  # 2 cells each
            assert (await second.call_tool("demo_echo", {"text": "x"})).is_error


async def test_a_replica_reports_the_fallback_in_its_metrics(redis_srv: RedisServer) -> None:
    server, runtime = replica(redis_srv.url)
    async with Client(server) as client:
        with anyio.fail_after(30):
            assert not (await client.call_tool("demo_echo", {"text": "x"})).is_error
            redis_srv.kill()
            assert not (await client.call_tool("demo_echo", {"text": "x"})).is_error  # fail open
    exposition = runtime.metrics.exposition().decode()
    assert 'code_mcp_ratelimit_backend_up{backend="redis"} 0.0' in exposition
    assert 'code_mcp_ratelimit_fallback_checks_total{policy="open"} 1.0' in exposition
