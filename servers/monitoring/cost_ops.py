"""The cost guard against a real Prometheus: count each selector's series, estimate, refuse or allow.

See `promql_cost` for the estimate itself. Each distinct selector costs one `/api/v1/series` call
(the index only, no samples); a selector matching so many series that the reply exceeds
`max_response_bytes` is refused as too broad to count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servers.monitoring import promql_cost
from servers.monitoring.endpoint_http import ReplyTooLarge
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.time_args import parse_duration
from shared import safe_yaml
from shared.errors import InvalidArgument

_DEFAULT_INTERVAL_S = 60.0  # Prometheus's own default scrape_interval and evaluation_interval


@dataclass(frozen=True, slots=True)
class CostLimits:
    """The guard's settings for one call."""

    enabled: bool
    max_samples: int
    max_selectors: int
    scrape_interval_s: float | None  # the endpoint's override, else Prometheus's global setting


def _human(count: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= size:
            return f"{count / size:.3g}{unit}"
    return f"{count:.0f}"


def _duration(seconds: float) -> str:
    """Whole seconds as a Prometheus duration: 333 -> 5m33s."""
    rest = max(int(seconds), 1)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


async def intervals(client: PrometheusClient) -> tuple[float, float]:
    """(scrape_interval, evaluation_interval) of Prometheus's global configuration, read once."""
    if client.intervals is None:
        reply = await client.api("status/config")
        text = str((reply.data or {}).get("yaml", ""))
        documents = safe_yaml.load_documents(text, max_bytes=2**22, max_nodes=500_000, max_depth=64)
        config = documents[0] if documents and isinstance(documents[0], dict) else {}
        settings = config.get("global") or {}

        def read(key: str) -> float:
            try:
                return parse_duration(str(settings.get(key, "1m")))
            except InvalidArgument:
                return _DEFAULT_INTERVAL_S

        client.intervals = (read("scrape_interval"), read("evaluation_interval"))
    return client.intervals


async def _refuse_unreadable(client: PrometheusClient, expr: str, reason: str) -> None:
    # Let Prometheus report a real syntax error itself, with line and column: evaluated at the Unix
    # epoch, where no data exists, the probe reads nothing. An `@` modifier could pin it to real data,
    # so such an expression is refused without the probe.
    if "@" not in expr:
        await client.api("query", {"query": expr, "time": "0"}, expr=expr)
    raise InvalidArgument(
        f"the cost guard cannot read this expression ({reason}), so it is not run. Write it with "
        "standard PromQL (Prometheus 2.45 syntax), or use prom_query without range selectors."
    )


async def check_cost(
    client: PrometheusClient, expr: str, *, start: float, end: float, step: float, limits: CostLimits
) -> promql_cost.Estimate | None:
    """Estimate what the query reads; refuse it above the bound. None: nothing to guard.

    An instant query (start == end) is guarded only when it holds a range selector or a subquery.

    Raises:
        InvalidArgument: above the bound (with the estimate and what to change), too many selectors,
            a selector too broad to count, or an expression the guard cannot read.
    """
    if not limits.enabled:
        return None
    try:
        query = promql_cost.plan(expr, start=start, end=end, step=step, eval_interval=_DEFAULT_INTERVAL_S)
    except promql_cost.Unreadable as exc:
        await _refuse_unreadable(client, expr, str(exc))
        raise AssertionError("unreachable") from None
    if end <= start and not query.has_range:
        return None  # an instant query without range selectors reads one sample per series
    scrape, evaluation = await intervals(client)
    if evaluation != _DEFAULT_INTERVAL_S:  # subqueries without a step use the evaluation interval
        query = promql_cost.plan(expr, start=start, end=end, step=step, eval_interval=evaluation)
    spans: dict[str, tuple[float, float]] = {}
    for read in query.reads:
        low, high = spans.get(read.selector, (read.start, read.end))
        spans[read.selector] = (min(low, read.start), max(high, read.end))
    if len(spans) > limits.max_selectors:
        raise InvalidArgument(
            f"the query has {len(spans)} distinct selectors; the cost guard estimates at most "
            f"{limits.max_selectors}: split it into several queries"
        )
    counts: dict[str, int] = {}
    for selector, (low, high) in spans.items():
        params = [("match[]", selector), ("start", f"{low:.3f}"), ("end", f"{high:.3f}")]
        try:
            reply = await client.api("series", params)
        except ReplyTooLarge:
            raise InvalidArgument(
                f"the selector {selector} matches too many series to even count them: narrow it with "
                'label matchers ({job="…"}) before querying a range'
            ) from None
        counts[selector] = len(reply.data or [])
    found = promql_cost.estimate(
        query,
        {read: counts[read.selector] for read in query.reads},
        scrape_interval=limits.scrape_interval_s or scrape,
    )
    if found.total > limits.max_samples:
        advice = _advice(found, query, start=start, end=end, step=step, limit=limits.max_samples)
        raise InvalidArgument(advice)
    return found


def _advice(
    found: promql_cost.Estimate, query: promql_cost.Plan, *, start: float, end: float, step: float, limit: int
) -> str:
    factor = found.total / limit
    biggest, (series, _) = max(found.per_selector.items(), key=lambda item: item[1][1])
    steps = math.floor((end - start) / step) + 1 if end > start else 1
    parts = [
        f"refused by the cost guard: this query would read about {_human(found.total)} samples "
        f"(limit {_human(limit)}); the largest part is {biggest}, {series} series"
        + (f" over {steps} steps." if steps > 1 else "."),
        f"Narrow the selector with label matchers (e.g. {biggest} has {series} series) or aggregate it,",
    ]
    if steps > 1:
        parts.append(
            f"use a larger step (≥ {_duration(math.ceil(step * factor))}), or a shorter range "
            f"(≤ {_duration((end - start) / factor)})."
        )
    else:
        longest = max((r.range_s for r in query.reads), default=0.0)
        longest = max([longest, *(w.points for w in query.windows)])
        parts.append(f"or a shorter range selector (≤ [{_duration(max(longest / factor, 1))}]).")
    return " ".join(parts)
