"""PromQL queries and metadata: instant and range queries (with guards), labels, series, metadata.

Functions here return whole (guarded) results; paging them to the output budget is the wiring's job.
"""

from __future__ import annotations

import math
import re
import statistics
from typing import Any

from servers.monitoring.cost_ops import CostLimits, check_cost
from servers.monitoring.models import MetricMetadata, QueryResult, RangeResult, Sample, SeriesSummary, Trend
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.time_args import auto_step, iso
from shared.errors import InvalidArgument

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MAX_EXPR_CHARS = 10_000
# A least-squares line that moves less than this share of the value spread over the range is "flat".
_TREND_THRESHOLD = 0.25


def check_expr(expr: str) -> str:
    """A PromQL expression fit to send: non-empty, bounded, no NUL. Its grammar is Prometheus's job."""
    value = expr.strip()
    if not value:
        raise InvalidArgument(
            "expr is empty: give a PromQL expression such as up or rate(http_requests_total[5m])"
        )
    if len(value) > _MAX_EXPR_CHARS:
        raise InvalidArgument(f"expr is {len(value)} characters long; the limit is {_MAX_EXPR_CHARS}")
    if "\x00" in value:
        raise InvalidArgument("expr contains a NUL character")
    return value


def check_label_name(name: str) -> str:
    """A label name as Prometheus defines it (it goes into a URL path, so nothing else may pass)."""
    if not LABEL_NAME.match(name):
        raise InvalidArgument(f"{name!r} is not a label name: use letters, digits and _ (e.g. job, __name__)")
    return name


def series_name(labels: dict[str, str]) -> str:
    """`name{a="1",b="2"}` for a label set; values escaped as PromQL string literals."""
    name = labels.get("__name__", "")
    rest = [f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()) if key != "__name__"]
    return f"{name}{{{','.join(rest)}}}" if rest or not name else name


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _guard_series(count: int, max_series: int) -> None:
    if count > max_series:
        raise InvalidArgument(
            f"the query matched {count} series, above the limit of {max_series}. Narrow it with label "
            'matchers ({job="…"}), aggregate it (sum by (job) (…)), or keep the largest with topk(10, …).'
        )


async def instant_query(
    client: PrometheusClient, expr: str, *, at: float, max_series: int, limits: CostLimits
) -> QueryResult:
    """Evaluate `expr` at Unix time `at`; refuse results with more than `max_series` series, and
    expressions with range selectors the cost guard estimates above its bound."""
    expr = check_expr(expr)
    cost = await check_cost(client, expr, start=at, end=at, step=1.0, limits=limits)
    reply = await client.api("query", {"query": expr, "time": f"{at:.3f}"}, expr=expr)
    data = reply.data or {}
    result_type = data.get("resultType", "vector")
    result = data.get("result")
    scalar: float | str | None = None
    samples: list[Sample] = []
    if result_type in ("scalar", "string"):
        text = str(result[1]) if isinstance(result, list) and len(result) == 2 else ""
        scalar = text if result_type == "string" else _number(text)
        total = 0
    else:
        series = result or []
        total = len(series)
        _guard_series(total, max_series)
        for item in series:
            metric = series_name(item.get("metric", {}))
            if result_type == "matrix":
                # A range selector at an instant (e.g. up[5m]): show the newest point of each series.
                values = item.get("values") or [[0, "NaN"]]
                text = str(values[-1][1])
            else:
                text = str(item.get("value", [0, "NaN"])[1])
            samples.append(Sample(metric=metric, value=_number(text), value_text=text))
        samples.sort(key=lambda s: s.metric)
    return QueryResult(
        endpoint=client.name,
        expr=expr,
        time=iso(at),
        result_type=result_type,
        samples=samples,
        scalar=scalar,
        total_series=total,
        estimated_samples=round(cost.total) if cost is not None else None,
        warnings=reply.warnings,
    )


def choose_step(
    start: float, end: float, step: float | None, *, max_points: int, target_points: int
) -> tuple[float, bool]:
    """The step to use (and whether it was automatic); refuse ranges that would exceed `max_points`."""
    if end <= start:
        raise InvalidArgument(f"end ({iso(end)}) must be after start ({iso(start)})")
    if step is None:
        return auto_step(start, end, target_points), True
    points = math.floor((end - start) / step) + 1
    if points > max_points:
        smallest = math.ceil((end - start) / (max_points - 1))
        raise InvalidArgument(
            f"step {step:g}s over this range gives {points} points per series (limit {max_points}): "
            f"use step ≥ {smallest}s, a shorter range, or omit step to choose one automatically"
        )
    return step, False


