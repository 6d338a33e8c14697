"""The PromQL cost guard: estimate how many samples a query reads before Prometheus runs it.

The expression is parsed with `promql-parser` (Python bindings of GreptimeTeam's Rust PromQL parser,
compatible with Prometheus 2.45), and every vector selector becomes one `/api/v1/series` lookup over
the time span that selector reads. The model, per selector, counted the way Prometheus's own query
statistics (`stats=all`, `totalQueryableSamples`) count:

- an instant vector selector reads one sample per series per evaluation step;
- a range selector `x[r]` reads `r / scrape_interval` samples per series per step (on average: a
  window holds one sample more or less depending on where the scrapes fall);
- a subquery `e[R:S]` evaluates `e` every S over the outer span plus R (the "inner" load, which
  Prometheus's statistics leave out), then reads `R / S` points per step of each inner series.

Samples are spaced by the endpoint's `scrape_interval_s`, or Prometheus's global scrape_interval.
The estimate assumes every series has data over the whole span, so it is an upper bound for series
that appeared or vanished inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

LOOKBACK_S = 300.0  # Prometheus's default --query.lookback-delta


class Unreadable(Exception):
    """The cost guard's parser cannot read the expression (the message says why)."""


@dataclass(frozen=True, slots=True)
class Read:
    """One vector selector as a query reads it."""

    selector: str  # for /api/v1/series match[]
    shown: str  # as written in the expression
    start: float  # span of the series lookup
    end: float
    evaluations: float  # steps at which it is read
    range_s: float  # 0 for an instant selector
    counted: bool  # False inside a subquery (Prometheus's statistics leave those out)


