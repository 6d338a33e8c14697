"""The CODE suite's own metrics: calls, errors, refusals and latency per tool, from `/metrics`.

The metric names are those `shared.metrics.Metrics` exports; the text is parsed with
prometheus_client's own parser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import anyio
import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from servers.monitoring.models import SuiteMetrics, SuiteServerStatus, ToolStats

_CALLS = "code_mcp_tool_calls"
_ERRORS = "code_mcp_tool_errors"
_REFUSALS = "code_mcp_tool_refusals"
_LATENCY = "code_mcp_tool_latency_seconds"
_MAX_BYTES = 4 * 2**20


class _Tally:
    def __init__(self) -> None:
        self.calls = 0.0
        self.errors = 0.0
        self.refusals = 0.0
        self.latency_sum = 0.0
        self.latency_count = 0.0


def parse(text: str) -> list[Metric]:
    """The metric families of a Prometheus text exposition; `ValueError` if it is not one."""
    return list(text_string_to_metric_families(text))


def tally(sources: Iterable[tuple[str, list[Metric]]]) -> list[ToolStats]:
    """Per-(server, tool) figures from `(source name, metric families)` pairs, busiest first.

    The `server` label wins over the source name, so one `/metrics` of `serve suite` (all four
    servers in one process) is split per server correctly.
    """
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    for source, families in sources:
        for family in families:
            if family.name not in (_CALLS, _ERRORS, _REFUSALS, _LATENCY):
                continue
            for sample in family.samples:
                key = (sample.labels.get("server", source), sample.labels.get("tool", ""))
                entry = tallies[key]
                if sample.name == f"{_CALLS}_total":
                    entry.calls += sample.value
                elif sample.name == f"{_ERRORS}_total":
                    entry.errors += sample.value
                elif sample.name == f"{_REFUSALS}_total":
                    entry.refusals += sample.value
                elif sample.name == f"{_LATENCY}_sum":
                    entry.latency_sum += sample.value
                elif sample.name == f"{_LATENCY}_count":
                    entry.latency_count += sample.value
    stats = [
        ToolStats(
            server=server,
            tool=tool,
            calls=t.calls,
            errors=t.errors,
            refusals=t.refusals,
            avg_latency_ms=round(t.latency_sum / t.latency_count * 1000, 3) if t.latency_count else None,
        )
        for (server, tool), t in tallies.items()
    ]
    stats.sort(key=lambda s: (-s.calls, s.server, s.tool))
    return stats


async def _read(client: httpx.AsyncClient, url: str) -> str:
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > _MAX_BYTES:
                raise ValueError(f"/metrics is larger than {_MAX_BYTES // 2**20} MiB")
        return data.decode("utf-8", errors="replace")


async def suite_metrics(
    servers: dict[str, str], *, timeout_s: float, local: str | None = None
) -> SuiteMetrics:
    """Read every configured server's `/metrics` concurrently; `local` is this process's own text."""
    statuses: dict[str, SuiteServerStatus] = {}
    sources: list[tuple[str, list[Metric]]] = []
    if local is not None:
        sources.append(("monitoring", parse(local)))

    async def read_one(client: httpx.AsyncClient, name: str, url: str) -> None:
        try:
            with anyio.fail_after(timeout_s * 2):
                families = parse(await _read(client, url))
        except (httpx.HTTPError, ValueError, TimeoutError) as exc:
            statuses[name] = SuiteServerStatus(
                server=name, url=url, up=False, error=f"{type(exc).__name__}: {exc}"
            )
            return
        statuses[name] = SuiteServerStatus(server=name, url=url, up=True)
        sources.append((name, families))

    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False)
    async with http as client, anyio.create_task_group() as group:
        for name, url in servers.items():
            group.start_soon(read_one, client, name, url)
    tools = tally(sources)
    down = [s.server for s in statuses.values() if not s.up]
    note = None
    if not servers:
        note = "No CODE servers configured in [monitoring] suite_servers; showing this process only."
    elif down:
        note = f"Could not read /metrics of: {', '.join(sorted(down))}."
    return SuiteMetrics(servers=[statuses[n] for n in servers], tools=tools, note=note)
