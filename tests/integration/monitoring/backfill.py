"""A Prometheus holding history written for the test: OpenMetrics → `promtool tsdb
create-blocks-from openmetrics` → TSDB blocks → a Prometheus started on them (no scraping).

Backfilling gives exact, known windows (30 days of an SLO in seconds, not 30 days of waiting), and a
fixed evaluation time makes every rate exact. The SLO history: three services at 10 requests/s,
sampled every 60 s over the last 4 days and every 10 min before, back 31 days, ending at `end`:

- `checkout`: 0.05 % of requests fail (burn rate 0.5 of a 99.9 % target), but 2 % (burn 20) in the
  last 90 minutes — a fast burn: the 1h/5m page fires, nothing else does.
- `api`: no failure until 4 days ago, then 0.15 % (burn 1.5) — a slow burn: only the 3d/6h ticket.
- `quiet`: never fails.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.monitoring.prom_stack import service_process
from tests.support.services import free_port, require_program

DAY = 86_400
HISTORY_S = 31 * DAY
FINE_S = 4 * DAY + 3600  # sampled every minute within this much of the end
RATE = 10.0  # requests per second, every service

# service -> error ratio at `seconds before the end`
SLO_ERROR_RATIO: dict[str, Callable[[float], float]] = {
    "checkout": lambda ago: 0.02 if ago <= 5400 else 0.0005,
    "api": lambda ago: 0.0015 if ago <= 4 * DAY else 0.0,
    "quiet": lambda ago: 0.0,
}


@dataclass(frozen=True)
class Backfilled:
    """A Prometheus on backfilled blocks, and the time its history ends (evaluate there)."""

    url: str
    end: float


def slo_history(end: int) -> str:
    """The OpenMetrics text of every service's request counters, ending at `end` (a multiple of 60)."""
    times = list(range(end - HISTORY_S, end - FINE_S, 600)) + list(range(end - FINE_S, end + 1, 60))
    lines = ["# TYPE slo_requests counter", "# HELP slo_requests Requests served, by status code."]
    for service, ratio in SLO_ERROR_RATIO.items():
        total = failed = 0.0
        previous = times[0]
        for at in times:
            served = RATE * (at - previous)
            # The ratio of the interval that ends at `at` (a counter's slope between two samples).
            failed += served * ratio(end - at + 1)
            total += served
            previous = at
            lines.append(f'slo_requests_total{{service="{service}",code="200"}} {total - failed:.6f} {at}')
            lines.append(f'slo_requests_total{{service="{service}",code="500"}} {failed:.6f} {at}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@contextmanager
def backfilled_prometheus(folder: Path, openmetrics: str, *, scrape_interval: str = "1m") -> Iterator[str]:
    """Prometheus serving blocks made from `openmetrics`; yields its URL."""
    prometheus = require_program("prometheus")
    promtool = require_program("promtool")
    tsdb = folder / "tsdb"
    source = folder / "history.om"
    source.write_text(openmetrics)
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(tsdb)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    config = folder / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: 1m}}\n")
    args = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tsdb}",
        "--storage.tsdb.retention.time=400d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    with service_process(args, folder / "prometheus.log", f"{url}/-/ready", "backfilled Prometheus"):
        yield url


@contextmanager
def slo_prometheus(folder: Path) -> Iterator[Backfilled]:
    """The SLO history above in a Prometheus; `end` is two minutes ago, on a minute boundary."""
    end = int(time.time()) // 60 * 60 - 120
    with backfilled_prometheus(folder, slo_history(end)) as url:
        yield Backfilled(url, float(end))