@dataclass(frozen=True, slots=True)
class Window:
    """The points a function reads from a subquery's result at each outer step."""

    reads: tuple[Read, ...]  # the subquery's own selectors (their series bound its result)
    evaluations: float
    points: float
    single: bool  # the subquery aggregates everything into one series
    counted: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything a query reads."""

    reads: tuple[Read, ...]
    windows: tuple[Window, ...]

    @property
    def has_range(self) -> bool:
        return bool(self.windows) or any(r.range_s > 0 for r in self.reads)


def _seconds(delta: Any) -> float:
    return float(delta.total_seconds()) if delta is not None else 0.0


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_OPS = ((pp.MatchOp.Equal, "="), (pp.MatchOp.NotEqual, "!="), (pp.MatchOp.Re, "=~"), (pp.MatchOp.NotRe, "!~"))


def _op(op: Any) -> str:
    # The binding's MatchOp is not hashable: look it up by equality.
    for known, text in _OPS:
        if op == known:
            return text
    raise Unreadable(f"unknown label matcher operator {op!r}")


def selector_text(vector: Any) -> tuple[str, str]:
    """A vector selector as a `match[]` argument (`{__name__="x",job="y"}`: no offset, no @) and as
    a person writes it (`x{job="y"}`)."""
    if vector.matchers.or_matchers:
        raise Unreadable("`or` inside a selector is not supported by the cost guard")
    labels = [f'{m.name}{_op(m.op)}"{_label_value(m.value)}"' for m in vector.matchers.matchers]
    name = f'__name__="{_label_value(vector.name)}"' if vector.name else None
    match = "{" + ",".join([name, *labels] if name else labels) + "}"
    shown = (vector.name or "") + ("{" + ",".join(labels) + "}" if labels or not vector.name else "")
    return match, shown


@dataclass(frozen=True, slots=True)
class _Context:
    start: float
    end: float
    step: float
    evaluations: float
    counted: bool


_MAX_SUBQUERY_DEPTH = 8


def plan(expr: str, *, start: float, end: float, step: float, eval_interval: float) -> Plan:
    """What `expr` reads when evaluated at every `step` over [start, end] (start == end: instant).

    Raises:
        Unreadable: the parser refused the expression, or its subqueries nest too deep.
    """
    try:
        root = pp.parse(expr)
    except ValueError as exc:
        raise Unreadable(str(exc)) from None
    evaluations = math.floor((end - start) / step) + 1 if end > start else 1
    return _walk(root, _Context(start, end, step, evaluations, True), eval_interval, depth=0)


def _walk(root: Any, top: _Context, eval_interval: float, *, depth: int) -> Plan:
    reads: list[Read] = []
    windows: list[Window] = []
    # An explicit stack, not recursion: a hostile expression may nest thousands of levels deep.
    # Only subqueries recurse, and their depth is bounded.
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, pp.VectorSelector):
            reads.append(_read(node, 0.0, top))
        elif isinstance(node, pp.MatrixSelector):
            reads.append(_read(node.vector_selector, _seconds(node.range), top))
        elif isinstance(node, pp.SubqueryExpr):
            if depth >= _MAX_SUBQUERY_DEPTH:
                raise Unreadable(f"subqueries nest more than {_MAX_SUBQUERY_DEPTH} levels deep")
            span, sub_step = _seconds(node.range), _seconds(node.step) or eval_interval
            offset = _seconds(node.offset)
            inner = _Context(
                top.start - offset - span,
                top.end - offset,
                sub_step,
                math.floor((top.end - top.start + span) / sub_step) + 1,
                False,
            )
            child = _walk(node.expr, inner, eval_interval, depth=depth + 1)
            reads.extend(child.reads)
            windows.extend(child.windows)
            modifier = getattr(node.expr, "modifier", None)
            single = isinstance(node.expr, pp.AggregateExpr) and not getattr(modifier, "labels", None)
            windows.append(Window(child.reads, top.evaluations, span / sub_step, single, top.counted))
        else:
            stack.extend(_children(node))
    return Plan(tuple(reads), tuple(windows))


def _read(vector: Any, range_s: float, ctx: _Context) -> Read:
    offset = _seconds(vector.offset)
    start, end = ctx.start - offset, ctx.end - offset
    at = getattr(vector, "at", None)
    if at is not None and at.at is not None:
        start = end = at.at.timestamp()
    match, shown = selector_text(vector)
    return Read(
        selector=match,
        shown=shown,
        start=start - (range_s or LOOKBACK_S),
        end=end,
        evaluations=ctx.evaluations,
        range_s=range_s,
        counted=ctx.counted,
    )


def _children(node: Any) -> list[Any]:
    if isinstance(node, pp.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, pp.AggregateExpr):
        return [node.expr, *([node.param] if isinstance(node.param, pp.Expr) else [])]
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr):
        return [node.expr]
    if isinstance(node, pp.Call):
        return [arg for arg in node.args if isinstance(arg, pp.Expr)]
    return []


@dataclass(frozen=True, slots=True)
class Estimate:
    """Samples a query reads, as Prometheus counts them and in all."""

    counted: float  # comparable with Prometheus's totalQueryableSamples
    inner: float  # read by subqueries' inner evaluations (not in Prometheus's statistics)
    per_selector: dict[str, tuple[int, float]]  # shown selector -> (series, samples)

    @property
    def total(self) -> float:
        return self.counted + self.inner


def estimate(query: Plan, series: dict[Read, int], *, scrape_interval: float) -> Estimate:
    """Samples read, given the series count of every read."""
    counted = inner = 0.0
    per: dict[str, tuple[int, float]] = {}
    for read in query.reads:
        per_step = max(read.range_s / scrape_interval, 1.0) if read.range_s else 1.0
        samples = series[read] * read.evaluations * per_step
        counted, inner = (counted + samples, inner) if read.counted else (counted, inner + samples)
        seen, total = per.get(read.shown, (0, 0.0))
        per[read.shown] = (max(seen, series[read]), total + samples)
    for window in query.windows:
        width = 1 if window.single else max((series[r] for r in window.reads), default=0)
        samples = width * window.evaluations * window.points
        counted, inner = (counted + samples, inner) if window.counted else (counted, inner + samples)
    return Estimate(counted, inner, per)
