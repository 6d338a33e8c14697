"""The health gate after a rollout: watch named checks for a window, then pass or fail with evidence.

The assistant calls it between `k8s_rollout_status` (the rollout finished) and, on "fail",
`k8s_rollback`; this module knows nothing of Kubernetes: the deployment is only a name substituted
for `$deployment` (and `$namespace`) in the configured PromQL and URLs, which is how metrics carry it
(a `deployment` label, as kube-state-metrics or a relabelling puts it).

Every `interval` it evaluates each check once: a PromQL check holds when every series is within its
bounds (an empty result counts as the check's `no_data`), a health check when every URL answers the
expected status. It stops at the first failure (`fail_fast`, the default: roll back sooner) or when
the window is over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import anyio

from servers.monitoring.gate_models import CheckEvidence, Observation, RolloutVerdict
from servers.monitoring.health_ops import HealthChecker
from servers.monitoring.objective_settings import RolloutCheck
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.prom_ops import series_name
from servers.monitoring.time_args import iso
from shared.errors import ToolFailure

Progress = Callable[[float, float, str], Awaitable[None]]
_RECENT = 5


@dataclass
class _Tally:
    name: str
    check: RolloutCheck
    expr: str | None
    urls: list[str]
    evaluations: int = 0
    failures: int = 0
    worst: float | None = None
    first_failure: Observation | None = None
    recent: list[Observation] = field(default_factory=list)

    def add(self, seen: Observation, excess: float | None) -> None:
        self.evaluations += 1
        if not seen.ok:
            self.failures += 1
            self.first_failure = self.first_failure or seen
        if excess is not None:
            highest = self.check.max is not None  # the highest value matters, unless only a min is set
            if self.worst is None or (excess > self.worst if highest else excess < self.worst):
                self.worst = excess
        self.recent = [*self.recent, seen][-_RECENT:]

    def evidence(self) -> CheckEvidence:
        if self.expr is not None:
            bounds = [f"≥ {self.check.min:g}"] if self.check.min is not None else []
            bounds += [f"≤ {self.check.max:g}"] if self.check.max is not None else []
            shown = " and ".join(bounds)
            condition = f"every series of `{self.expr}` {shown} (no data: {self.check.no_data})"
        else:
            wanted = self.check.expect_status or "2xx"
            condition = f"{', '.join(self.urls)} answer {wanted}"
        return CheckEvidence(
            name=self.name,
            kind="promql" if self.expr is not None else "health",
            passed=self.failures == 0 and self.evaluations > 0,
            condition=condition,
            evaluations=self.evaluations,
            failures=self.failures,
            worst=self.worst,
            first_failure=self.first_failure,
            recent=self.recent,
        )


def substitute(text: str, *, deployment: str, namespace: str, url: bool = False) -> str:
    """`$deployment` and `$namespace` replaced (URL-quoted in URLs; both are validated k8s names)."""
    encode = (lambda v: quote(v, safe="")) if url else (lambda v: v)
    return text.replace("$deployment", encode(deployment)).replace("$namespace", encode(namespace))


async def _promql(tally: _Tally, client: PrometheusClient, at: float) -> None:
    assert tally.expr is not None
    check = tally.check
    try:
        reply = await client.api("query", {"query": tally.expr, "time": f"{at:.3f}"}, expr=tally.expr)
    except ToolFailure as exc:
        tally.add(Observation(at=iso(at), ok=False, detail=f"evaluation failed: {exc}"), None)
        return
    values: list[tuple[str, float]] = []
    for item in (reply.data or {}).get("result") or []:
        value = float(item.get("value", [0, "NaN"])[1])
        if not math.isnan(value):
            metric = series_name(item.get("metric", {}))
            values.append(("value" if metric == "{}" else metric, value))
    if not values:
        ok = check.no_data == "pass"
        tally.add(Observation(at=iso(at), ok=ok, detail="no data (empty result or NaN)"), None)
        return
    bad = [
        (metric, v)
        for metric, v in values
        if (check.max is not None and v > check.max) or (check.min is not None and v < check.min)
    ]
    shown = bad or values
    detail = "; ".join(f"{metric} = {v:g}" for metric, v in shown[:5])
    if len(shown) > 5:
        detail += f"; … {len(shown) - 5} more"
    extreme = max if check.max is not None else min
    tally.add(Observation(at=iso(at), ok=not bad, detail=detail), extreme(v for _, v in values))


async def _health(tally: _Tally, checker: HealthChecker, at: float) -> None:
    report = await checker.check(tally.urls, expect_status=tally.check.expect_status)
    detail = "; ".join(
        f"{r.url}: {r.status if r.status is not None else 'no answer'}" + (f" ({r.error})" if r.error else "")
        for r in report.results
    )
    tally.add(Observation(at=iso(at), ok=report.healthy == report.checked, detail=detail), None)


async def _round(
    tallies: list[_Tally],
    client_for: Callable[[str | None], PrometheusClient],
    health: HealthChecker,
    at: float,
) -> None:
    """Evaluate every check once, concurrently."""
    refused: list[ToolFailure] = []

    async def run(tally: _Tally) -> None:
        try:
            if tally.expr is not None:
                await _promql(tally, client_for(tally.check.endpoint), at)
            else:
                await _health(tally, health, at)
        except ToolFailure as exc:  # a URL the policy refuses: raised as itself, not in a group
            refused.append(exc)

    async with anyio.create_task_group() as group:
        for tally in tallies:
            group.start_soon(run, tally)
    if refused:
        raise refused[0]


async def verify(
    checks: Sequence[tuple[str, RolloutCheck]],
    *,
    deployment: str,
    namespace: str,
    client_for: Callable[[str | None], PrometheusClient],
    health: HealthChecker,
    window_s: float,
    interval_s: float,
    fail_fast: bool,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
) -> RolloutVerdict:
    """Watch `checks` for `window_s` seconds, every `interval_s`; the verdict and its evidence."""
    tallies = [
        _Tally(
            name,
            check,
            substitute(check.expr, deployment=deployment, namespace=namespace) if check.expr else None,
            [substitute(u, deployment=deployment, namespace=namespace, url=True) for u in check.urls],
        )
        for name, check in checks
    ]
    started = clock()
    rounds = 0
    while True:
        await _round(tallies, client_for, health, clock())
        rounds += 1
        failed = any(t.failures for t in tallies)
        elapsed = clock() - started
        if progress is not None:
            state = "failing" if failed else "ok"
            await progress(min(elapsed, window_s), window_s, f"round {rounds}: {state}")
        if (failed and fail_fast) or elapsed >= window_s:
            break
        await anyio.sleep(max(0.0, started + rounds * interval_s - clock()))
    watched = round(clock() - started, 3)
    evidence = [t.evidence() for t in tallies]
    passed = all(e.passed for e in evidence)
    if passed:
        advice = f"Every check held for {watched:g}s: the rollout of {namespace}/{deployment} looks healthy."
    else:
        failing = ", ".join(e.name for e in evidence if not e.passed)
        advice = (
            f"{failing} failed after the rollout of {namespace}/{deployment}: consider rolling it back "
            f"(k8s_rollback) and look at the evidence; re-run rollout_verify after any fix."
        )
    return RolloutVerdict(
        deployment=deployment,
        namespace=namespace,
        verdict="pass" if passed else "fail",
        started=iso(started),
        watched_seconds=watched,
        window_seconds=window_s,
        checks=evidence,
        advice=advice,
    )
