"""The monitoring server's Prometheus toolset (`prom_*`): wiring only; the logic is `prom_ops`,
`status_ops` and `alert_ops`. Every tool takes `endpoint` (a name from `prom_endpoints`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from servers.monitoring import alert_ops, prom_ops, status_ops
from servers.monitoring.cost_ops import CostLimits
from servers.monitoring.models import (
    Alert,
    AlertExplanation,
    Endpoint,
    EndpointInfo,
    EndpointList,
    Matchers,
    MetricMetadata,
    PromStatus,
    QueryResult,
    RangeResult,
    Rule,
    Search,
    Target,
    TimeArg,
)
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import MonitoringSettings
from servers.monitoring.time_args import parse_duration, parse_time
from shared.errors import InvalidArgument
from shared.paging import Cursor, Page, page
from shared.toolkit import ServerKit

VIEWS = Path(__file__).parent / "views"


def _now() -> float:
    # A function, not `time.time` inline: tools take an argument named `time`.
    return time.time()


def _optional_time(text: str | None, now: float) -> float | None:
    return parse_time(text, now=now) if text is not None else None


def prom_tools(
    kit: ServerKit, settings: MonitoringSettings, client_for: Callable[[str | None], PrometheusClient]
) -> None:
    """Register the Prometheus tools on `kit`; `client_for(endpoint)` is the named endpoint's client."""
    remote = kit.toolset(permission="monitoring:read", open_world=True)
    local = kit.toolset(permission="monitoring:read", open_world=False)

    def cost_limits(client: PrometheusClient) -> CostLimits:
        return CostLimits(
            enabled=settings.cost_guard,
            max_samples=settings.cost_max_samples,
            max_selectors=settings.cost_max_selectors,
            scrape_interval_s=settings.endpoints[client.name].scrape_interval_s,
        )

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
        with too many series are refused with advice (aggregate, add label matchers, topk). With a
        range selector (x[1h]) the samples it reads are estimated first and a query above the
        server's bound is refused with what to change. A bad expression returns Prometheus's parse
        error with its line and column."""
        if cursor is not None and time is None:
            raise InvalidArgument("pass the `time` of the first page together with `cursor`")
        now = _now()
        at = round(parse_time(time, now=now), 3)  # the precision `time` is shown with
        client = client_for(endpoint)
        result = await prom_ops.instant_query(
            client, expr, at=at, max_series=settings.max_series, limits=cost_limits(client)
        )
        cut = page(result.samples, resolved={"endpoint": result.endpoint, "time": at})
        return result.model_copy(
            update={"samples": cut.items, "next_cursor": cut.next_cursor, "truncated": cut.truncated,
                    "note": cut.note}
        )  # fmt: skip

    chart = kit.view("range_chart", "Range query", VIEWS / "range_chart.html", permission="monitoring:read")

    @remote.tool("prom_query_range", "Prometheus range query, summarised", meta=chart)
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
        The step is chosen automatically when omitted; too many series or points are refused, and so
        is a query the cost guard estimates to read more samples than the server allows (the refusal
        gives the estimate and a step or range that would fit)."""
        now = _now()
        # Rounded to the millisecond `start`/`end` are shown with, so the shown values page on exactly.
        start_s = round(parse_time(start, now=now), 3)
        end_s = round(parse_time(end, now=now), 3)
        client = client_for(endpoint)
        result = await prom_ops.range_query(
            client,
            expr,
            start=start_s,
            end=end_s,
            step=parse_duration(step) if step is not None else None,
            include_points=include_points,
            max_series=settings.max_series,
            max_points=settings.max_points,
            target_points=settings.target_points,
            max_raw_points=settings.max_raw_points,
            limits=cost_limits(client),
        )
        cut = page(
            result.series,
            resolved={
                "endpoint": result.endpoint,
                "start": start_s,
                "end": end_s,
                "step": result.step_seconds,
            },
        )
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
            start=_optional_time(start, now),
            end=_optional_time(end, now),
            search=search,
        )
        return page(names, resolved={"endpoint": client.name})

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
            start=_optional_time(start, now),
            end=_optional_time(end, now),
            search=search,
        )
        return page(values, resolved={"endpoint": client.name})

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
            client, match=match, start=_optional_time(start, now), end=_optional_time(end, now), search=search
        )
        return page(series, resolved={"endpoint": client.name})

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
        return page(found, resolved={"endpoint": client.name})

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
        return page(targets, resolved={"endpoint": client.name})

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
        return page(alerts, resolved={"endpoint": client.name})

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
        return page(rules, resolved={"endpoint": client.name})

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
