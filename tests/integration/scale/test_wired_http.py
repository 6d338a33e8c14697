"""`code-mcp serve` processes with `[limits] backend = "redis"`, over stateless streamable HTTP:
two replicas share one quota, and a replica says in /healthz and /metrics when Redis is gone.

Runs once shared/config.py and shared/runtime.py select the Redis backend (the wiring diff in
docs/readme/scale-out.md); skipped before that."""

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

from shared.settings import LimitSettings
from tests.integration.scale.redis_service import RedisServer
from tests.support.services import free_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        "redis" not in LimitSettings.model_fields, reason="[limits] backend 'redis' not wired yet"
    ),
]
ROOT = Path(__file__).resolve().parents[3]


def write_config(tmp: Path, redis_url: str, fail: str = "open") -> Path:
    config = {
        "role": "operator",
        "auth": {"allow_unauthenticated_loopback": True, "anonymous_role": "operator"},
        "limits": {
            "backend": "redis",
            "global": {"rate": 1, "burst": 6, "period_s": 3600},
            "redis": {"url": redis_url, "fail": fail, "retry_interval_s": 0.1},
        },
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
                            if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
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


async def test_a_replica_reports_redis_down_in_healthz_and_metrics(
    tmp_path: Path, redis_srv: RedisServer
) -> None:
    async with (
        replicas(tmp_path, write_config(tmp_path, redis_srv.url), 1) as (base,),
        httpx.AsyncClient() as http,
    ):
        with anyio.fail_after(120):
            assert (await http.get(base + "/healthz")).json()["limits"]["status"] == "ok"
            async with session(base) as client:
                assert await echo(client)
                redis_srv.kill()
                assert await echo(client)  # fail open: local limits
            health = (await http.get(base + "/healthz")).json()
            metrics = (await http.get(base + "/metrics")).text
    assert health["status"] == "degraded"
    assert health["limits"]["fallback"] == "local limits"
    assert 'code_mcp_ratelimit_backend_up{backend="redis"} 0.0' in metrics
