"""`code-mcp serve` processes with `[limits] backend = "redis"`, over stateless streamable HTTP:
two replicas share one quota; when Redis is gone a replica stays up under `fail = "open"` (and says
so in /metrics) and goes down under `fail = "closed"`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
import tomli_w
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.integration.scale.redis_service import RedisServer
from tests.support.services import free_port

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]


def write_config(tmp: Path, redis_url: str, fail: str = "open") -> Path:
    config = {
        "role": "operator",
        "auth": {"allow_unauthenticated_loopback": True, "anonymous_role": "operator"},
        "limits": {
            "backend": "redis",
            "fail": fail,
            "retry_interval_s": 0.1,
            "global": {"rate": 1, "burst": 6, "period_s": 3600},
        },
        "redis": {"url": redis_url},
        "logging": {"level": "WARNING"},
    }
    path = tmp / f"config-{fail}.toml"
    path.write_text(tomli_w.dumps(config))
    return path


@asynccontextmanager
async def replicas(tmp: Path, config: Path, count: int) -> AsyncIterator[list[str]]:
    ports = [free_port() for _ in range(count)]
    procs = []
    for i, port in enumerate(ports):
        argv = [sys.executable, "-m", "servers", "serve", "tests.support.demo_server:build_server"]
        argv += ["--transport", "http", "--stateless", "--port", str(port), "--config", str(config)]
        with (tmp / f"replica-{i}.log").open("wb") as log:
            procs.append(await anyio.open_process(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log))
    try:
        async with httpx.AsyncClient() as http:
            for port in ports:
                with anyio.fail_after(60):
                    while True:
                        try:
                            if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code in (200, 503):
                                break
                        except httpx.TransportError:
                            await anyio.sleep(0.1)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        with anyio.fail_after(20):
            for proc in procs:
                await proc.wait()


@asynccontextmanager
async def session(base: str) -> AsyncIterator[Client]:
    """A session that has listed the tools first: the client validates results against that list
    instead of asking again after each call (which the edge would answer 429 once the quota is spent)."""
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(streamable_http_client(base + "/mcp", http_client=http)) as client,
    ):
        await client.list_tools()
        yield client


async def echo(client: Client) -> bool:
    """True when admitted; a refusal is a tool error from the guard, or 429 at the HTTP edge."""
    try:
        return not (await client.call_tool("demo_echo", {"text": "hi"})).is_error
    except MCPError:
        return False


async def test_two_replicas_admit_no_more_than_the_quota_together(
    tmp_path: Path, redis_srv: RedisServer
) -> None:
    async with replicas(tmp_path, write_config(tmp_path, redis_srv.url), 2) as (first, second):
        with anyio.fail_after(120):
            async with session(first) as one, session(second) as two:
                admitted = [await echo(one if i % 2 == 0 else two) for i in range(10)]
    assert sum(admitted) == 6  # the fleet's burst, though each replica alone would admit 6


async def test_fail_open_stays_up_on_local_limits_and_says_so_in_metrics(
    tmp_path: Path, redis_srv: RedisServer
) -> None:
    async with (
        replicas(tmp_path, write_config(tmp_path, redis_srv.url), 1) as (base,),
        httpx.AsyncClient() as http,
    ):
        with anyio.fail_after(120):
            assert (await http.get(base + "/healthz")).json() == {"status": "up"}
            async with session(base) as client:
                assert await echo(client)
                redis_srv.kill()
                assert await echo(client)  # fail open: local limits
            health = await http.get(base + "/healthz")
            metrics = (await http.get(base + "/metrics")).text
    assert (health.status_code, health.json()) == (200, {"status": "up"})  # nothing more to a prober
    assert 'code_mcp_ratelimit_backend_up{backend="redis"} 0.0' in metrics
    assert 'code_mcp_ratelimit_fallback_checks_total{policy="open"} 1.0' in metrics


async def test_fail_closed_is_down_while_redis_is(tmp_path: Path, redis_srv: RedisServer) -> None:
    async with (
        replicas(tmp_path, write_config(tmp_path, redis_srv.url, "closed"), 1) as (base,),
        httpx.AsyncClient() as http,
    ):
        with anyio.fail_after(120):
            async with session(base) as client:
                assert await echo(client)
                redis_srv.kill()
                assert not await echo(client)  # every call refused, not admitted without a quota
            health = await http.get(base + "/healthz")
    assert (health.status_code, health.json()) == (503, {"status": "down"})
