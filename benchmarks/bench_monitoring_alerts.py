"""am_alerts through an MCP client session vs the same call straight to Alertmanager with httpx.

    python benchmarks/bench_monitoring_alerts.py [--calls 300]

Starts the real stack from Debian (as the integration tests do: Prometheus sends its alerts to
Alertmanager, which routes, groups and inhibits them), then measures in one run, interleaved in
blocks so both sides see the same machine load:
  - baseline: `httpx.AsyncClient` GET /api/v2/alerts and decoding the JSON;
  - MCP: `am_alerts` called through `mcp.Client` on the in-memory transport (guard, rate limiter with
    quotas set high enough never to refuse, audit, matcher parsing, state filters, paging, redaction,
    serialisation, and the client's own check of the result against the output schema).
Prints wall-clock p50 / p95 / mean, CPU time per call and the ratio at p50. Asserts nothing.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
from pathlib import Path

import anyio
import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_monitoring import BLOCK, Series
from servers.monitoring.server import build_server
from shared.settings import SuiteConfig
from tests.integration.monitoring.prom_stack import prometheus_stack


async def compare(
    http: httpx.AsyncClient, mcp: Client, args: dict[str, object], params: dict[str, str], calls: int
) -> None:
    async def baseline() -> object:
        response = await http.get("/api/v2/alerts", params=params)
        response.raise_for_status()
        return response.json()

    async def tool() -> object:
        result = await mcp.call_tool("am_alerts", args)
        if result.is_error:
            raise RuntimeError(result.content)
        return result.structured_content

    alerts = len(await baseline())  # type: ignore[arg-type]
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
    print(f"\nam_alerts({args}) — {alerts} alerts: {calls} calls each, interleaved in blocks of {BLOCK}")
    print(f"{'':26} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'cpu ms/call':>9}")
    print(direct.row("httpx -> Alertmanager"))
    print(via_mcp.row("MCP client -> am_alerts"))
    print(f"ratio at p50: {p50_mcp / p50_direct:.2f}x ({p50_mcp - p50_direct:+.3f} ms)")


async def run(alertmanager: str, calls: int) -> None:
    quota = {"rate": 1e6, "burst": 1_000_000}
    config = SuiteConfig(
        monitoring={"alertmanagers": {"local": {"url": alertmanager}}},
        limits={"global": quota, "identity": quota},
    )
    async with (
        httpx.AsyncClient(base_url=alertmanager, timeout=10) as http,
        Client(build_server(config)) as mcp,
    ):
        await compare(http, mcp, {}, {}, calls)
        await compare(http, mcp, {"matchers": ['alertname="CodeShardHot"']},
                      {"filter": 'alertname="CodeShardHot"'}, calls)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    with (
        tempfile.TemporaryDirectory(prefix="bench-monitoring-alerts-") as folder,
        prometheus_stack(Path(folder)) as stack,
    ):
        anyio.run(run, stack.alertmanager, args.calls)


if __name__ == "__main__":
    main()