def summarise(metric: str, values: list[list[Any]], *, include_points: bool) -> SeriesSummary:
    """Min/max/avg/first/last and a least-squares trend of one series' points."""
    points = [(float(t), _number(v)) for t, v in values]
    finite = [(t, v) for t, v in points if v is not None]
    ys = [v for _, v in finite]
    trend: Trend = "flat"
    slope: float | None = None
    if len(finite) >= 2:
        xs = [t for t, _ in finite]
        slope = statistics.linear_regression(xs, ys).slope
        spread = max(ys) - min(ys)
        if spread > 0:
            moved = slope * (xs[-1] - xs[0]) / spread
            if moved > _TREND_THRESHOLD:
                trend = "rising"
            elif moved < -_TREND_THRESHOLD:
                trend = "falling"
    return SeriesSummary(
        metric=metric,
        points=len(finite),
        min=min(ys) if ys else None,
        max=max(ys) if ys else None,
        avg=statistics.fmean(ys) if ys else None,
        first=ys[0] if ys else None,
        last=ys[-1] if ys else None,
        trend=trend,
        slope_per_hour=slope * 3600 if slope is not None else None,
        raw=points if include_points else None,
    )


async def range_query(
    client: PrometheusClient,
    expr: str,
    *,
    start: float,
    end: float,
    step: float | None,
    include_points: bool,
    max_series: int,
    max_points: int,
    target_points: int,
    max_raw_points: int,
    limits: CostLimits,
) -> RangeResult:
    """Evaluate `expr` over [start, end] and summarise each series; raw points only on request.
    The cost guard estimates the samples it reads first, and refuses it above its bound."""
    expr = check_expr(expr)
    step_s, step_auto = choose_step(start, end, step, max_points=max_points, target_points=target_points)
    cost = await check_cost(client, expr, start=start, end=end, step=step_s, limits=limits)
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
    reply = await client.api("query_range", params, expr=expr)
    data = reply.data or {}
    result = data.get("result") or []
    if data.get("resultType") != "matrix":
        raise InvalidArgument("a range query needs an expression returning an instant vector or scalar")
    _guard_series(len(result), max_series)
    if include_points:
        raw_total = sum(len(item.get("values") or []) for item in result)
        if raw_total > max_raw_points:
            raise InvalidArgument(
                f"include_points would return {raw_total} points (limit {max_raw_points}): use a larger "
                "step, a shorter range, fewer series, or leave include_points off for per-series summaries"
            )
    series = [
        summarise(
            series_name(item.get("metric", {})), item.get("values") or [], include_points=include_points
        )
        for item in result
    ]
    series.sort(key=lambda s: s.metric)
    return RangeResult(
        endpoint=client.name,
        expr=expr,
        start=iso(start),
        end=iso(end),
        step_seconds=step_s,
        step_auto=step_auto,
        series=series,
        total_series=len(series),
        estimated_samples=round(cost.total) if cost is not None else None,
        warnings=reply.warnings,
    )


def _window(match: list[str], start: float | None, end: float | None) -> list[tuple[str, str]]:
    params = [("match[]", check_expr(m)) for m in match]
    if start is not None:
        params.append(("start", f"{start:.3f}"))
    if end is not None:
        params.append(("end", f"{end:.3f}"))
    return params


def _filtered(names: list[str], search: str | None) -> list[str]:
    if not search:
        return sorted(names)
    needle = search.lower()
    return sorted(n for n in names if needle in n.lower())


async def label_names(
    client: PrometheusClient, *, match: list[str], start: float | None, end: float | None, search: str | None
) -> list[str]:
    """Label names, optionally only those of series matching `match` and containing `search`."""
    reply = await client.api("labels", _window(match, start, end))
    return _filtered([str(n) for n in reply.data or []], search)


async def label_values(
    client: PrometheusClient,
    label: str,
    *,
    match: list[str],
    start: float | None,
    end: float | None,
    search: str | None,
) -> list[str]:
    """Values of one label (e.g. every `job`), optionally filtered."""
    label = check_label_name(label)
    reply = await client.api(f"label/{label}/values", _window(match, start, end))
    return _filtered([str(v) for v in reply.data or []], search)


async def find_series(
    client: PrometheusClient, *, match: list[str], start: float | None, end: float | None, search: str | None
) -> list[str]:
    """Series matching at least one selector, in PromQL notation."""
    if not match:
        raise InvalidArgument('give at least one series selector in match, e.g. up or {job="node"}')
    reply = await client.api("series", _window(match, start, end))
    return _filtered([series_name(labels) for labels in reply.data or []], search)


async def metric_metadata(
    client: PrometheusClient, *, metric: str | None, search: str | None
) -> list[MetricMetadata]:
    """HELP/TYPE/UNIT of metrics, for one metric or every metric whose name contains `search`."""
    params = {"metric": check_expr(metric)} if metric else None
    reply = await client.api("metadata", params)
    entries: dict[str, list[dict[str, Any]]] = reply.data or {}
    names = _filtered(list(entries), search)
    found = []
    for name in names:
        first = (entries[name] or [{}])[0]
        found.append(
            MetricMetadata(
                metric=name,
                type=str(first.get("type", "unknown")),
                help=str(first.get("help", "")),
                unit=str(first.get("unit", "")),
            )
        )
    return found
