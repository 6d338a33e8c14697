"""The monitoring MCP server: wiring only. The logic lives in the `*_ops.py` modules.

Tools: Prometheus queries and metadata on named endpoints (`prom_*`), endpoint health
(`health_check`), the host (`host_stats`, psutil, no Prometheus needed) and the suite's own metrics
(`suite_metrics`). All are read-only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import httpx
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from servers.monitoring import alert_ops, host_ops, prom_ops, status_ops, suite_ops
from servers.monitoring.backends import Backends
from servers.monitoring.models import (
    Alert,
    AlertExplanation,
    Endpoint,
    EndpointInfo,
    EndpointList,
    HealthReport,
    HostStats,
    Matchers,
    MetricMetadata,
    PromStatus,
    QueryResult,
    RangeResult,
    Rule,
    Search,
    SuiteMetrics,
    Target,
    TimeArg,
)
from servers.monitoring.settings import MonitoringSettings
from servers.monitoring.time_args import parse_duration, parse_time
from shared.errors import InvalidArgument
from shared.paging import Cursor, Page, page
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit
from shared.urls import ResolvedUrl

INSTRUCTIONS = """Find out what is wrong with production right now, with bounded, readable answers.
Start with prom_alerts (what is firing) and prom_targets(health='down'), then prom_explain_alert for
one alert, prom_query / prom_query_range for numbers (range results come summarised per series:
min/max/avg/last/trend), prom_labels / prom_label_values / prom_series / prom_metric_metadata to find
metric names, prom_status for Prometheus itself. Every prom_* tool takes `endpoint` (see
prom_endpoints). host_stats reads this machine without Prometheus; health_check probes URLs the policy
allows; suite_metrics shows the CODE servers' own call, error and latency figures."""


def _now() -> float:
    # A function, not `time.time` inline: tools take an argument named `time`.
    return time.time()


