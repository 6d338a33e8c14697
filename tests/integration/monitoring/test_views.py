"""The range-query chart (MCP Apps): offered on the tool, read through the guard, and drawn from a
real `prom_query_range` result in headless Chromium; it loads nothing from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.monitoring.calls import session, suite_config
from tests.integration.monitoring.prom_stack import PromStack
from tests.support.browser import outside_loads, render_view, request_counter, view_of, wire

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SERIES_BLUE = "#1565c0"  # the first series' colour


async def test_the_chart_draws_a_real_range_query(prom_stack: PromStack, tmp_path: Path) -> None:
    async with session(tmp_path, suite_config(prom_stack)) as client:
        caps = client.server_capabilities
        assert caps is not None and "io.modelcontextprotocol/ui" in (caps.extensions or {})
        html = await view_of(client, "prom_query_range")
        # Two waves Prometheus evaluates at every step of the range, however young its TSDB is.
        expr = 'label_replace(sin(vector(time() / 20)), "wave", "sin", "", "") or cos(vector(time() / 20))'
        args = {"expr": expr, "start": "-3m", "step": "5s", "include_points": True}
        result = await client.call_tool("prom_query_range", args)
    assert not result.is_error, result.content
    series = (result.structured_content or {})["series"]
    assert series, "the stack scrapes its targets"
    waiting = render_view(html, None, tmp_path, name="chart-waiting")
    drawn = render_view(html, wire(result), tmp_path, name="range-chart")
    assert 'data-rendered="true"' in drawn.dom and "Waiting" in waiting.dom
    assert drawn.dom.count('class="series"') == len(series) == 2
    assert all(len(s["raw"]) > 30 for s in series)
    assert drawn.dom.count('class="legend"') == len(series)
    assert all(s["metric"] in drawn.dom for s in series)
    assert drawn.pixels_like(SERIES_BLUE) > 100 and waiting.pixels_like(SERIES_BLUE) == 0
    assert drawn.differs_from(waiting) > 0.02


async def test_a_view_loads_nothing_from_outside(prom_stack: PromStack, tmp_path: Path) -> None:
    async with session(tmp_path, suite_config(prom_stack)) as client:
        html = await view_of(client, "prom_query_range")
    with request_counter() as (base, seen):
        render_view(html, None, tmp_path, name="csp", extra=outside_loads(base))
        assert seen == []  # script, style, image, frame, fetch: every one blocked by the policy
        without_policy = html.replace("Content-Security-Policy", "X-Not-A-Policy", 1)
        render_view(without_policy, None, tmp_path, name="no-csp", extra=outside_loads(base))
        assert "/script.js" in seen and "/fetch" in seen  # the probe itself works
