"""prom_query through an MCP client session vs the same query straight to Prometheus with httpx.

    python benchmarks/bench_monitoring.py [--calls 300] [--expr up --expr node_cpu_seconds_total]

Starts the real Prometheus stack from Debian (as the integration tests do), then measures, in one
run and interleaved in blocks so both sides see the same machine load:
  - baseline: `httpx.AsyncClient` POSTing /api/v1/query and decoding the JSON;
  - MCP: `prom_query` called through `mcp.Client` on the in-memory transport (guard, rate limiter
    with quotas set high enough never to refuse, audit, validation, redaction and serialisation
    included, and the client's own check of the result against the tool's output schema).
Prints wall-clock p50 / p95 / mean, CPU time per call, and the overhead at p50. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.monitoring.server import build_server
from shared.settings import SuiteConfig
from tests.integration.monitoring.prom_stack import prometheus_stack

BLOCK = 25


class Series:
    """Wall-clock samples (ms) and CPU seconds spent, for one side of the comparison."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu = 0.0

    async def run(self, fn: Callable[[], Awaitable[object]], n: int) -> None:
        cpu = time.process_time()
        for _ in range(n):
            started = time.perf_counter()
            await fn()
            self.wall.append((time.perf_counter() - started) * 1000)
        self.cpu += time.process_time() - cpu

    def row(self, name: str) -> str:
        ordered = sorted(self.wall)
        p95 = ordered[min(int(0.95 * len(ordered)), len(ordered) - 1)]
        cpu_ms = self.cpu / len(self.wall) * 1000
        return (
            f"{name:26} {statistics.median(self.wall):8.3f} {p95:8.3f} "
            f"{statistics.fmean(self.wall):8.3f} {cpu_ms:9.3f}"
        )


async def compare(http: httpx.AsyncClient, mcp: Client, expr: str, calls: int) -> None:
    async def baseline() -> object:
        response = await http.post("/api/v1/query", data={"query": expr, "time": f"{time.time():.3f}"})
        response.raise_for_status()
        return response.json()

    async def tool() -> object:
        result = await mcp.call_tool("prom_query", {"expr": expr})
        if result.is_error:
            raise RuntimeError(result.content)
        return result.structured_content

    await Series().run(baseline, 20)  # warm-up: connections, caches, lazy imports
    await Series().run(tool, 20)
    direct, via_mcp = Series(), Series()
    done = 0
    while done < calls:
        n = min(BLOCK, calls - done)
        await direct.run(baseline, n)
        await via_mcp.run(tool, n)
        done += n
    p50_direct, p50_mcp = statistics.median(direct.wall), statistics.median(via_mcp.wall)
    print(f"\nprom_query({expr!r}): {calls} calls each, interleaved in blocks of {BLOCK}")
    print(f"{'':26} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'cpu ms/call':>9}")
    print(direct.row("httpx -> Prometheus"))
    print(via_mcp.row("MCP client -> prom_query"))
    overhead = (p50_mcp / p50_direct - 1) * 100
    print(f"overhead at p50: {p50_mcp - p50_direct:+.3f} ms ({overhead:+.1f}%; target <= 15%)")


async def run(prometheus: str, calls: int, exprs: list[str]) -> None:
    # Quotas far above the call rate: the limiter still runs on every call, but never refuses one.
    quota = {"rate": 1e6, "burst": 1_000_000}
    config = SuiteConfig(
        monitoring={"endpoints": {"local": {"url": prometheus}}},
        limits={"global": quota, "identity": quota},
    )
    async with (
        httpx.AsyncClient(base_url=prometheus, timeout=10) as http,
        Client(build_server(config)) as mcp,
    ):
        for expr in exprs:
            await compare(http, mcp, expr, calls)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--expr", action="append", help="PromQL to time (repeatable)")
    args = parser.parse_args()
    exprs = args.expr or ["up", "node_cpu_seconds_total"]
    with (
        tempfile.TemporaryDirectory(prefix="bench-monitoring-") as folder,
        prometheus_stack(Path(folder)) as stack,
    ):
        anyio.run(run, stack.prometheus, args.calls, exprs)


if __name__ == "__main__":
    main()