def build_server(
    config: SuiteConfig,
    *,
    runtime: Runtime | None = None,
    prometheus_transport: httpx.AsyncBaseTransport | None = None,
) -> MCPServer[Any]:
    """The monitoring server.

    Args:
        config: the suite configuration; `[monitoring]` names the Prometheus endpoints and limits.
        runtime: shared by every server of one process.
        prometheus_transport: an httpx transport for every Prometheus client (tests only).
    """
    settings = config.section("monitoring", MonitoringSettings)

    async def resolve_url(url: str) -> ResolvedUrl:
        return await kit.policy.resolve_url(url)

    backends = Backends(settings, resolve_url, prometheus_transport=prometheus_transport)

    @asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
        async with backends.session():
            yield

    kit = ServerKit("monitoring", config, runtime, instructions=INSTRUCTIONS, lifespan=lifespan)
    client_for = backends.prometheus

    def optional_time(text: str | None, now: float) -> float | None:
        return parse_time(text, now=now) if text is not None else None

    remote = kit.toolset(permission="monitoring:read", open_world=True)
    local = kit.toolset(permission="monitoring:read", open_world=False)

    @local.tool("prom_endpoints", "List Prometheus endpoints")
    async def prom_endpoints() -> EndpointList:
        """List the Prometheus endpoints the prom_* tools can query, by name."""
        endpoints = settings.endpoints
        default = settings.default_endpoint or (next(iter(endpoints)) if len(endpoints) == 1 else None)
        return EndpointList(
            endpoints=[
                EndpointInfo(
                    name=name,
                    url=ep.url,
                    auth="bearer" if ep.bearer_token else "basic" if ep.username else "none",
                    default=name == default,
                )
                for name, ep in sorted(settings.endpoints.items())
            ]
        )

    @remote.tool("prom_query", "Prometheus instant query")
    async def prom_query(
        expr: Annotated[
            str, Field(description="PromQL expression, e.g. sum by (job) (up)", max_length=10_000)
        ],
        time: TimeArg = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> QueryResult:
        """Evaluate a PromQL expression at one instant (default now): one value per series. Results
        with too many series are refused with advice (aggregate, add label matchers, topk). A bad
        expression returns Prometheus's parse error with its line and column."""
        if cursor is not None and time is None:
            raise InvalidArgument("pass the `time` of the first page together with `cursor`")
        now = _now()
        at = round(parse_time(time, now=now), 3)  # the precision `time` is shown with
        result = await prom_ops.instant_query(
            client_for(endpoint), expr, at=at, max_series=settings.max_series
        )
        cut = page(result.samples, resolved=f"{result.endpoint}|{at}")
        return result.model_copy(
            update={"samples": cut.items, "next_cursor": cut.next_cursor, "truncated": cut.truncated,
                    "note": cut.note}
        )  # fmt: skip

    @remote.tool("prom_query_range", "Prometheus range query, summarised")
    async def prom_query_range(
        expr: Annotated[
            str, Field(description="PromQL expression returning an instant vector", max_length=10_000)
        ],
        start: Annotated[str, Field(description="Start: now-1h, -30m, RFC 3339 or Unix seconds")],
        end: TimeArg = None,
        step: Annotated[
            str | None, Field(description="Resolution, e.g. 30s, 5m; omit to choose one automatically")
        ] = None,
        include_points: Annotated[
            bool,
            Field(description="Also return the raw [time, value] points (bounded); summaries always come"),
        ] = False,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> RangeResult:
        """Evaluate a PromQL expression over a time range and summarise each series: min, max, avg,
        first, last, trend (rising/falling/flat) and slope per hour. Raw points only on request.
        The step is chosen automatically when omitted; too many series or points are refused."""
        now = _now()
        # Rounded to the millisecond `start`/`end` are shown with, so the shown values page on exactly.
        start_s = round(parse_time(start, now=now), 3)
        end_s = round(parse_time(end, now=now), 3)
        result = await prom_ops.range_query(
            client_for(endpoint),
            expr,
            start=start_s,
            end=end_s,
            step=parse_duration(step) if step is not None else None,
            include_points=include_points,
            max_series=settings.max_series,
            max_points=settings.max_points,
            target_points=settings.target_points,
            max_raw_points=settings.max_raw_points,
        )
        cut = page(result.series, resolved=f"{result.endpoint}|{start_s}|{end_s}|{result.step_seconds}")
        note = cut.note
        if note:
            note += f" Pass start={result.start} and end={result.end} with the cursor so the range stays put."
        return result.model_copy(
            update={"series": cut.items, "next_cursor": cut.next_cursor, "truncated": cut.truncated,
                    "note": note}
        )  # fmt: skip

    @remote.tool("prom_labels", "List Prometheus label names")
    async def prom_labels(
        match: Matchers = None,
        search: Search = None,
        start: TimeArg = None,
        end: TimeArg = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[str]:
        """List label names (optionally only those of series matching `match`), paged."""
        now = _now()
        client = client_for(endpoint)
        names = await prom_ops.label_names(
            client,
            match=match or [],
            start=optional_time(start, now),
            end=optional_time(end, now),
            search=search,
        )
        return page(names, resolved=client.name)

    @remote.tool("prom_label_values", "List values of a Prometheus label")
    async def prom_label_values(
        label: Annotated[str, Field(description="Label name, e.g. job, instance, __name__ (metric names)")],
        match: Matchers = None,
        search: Search = None,
        start: TimeArg = None,
        end: TimeArg = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[str]:
        """List the values of one label, e.g. every job, or every metric name with label=__name__."""
        now = _now()
        client = client_for(endpoint)
        values = await prom_ops.label_values(
            client,
            label,
            match=match or [],
            start=optional_time(start, now),
            end=optional_time(end, now),
            search=search,
        )
        return page(values, resolved=client.name)

    @remote.tool("prom_series", "Find Prometheus series")
    async def prom_series(
        match: Annotated[
            list[str],
            Field(description='Series selectors, e.g. ["up{job=\\"node\\"}"]', min_length=1, max_length=20),
        ],
        search: Search = None,
        start: TimeArg = None,
        end: TimeArg = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[str]:
        """List the series (full label sets) matching selectors, paged."""
        now = _now()
        client = client_for(endpoint)
        series = await prom_ops.find_series(
            client, match=match, start=optional_time(start, now), end=optional_time(end, now), search=search
        )
        return page(series, resolved=client.name)

    @remote.tool("prom_metric_metadata", "Describe Prometheus metrics")
    async def prom_metric_metadata(
        metric: Annotated[str | None, Field(description="One metric name; omit to list all")] = None,
        search: Search = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[MetricMetadata]:
        """Type (counter, gauge, histogram…), help text and unit of metrics, from the exporters."""
        client = client_for(endpoint)
        found = await prom_ops.metric_metadata(client, metric=metric, search=search)
        return page(found, resolved=client.name)

    @remote.tool("prom_targets", "List Prometheus scrape targets")
    async def prom_targets(
        state: Annotated[
            Literal["active", "dropped", "any"], Field(description="active (default), dropped or any")
        ] = "active",
        health: Annotated[
            Literal["up", "down", "unknown"] | None, Field(description="Only targets in this health")
        ] = None,
        job: Annotated[str | None, Field(description="Only this scrape job")] = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[Target]:
        """List scrape targets with their health and last error, down ones first."""
        client = client_for(endpoint)
        targets = await status_ops.list_targets(client, state=state, health=health, job=job)
        return page(targets, resolved=client.name)

    @remote.tool("prom_alerts", "List active Prometheus alerts")
    async def prom_alerts(
        state: Annotated[
            Literal["firing", "pending"] | None, Field(description="Only firing or only pending alerts")
        ] = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[Alert]:
        """List the alerts now firing or pending, firing first, with labels, annotations and age."""
        client = client_for(endpoint)
        alerts = await alert_ops.active_alerts(client, state=state, now=_now())
        return page(alerts, resolved=client.name)

    @remote.tool("prom_rules", "List Prometheus alerting and recording rules")
    async def prom_rules(
        type: Annotated[
            Literal["alert", "record"] | None,
            Field(description="alert (alerting rules) or record (recording rules); omit for both"),
        ] = None,
        search: Search = None,
        endpoint: Endpoint = None,
        cursor: Cursor = None,
    ) -> Page[Rule]:
        """List alerting and recording rules: expression, health, state and how many alerts are active."""
        client = client_for(endpoint)
        rules = await alert_ops.list_rules(client, rule_type=type, search=search)
        return page(rules, resolved=client.name)

    @remote.tool("prom_status", "Prometheus server status")
    async def prom_status(endpoint: Endpoint = None) -> PromStatus:
        """Version, start time, retention, TSDB head series and the highest-cardinality metrics."""
        return await status_ops.server_status(client_for(endpoint))

    @remote.tool("prom_explain_alert", "Explain a Prometheus alert")
    async def prom_explain_alert(
        name: Annotated[str, Field(description="Alert name (alertname), e.g. HighErrorRate", max_length=200)],
        endpoint: Endpoint = None,
    ) -> AlertExplanation:
        """Explain one alert: its rule and expression, the expression's current value per series, its
        labels and annotations, which series are pending or firing and for how long."""
        return await alert_ops.explain_alert(
            client_for(endpoint), name, now=_now(), max_series=settings.max_series
        )

    @remote.tool("health_check", "Check HTTP endpoint health")
    async def health_check(
        urls: Annotated[list[str], Field(description="http(s) URLs to probe (the policy must allow each)")],
        expect_status: Annotated[
            int | None, Field(description="Status that counts as healthy; default any 2xx", ge=100, le=599)
        ] = None,
        expect_text: Annotated[
            str | None, Field(description="Text the body must contain (first 64 KiB)", max_length=1000)
        ] = None,
    ) -> HealthReport:
        """Probe URLs: status, latency, TLS certificate expiry (https) and expected body text.
        Redirects are reported, not followed. URLs outside the configured allowlist are refused."""
        return await backends.health().check(urls, expect_status=expect_status, expect_text=expect_text)

    @local.tool("host_stats", "Host CPU, memory, disk and processes")
    async def host_stats() -> HostStats:
        """CPU, memory, swap, disks, load average and the busiest processes of the machine this server
        runs on. Needs no Prometheus."""
        return await host_ops.host_stats(settings.top_processes)

    @remote.tool("suite_metrics", "CODE suite metrics")
    async def suite_metrics() -> SuiteMetrics:
        """Calls, errors, refusals and mean latency per tool of the CODE servers configured in
        [monitoring] suite_servers (of this process when none are configured)."""
        # This process's own figures only when no servers are configured (a configured /metrics may be
        # this very process, which would count every call twice).
        local = None if settings.suite_servers else kit.runtime.metrics.exposition().decode()
        found = await suite_ops.suite_metrics(
            settings.suite_servers, timeout_s=settings.suite_timeout_s, local=local
        )
        cut = page(found.tools)
        note = (
            " ".join(n for n in (found.note, cut.note and "Only the busiest tools are shown.") if n) or None
        )
        return found.model_copy(update={"tools": cut.items, "note": note})

    return kit.server
