"""suite_metrics' arithmetic over real exposition text from shared.metrics."""

from __future__ import annotations

import pytest

from servers.monitoring.suite_ops import parse, tally
from shared.metrics import Metrics


def test_tally_per_server_and_tool() -> None:
    metrics = Metrics()
    metrics.observe_call("monitoring", "prom_query", "ok", 0.010)
    metrics.observe_call("monitoring", "prom_query", "ok", 0.030)
    metrics.observe_call("monitoring", "prom_query", "tool_error", 0.020)
    metrics.observe_refusal("monitoring", "prom_query", "rate_limit")
    metrics.observe_call("experts", "experts_ask", "ok", 1.0)
    families = parse(metrics.exposition().decode())
    stats = tally([("whatever", families)])
    assert [(s.server, s.tool) for s in stats] == [("monitoring", "prom_query"), ("experts", "experts_ask")]
    query = stats[0]
    assert (query.calls, query.errors, query.refusals) == (3, 1, 1)
    assert query.avg_latency_ms == pytest.approx(20.0)


def test_text_that_is_not_an_exposition_is_refused() -> None:
    with pytest.raises(ValueError):
        parse("this is { not metrics\n")


def test_other_metrics_are_ignored() -> None:
    assert tally([("x", parse("# TYPE other counter\nother_total 3\n"))]) == []
