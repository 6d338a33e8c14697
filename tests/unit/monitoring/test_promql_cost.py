"""The cost guard's estimate: what each query shape reads, computed from a parsed expression."""

from __future__ import annotations

import pytest

from servers.monitoring import promql_cost
from servers.monitoring.cost_ops import _advice, _duration

HOUR = 3600.0
END = 1_000_000.0


def plan(expr: str, *, span: float = HOUR, step: float = 60) -> promql_cost.Plan:
    return promql_cost.plan(expr, start=END - span, end=END, step=step, eval_interval=60)


def estimate(expr: str, series: int = 10, *, span: float = HOUR, step: float = 60) -> promql_cost.Estimate:
    query = plan(expr, span=span, step=step)
    return promql_cost.estimate(query, dict.fromkeys(query.reads, series), scrape_interval=15)


def test_an_instant_vector_reads_one_sample_per_series_and_step() -> None:
    found = estimate("sum(up)")
    assert found.counted == 10 * 61 and found.inner == 0
    assert not plan("sum(up)").has_range


def test_a_range_selector_reads_its_window_at_every_step() -> None:
    found = estimate("rate(http_requests_total[5m])")
    assert found.counted == 10 * 61 * (300 / 15)
    assert plan("rate(x[5m])").has_range


def test_an_instant_query_is_one_step() -> None:
    found = estimate("max_over_time(x[1h])", span=0)
    assert found.counted == 10 * (3600 / 15)


def test_a_subquery_counts_its_inner_evaluation_apart() -> None:
    found = estimate("max_over_time(rate(x[5m])[30m:5m])")
    inner_steps = (HOUR + 1800) // 300 + 1
    assert found.inner == 10 * inner_steps * (300 / 15)
    assert found.counted == 10 * 61 * 6  # the six 5-minute points of each window, per step
    assert estimate("max_over_time(sum(x)[30m:5m])").counted == 61 * 6  # one series


def test_the_series_lookup_covers_offsets_ranges_and_the_lookback() -> None:
    [read] = plan("rate(x[10m] offset 1h)").reads
    assert (read.start, read.end) == (END - HOUR - HOUR - 600, END - HOUR)
    [instant] = plan("x").reads
    assert instant.start == END - HOUR - promql_cost.LOOKBACK_S
    [pinned] = plan("x @ 1700000000").reads
    assert pinned.end == 1_700_000_000 and pinned.evaluations == 61


def test_selectors_become_match_arguments() -> None:
    [read] = plan('x{job="a\\"b", env=~"p.*"}').reads
    assert read.selector == '{__name__="x",job="a\\"b",env=~"p.*"}'
    assert read.shown == 'x{job="a\\"b",env=~"p.*"}'
    [bare] = plan('{__name__=~"node_.*"}').reads
    assert bare.selector == bare.shown == '{__name__=~"node_.*"}'
    reads = plan("a / on() group_left topk(scalar(b), c) + label_replace(d, 'x', '$1', 'y', '(.*)')").reads
    assert sorted(r.shown for r in reads) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("expr", ["rate(up[5m]", "up{", 'up{a="1" or b="2"}', "x" + "[1m:1s]" * 9])
def test_what_the_parser_cannot_read(expr: str) -> None:
    with pytest.raises(promql_cost.Unreadable):
        plan(expr)


def test_deep_nesting_needs_no_recursion() -> None:
    query = plan("(" * 2000 + "up" + ")" * 2000)
    assert len(query.reads) == 1


def test_the_advice_gives_a_step_and_a_range_that_fit() -> None:
    query = plan("x", step=1)
    found = promql_cost.estimate(query, dict.fromkeys(query.reads, 300), scrape_interval=1)
    text = _advice(found, query, start=END - HOUR, end=END, step=1, limit=100_000)
    assert "about 1.08M samples (limit 100k)" in text and "x, 300 series over 3601 steps" in text
    assert "larger step (≥ 11s)" in text and "shorter range (≤ 5m33s)" in text
    assert _duration(90061) == "1d1h1m1s" and _duration(0.2) == "1s"
