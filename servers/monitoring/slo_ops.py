"""SLO status: error budget left over the window, and multi-window burn rates (Google SRE workbook).

For a 30-day window the workbook pages when 2 % of the budget burns within 1 hour (burn rate 14.4,
confirmed over 5 minutes) or 5 % within 6 hours (6, over 30 minutes), and opens a ticket for 10 %
within 1 day (3, over 2 hours) or within 3 days (1, over 6 hours). The thresholds here are those
budget shares, scaled to the SLO's own window: `share * window / long window`.
"""

from __future__ import annotations

import math
from typing import Final

import anyio

from servers.monitoring.gate_models import BurnWindow, SloStatus
from servers.monitoring.objective_settings import WINDOW, SloObjective
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.time_args import iso, parse_duration
from shared.errors import InvalidArgument, ToolFailure

# (long window, short window, share of the budget consumed, severity)
CONDITIONS: Final = (
    ("1h", "5m", 0.02, "page"),
    ("6h", "30m", 0.05, "page"),
    ("1d", "2h", 0.10, "ticket"),
    ("3d", "6h", 0.10, "ticket"),
)
_PARALLEL = 4


def ratio_expr(objective: SloObjective, window: str) -> str:
    """The PromQL error ratio of `objective` over `window`."""
    if objective.error_ratio is not None:
        return objective.error_ratio.replace(WINDOW, window)
    assert objective.good is not None and objective.total is not None  # the settings guarantee it
    good, total = objective.good.replace(WINDOW, window), objective.total.replace(WINDOW, window)
    return f"1 - (({good}) / ({total}))"


def threshold(share: float, long_window: str, slo_window_s: float) -> float:
    """The burn rate at which `share` of the budget burns within `long_window`."""
    return share * slo_window_s / parse_duration(long_window)


def burn(error_ratio: float | None, budget: float) -> float | None:
    """How many times faster than allowed the budget burns."""
    return None if error_ratio is None else error_ratio / budget


async def _ratio(client: PrometheusClient, name: str, expr: str, at: float) -> float | None:
    reply = await client.api("query", {"query": expr, "time": f"{at:.3f}"}, expr=expr)
    data = reply.data or {}
    result = data.get("result")
    if data.get("resultType") == "scalar":
        values = [result[1]] if isinstance(result, list) and len(result) == 2 else []
    else:
        values = [item.get("value", [0, "NaN"])[1] for item in result or []]
    if len(values) > 1:
        raise InvalidArgument(
            f"SLO {name!r}: its expression returns {len(values)} series; it must aggregate to one "
            "(wrap it in sum(...)) — the operator must fix the configuration"
        )
    if not values:
        return None
    value = float(values[0])
    return value if math.isfinite(value) else None


async def slo_status(client: PrometheusClient, name: str, objective: SloObjective, *, at: float) -> SloStatus:
    """Budget and burn rates of one SLO evaluated at Unix time `at`."""
    windows = {objective.window, *(w for long, short, _, _ in CONDITIONS for w in (long, short))}
    ratios: dict[str, float | None] = {}
    limiter = anyio.CapacityLimiter(_PARALLEL)

    failures: list[ToolFailure] = []

    async def evaluate(window: str) -> None:
        async with limiter:
            try:
                ratios[window] = await _ratio(client, name, ratio_expr(objective, window), at)
            except ToolFailure as exc:  # raised after the group, as itself (not an ExceptionGroup)
                failures.append(exc)

    async with anyio.create_task_group() as group:
        for window in sorted(windows):
            group.start_soon(evaluate, window)
    if failures:
        raise failures[0]
    budget = 1 - objective.target
    conditions = []
    for long, short, share, severity in CONDITIONS:
        limit = threshold(share, long, objective.window_s)
        long_burn, short_burn = burn(ratios[long], budget), burn(ratios[short], budget)
        firing = long_burn is not None and short_burn is not None and long_burn > limit and short_burn > limit
        conditions.append(
            BurnWindow(
                long_window=long,
                short_window=short,
                severity=severity,
                threshold=round(limit, 6),
                long_burn_rate=long_burn,
                short_burn_rate=short_burn,
                firing=firing,
            )
        )
    overall = ratios[objective.window]
    consumed = burn(overall, budget)
    page = any(c.firing for c in conditions if c.severity == "page")
    ticket = any(c.firing for c in conditions if c.severity == "ticket")
    return SloStatus(
        objective=name,
        description=objective.description,
        endpoint=client.name,
        time=iso(at),
        target=objective.target,
        window=objective.window,
        error_budget=round(budget, 12),
        error_ratio=overall,
        budget_consumed=consumed,
        budget_remaining=None if consumed is None else 1 - consumed,
        windows=conditions,
        page=page,
        ticket=ticket,
        no_data=sorted((w for w, r in ratios.items() if r is None), key=parse_duration),
        summary=_summary(name, objective, consumed, conditions, page, ticket),
    )


def _summary(
    name: str,
    objective: SloObjective,
    consumed: float | None,
    conditions: list[BurnWindow],
    page: bool,
    ticket: bool,
) -> str:
    parts = []
    if consumed is None:
        parts.append(f"{name}: no data over {objective.window}.")
    else:
        parts.append(
            f"{name}: {max(1 - consumed, -99) * 100:.1f} % of the {objective.window} error budget left "
            f"(target {objective.target * 100:g} %)."
        )
    firing = [c for c in conditions if c.firing]
    for condition in firing:
        parts.append(
            f"{condition.severity.upper()}: burning {condition.long_burn_rate:.1f}x over "
            f"{condition.long_window} and {condition.short_burn_rate:.1f}x over {condition.short_window} "
            f"(threshold {condition.threshold:g}x)."
        )
    if not page and not ticket:
        parts.append("No burn-rate condition fires.")
    return " ".join(parts)
