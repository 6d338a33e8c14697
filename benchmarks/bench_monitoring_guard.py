"""How close the PromQL cost guard's estimate comes to the samples Prometheus really reads.

    python benchmarks/bench_monitoring_guard.py [--series 200]

Backfills a Prometheus (promtool, as the SLO tests do) with `--series` gauges scraped every 15 s
over 8 hours — each series with its own scrape offset, as real targets have, and a quarter of them
starting only halfway through — then runs three query shapes through the guard (`cost_ops.check_cost`,
against the real `/api/v1/series`) and through Prometheus with `stats=all`, and prints the estimate
next to `totalQueryableSamples` (the subquery's inner evaluation, which Prometheus's statistics leave
out, is printed apart). Asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import anyio
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servers.monitoring.cost_ops import CostLimits, check_cost
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import PrometheusEndpoint
from tests.integration.monitoring.backfill import backfilled_prometheus

HOURS = 8
SCRAPE = 15
SHAPES = [
    ("range: plain selector", "bench_value_total", 3600, 30),
    ("range: rate over 5m", "rate(bench_value_total[5m])", 3600, 60),
    ("range: subquery", "max_over_time(rate(bench_value_total[5m])[30m:1m])", 3600, 300),
    ("instant: range selector", "sum(count_over_time(bench_value_total[2h]))", 0, 1),
    # Over the whole history a quarter of the series exist only for its second half: an upper bound.
    ("range: series appear", "bench_value_total", HOURS * 3600 - 600, 300),
]


def history(series: int, end: int) -> str:
    rng = random.Random(17)
    lines = ["# TYPE bench_value counter"]
    start = end - HOURS * 3600
    for index in range(series):
        offset = rng.uniform(0, SCRAPE)
        first = start + (HOURS * 1800 if index % 4 == 3 else 0)  # a quarter appear halfway
        at, value = first + offset, 0.0
        while at <= end:
            value += rng.uniform(0, 10)
            lines.append(f'bench_value_total{{instance="i{index:04d}"}} {value:.3f} {at:.3f}')
            at += SCRAPE
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


async def measure(url: str, end: float) -> None:
    client = PrometheusClient(
        "bench", PrometheusEndpoint(url=url, scrape_interval_s=SCRAPE), max_response_bytes=2**24
    )
    limits = CostLimits(enabled=True, max_samples=10**12, max_selectors=20, scrape_interval_s=SCRAPE)
    print(f"{'shape':26} {'estimated':>11} {'actual':>11} {'est/actual':>10} {'inner (not in stats)':>21}")
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for name, expr, span, step in SHAPES:
            start = end - span
            found = await check_cost(client, expr, start=start, end=end, step=step, limits=limits)
            assert found is not None
            if span:
                params = {
                    "query": expr,
                    "start": f"{start}",
                    "end": f"{end}",
                    "step": f"{step}",
                    "stats": "all",
                }
                reply = (await http.post("/api/v1/query_range", data=params)).json()
            else:
                reply = (
                    await http.post("/api/v1/query", data={"query": expr, "time": f"{end}", "stats": "all"})
                ).json()
            actual = reply["data"]["stats"]["samples"]["totalQueryableSamples"]
            ratio = found.counted / actual
            print(f"{name:26} {found.counted:11.0f} {actual:11d} {ratio:10.3f} {found.inner:21.0f}")
            print(f"{'':26} {expr}")
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--series", type=int, default=200)
    args = parser.parse_args()
    end = int(__import__("time").time()) // 60 * 60 - 300
    with tempfile.TemporaryDirectory(prefix="bench-guard-") as folder:
        text = history(args.series, end)
        with backfilled_prometheus(Path(folder), text, scrape_interval=f"{SCRAPE}s") as url:
            print(f"{args.series} series, scraped every {SCRAPE}s for {HOURS}h (a quarter from halfway)\n")
            anyio.run(measure, url, float(end))


if __name__ == "__main__":
    main()
