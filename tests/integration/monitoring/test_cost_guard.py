"""The PromQL cost guard against the real Prometheus: the 300-series gauge the pushgateway serves,
scraped every second, is enough to trip a bound of 100k samples with an hour at a 1 s step."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from tests.integration.monitoring.calls import call, error_of, session, suite_config
from tests.integration.monitoring.prom_stack import CARDINALITY_SERIES, PromStack

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

BOUND = 100_000


@pytest.fixture
async def client(tmp_path: Path, prom_stack: PromStack) -> AsyncIterator[Client]:
    config = suite_config(prom_stack, max_series=1000, cost_max_samples=BOUND, cost_max_selectors=3)
    async with session(tmp_path, config) as c:
        yield c


async def test_a_range_query_above_the_bound_is_refused_with_advice(client: Client) -> None:
    message = await error_of(
        client, "prom_query_range", {"expr": "code_test_cardinality", "start": "-1h", "step": "1s"}
    )
    # 300 series x 3601 steps = 1.08M samples, against 100k.
    assert "refused by the cost guard" in message and "about 1.08M samples (limit 100k)" in message
    assert f"code_test_cardinality, {CARDINALITY_SERIES} series over 3601 steps" in message
    step = re.search(r"larger step \(≥ (\d+)s\)", message)
    assert step and int(step.group(1)) == 11  # 1 s x 1.08M / 100k, rounded up
    assert "shorter range (≤ 5m" in message


async def test_the_suggested_step_fits(client: Client) -> None:
    result = await call(
        client, "prom_query_range", {"expr": "code_test_cardinality", "start": "-1h", "step": "11s"}
    )
    # Not refused; estimated from the series count (the stack may hold less than 11 s of data yet,
    # so the result itself can still be empty).
    assert result["estimated_samples"] == CARDINALITY_SERIES * (3600 // 11 + 1)


async def test_an_instant_query_with_a_long_range_selector_is_refused(client: Client) -> None:
    message = await error_of(
        client, "prom_query", {"expr": "sum(count_over_time(code_test_cardinality[1h]))"}
    )
    assert "about 1.08M samples" in message and "shorter range selector (≤ [5m" in message
    fits = await call(client, "prom_query", {"expr": "sum(count_over_time(code_test_cardinality[1m]))"})
    assert fits["estimated_samples"] == CARDINALITY_SERIES * 60  # 60 samples per series at 1 s scrapes


async def test_a_subquery_counts_its_inner_evaluation(client: Client) -> None:
    message = await error_of(
        client, "prom_query", {"expr": "max_over_time(sum(code_test_cardinality)[1h:1s])"}
    )
    assert "refused by the cost guard" in message  # 3601 inner steps x 300 series


async def test_instant_queries_without_ranges_are_not_estimated(client: Client) -> None:
    result = await call(client, "prom_query", {"expr": 'up{job="prometheus"}'})
    assert result["estimated_samples"] is None


async def test_narrow_selectors_pass(client: Client) -> None:
    result = await call(
        client,
        "prom_query_range",
        {"expr": 'code_test_cardinality{shard="s0001"}', "start": "-1h", "step": "1s"},
    )
    assert result["estimated_samples"] == 3601 and result["total_series"] == 1


async def test_too_many_selectors(client: Client) -> None:
    expr = "up + on() group_left code:up:sum + on() group_left count(node_load1) + on() group_left count(x)"
    message = await error_of(client, "prom_query_range", {"expr": expr, "start": "-5m"})
    assert "4 distinct selectors" in message and "at most 3" in message


async def test_syntax_errors_still_come_from_prometheus(client: Client) -> None:
    """The guard's parser refuses first; Prometheus, probed where no data exists, gives line and column."""
    message = await error_of(client, "prom_query_range", {"expr": "rate(up[5m]", "start": "-5m"})
    assert "PromQL parse error at line 1, column" in message and "^" in message


async def test_the_guard_can_be_switched_off(tmp_path: Path, prom_stack: PromStack) -> None:
    config = suite_config(prom_stack, max_series=1000, cost_guard=False, cost_max_samples=1000)
    async with session(tmp_path, config) as c:
        result = await call(c, "prom_query", {"expr": "sum(count_over_time(code_test_cardinality[1m]))"})
    assert result["estimated_samples"] is None and result["total_series"] == 1
