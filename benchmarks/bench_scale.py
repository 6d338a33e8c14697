"""Scale-out: the cost of a fleet-wide (Redis) rate-limit check, and one replica vs two sharing a quota.

    python -m benchmarks.bench_scale [--checks 5000] [--seconds 4] [--clients 8]

Figures from one run on this machine, each against a baseline measured in the same run:

1. µs per check of the four nested tool-call rules (best of 5 blocks): the in-process Rust limiter
   (baseline) vs the Redis GCRA script (the asyncio client the limiter uses), against a real
   redis-server on loopback, with a bare PING round trip for scale.
2. Real replicas (`code-mcp`'s HTTP app, stateless streamable HTTP, one process each) serving a
   guarded echo tool to `--clients` concurrent MCP sessions spread over the replicas:
   a. quotas far above the load: calls/s of 1 replica (memory limiter, baseline), 1 replica and
      2 replicas on Redis;
   b. a binding fleet quota (global 20/s, burst 10): calls admitted per second by 2 replicas with
      per-process limits (each admits the whole quota) vs 2 replicas sharing it in Redis.

Servers and Redis run as subprocesses on free loopback ports; nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
UNBOUND = {"rate": 1_000_000, "burst": 1_000_000}
BINDING = {"rate": 20, "burst": 10}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    import redis

    port = _free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*argv, "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- 1. cost of one check


def check_costs(url: str, checks: int) -> None:
    import anyio

    from shared.ratelimit import CallLimiter, QuotaSpec
    from shared.redis_limiter import RedisCallLimiter
    from shared.settings import RedisSettings

    quotas: dict[str, QuotaSpec | None] = {
        r: QuotaSpec(1e6, 1_000_000) for r in ("global", "identity", "tool")
    }
    quotas["identity_tool"] = QuotaSpec(1e6, 1_000_000)
    local = CallLimiter(quotas)

    def per_check(check: Any, n: int) -> float:
        """The best of 5 blocks (the machine is shared: the best block is the least disturbed)."""
        for i in range(200):
            check(server="bench", tool="echo", subject=f"k{i % 10}")
        blocks = []
        for _ in range(5):
            start = time.perf_counter()
            for i in range(n // 5):
                check(server="bench", tool="echo", subject=f"k{i % 10}")
            blocks.append((time.perf_counter() - start) / (n // 5) * 1e6)
        return min(blocks)

    async def per_acheck(check: Any, n: int) -> float:
        for i in range(200):
            await check(server="bench", tool="echo", subject=f"k{i % 10}")
        blocks = []
        for _ in range(5):
            start = time.perf_counter()
            for i in range(n // 5):
                await check(server="bench", tool="echo", subject=f"k{i % 10}")
            blocks.append((time.perf_counter() - start) / (n // 5) * 1e6)
        return min(blocks)

    async def fleet_costs() -> tuple[float, float]:
        fleet = RedisCallLimiter(quotas, RedisSettings.model_validate({"url": url}))

        async def round_trip(**_: Any) -> None:
            await fleet._client.ping()  # the bare round trip, for scale

        try:
            return await per_acheck(round_trip, checks), await per_acheck(fleet.check, checks)
        finally:
            await fleet.aclose()

    rust_us = per_check(local.check_now, checks * 10)
    ping_us, redis_us = anyio.run(fleet_costs)
    _out("## cost of one check (4 nested rules)")
    _out(f"{'limiter':34} {'µs/check':>10} {'x baseline':>11}")
    for name, value in (
        ("in-process Rust (baseline)", rust_us),
        ("Redis PING round trip (for scale)", ping_us),
        ("Redis GCRA script (asyncio client)", redis_us),
    ):
        _out(f"{name:34} {value:10.1f} {value / rust_us:11.1f}")


# --------------------------------------------------------------------------- 2. replicas


def _serve(backend: str, url: str, port: int, rate: float, burst: int) -> None:
    """One replica: the echo tool behind the whole shared stack, on stateless streamable HTTP."""
    from benchmarks.bench_shared import build_shared
    from shared.runner import Mounted, build_http_app, run_http
    from shared.runtime import Runtime
    from shared.settings import SuiteConfig

    quota = {"rate": rate, "burst": burst}
    config = SuiteConfig.model_validate(
        {
            "auth": {"allow_unauthenticated_loopback": True},
            "limits": {"global": quota, "identity": UNBOUND, "backend": backend},
            "redis": {"url": url},
            "logging": {"level": "WARNING"},
        }
    )
    runtime = Runtime.from_config(config)
    app = build_http_app(
        [Mounted("", build_shared(config, runtime=runtime))], runtime, port=port, stateless=True
    )
    run_http(app, runtime, host="127.0.0.1", port=port)


@asynccontextmanager
async def replicas(
    count: int, backend: str, url: str, quota: Mapping[str, float]
) -> AsyncIterator[list[str]]:
    import anyio
    import httpx

    ports = [_free_port() for _ in range(count)]
    procs = []
    for port in ports:
        argv = [sys.executable, "-m", "benchmarks.bench_scale", "_serve", backend, url, str(port)]
        argv += [str(quota["rate"]), str(int(quota["burst"]))]
        procs.append(
            await anyio.open_process(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    try:
        async with httpx.AsyncClient() as http:
            for port in ports:
                with anyio.fail_after(60):
                    while True:
                        try:
                            if (
                                await http.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                            ).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await anyio.sleep(0.1)
        yield [f"http://127.0.0.1:{port}/mcp" for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        with anyio.fail_after(20):
            for proc in procs:
                await proc.wait()


async def drive(urls: list[str], clients: int, seconds: float) -> tuple[float, float]:
    """(calls/s, admitted calls/s) of `clients` sessions spread round-robin over the replicas."""
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.exceptions import MCPError

    calls = admitted = 0
    ready = anyio.Event()
    opened = 0
    stop_at = 0.0

    async def one(url: str) -> None:
        nonlocal calls, admitted, opened, stop_at
        async with (
            httpx2.AsyncClient(timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            opened += 1
            if opened == clients:
                stop_at = time.perf_counter() + seconds
                ready.set()
            await ready.wait()
            while time.perf_counter() < stop_at:
                try:
                    result = await client.call_tool("echo", {"text": "hello"})
                except MCPError:  # 429 at the HTTP edge: the caller's quota is spent
                    calls += 1
                    continue
                calls += 1
                admitted += not result.is_error

    async with anyio.create_task_group() as tg:
        for i in range(clients):
            tg.start_soon(one, urls[i % len(urls)])
    return calls / seconds, admitted / seconds


async def replica_runs(url: str, clients: int, seconds: float) -> None:
    _out()
    _out(f"## throughput: {clients} concurrent MCP sessions, stateless streamable HTTP, {seconds:.0f} s each")
    _out(f"{'setup':44} {'calls/s':>9} {'admitted/s':>11} {'x baseline':>11}")
    baseline = 0.0
    runs = [
        ("1 replica, in-process limits (baseline)", 1, "memory", UNBOUND),
        ("1 replica, Redis limits", 1, "redis", UNBOUND),
        ("2 replicas, one Redis quota", 2, "redis", UNBOUND),
        ("2 replicas, per-process quota 20/s", 2, "memory", BINDING),
        ("2 replicas, one Redis quota 20/s", 2, "redis", BINDING),
    ]
    for name, count, backend, quota in runs:
        async with replicas(count, backend, url, quota) as urls:
            rate, ok = await drive(urls, clients, seconds)
        baseline = baseline or rate
        _out(f"{name:44} {rate:9.0f} {ok:11.0f} {rate / baseline:11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    import anyio

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        check_costs(url, args.checks)
        anyio.run(replica_runs, url, args.clients, args.seconds)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        backend, url, port, rate, burst = sys.argv[2:7]
        _serve(backend, url, int(port), float(rate), int(burst))
    else:
        main()
