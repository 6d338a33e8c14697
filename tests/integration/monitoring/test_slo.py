"""slo_status against a real Prometheus holding 31 days of backfilled history whose budgets and burn
rates are known (backfill.py), evaluated at the end of that history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.integration.monitoring.backfill import Backfilled
from tests.integration.monitoring.calls import call, error_of, session

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ERRORS = 'sum(rate(slo_requests_total{{service="{s}",code="500"}}[$window]))'
TOTAL = 'sum(rate(slo_requests_total{{service="{s}"}}[$window]))'
GOOD = 'sum(rate(slo_requests_total{{service="{s}",code="200"}}[$window]))'


def slos() -> dict[str, Any]:
    return {
        # The error-ratio form and the good/total form, both used.
        "checkout": {"error_ratio": f"{ERRORS.format(s='checkout')} / {TOTAL.format(s='checkout')}",
                     "target": 0.999, "description": "checkout requests succeed"},
        "api": {"good": GOOD.format(s="api"), "total": TOTAL.format(s="api"), "target": 0.999},
        "quiet": {"good": GOOD.format(s="quiet"), "total": TOTAL.format(s="quiet"), "target": 0.999},
        "missing": {"error_ratio": "sum(rate(no_such_metric[$window]))", "target": 0.99},
    }  # fmt: skip


@pytest.fixture
async def client(tmp_path: Path, slo_history: Backfilled) -> AsyncIterator[Client]:
    config = {"monitoring": {"endpoints": {"history": {"url": slo_history.url}}, "slos": slos()}}
    async with session(tmp_path, config) as c:
        yield c


def by_window(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{w['long_window']}/{w['short_window']}": w for w in status["windows"]}


async def test_the_workbook_thresholds_for_a_30_day_window(client: Client, slo_history: Backfilled) -> None:
    status = await call(client, "slo_status", {"objective": "quiet", "time": str(slo_history.end)})
    windows = by_window(status)
    assert {k: (w["threshold"], w["severity"]) for k, w in windows.items()} == {
        "1h/5m": (14.4, "page"),
        "6h/30m": (6.0, "page"),
        "1d/2h": (3.0, "ticket"),
        "3d/6h": (1.0, "ticket"),
    }
    assert status["budget_remaining"] == pytest.approx(1.0)
    assert not status["page"] and not status["ticket"] and "No burn-rate condition fires" in status["summary"]


async def test_a_fast_burn_pages_on_the_1h_5m_pair_only(client: Client, slo_history: Backfilled) -> None:
    """2 % errors for the last 90 minutes after 0.05 % for 30 days, against a 99.9 % target."""
    status = await call(client, "slo_status", {"objective": "checkout", "time": str(slo_history.end)})
    windows = by_window(status)
    # Burn rates over each window, from the history: 20 in the last 90 minutes, 0.5 before.
    assert windows["1h/5m"]["long_burn_rate"] == pytest.approx(20.0)
    assert windows["1h/5m"]["short_burn_rate"] == pytest.approx(20.0)
    assert windows["6h/30m"]["long_burn_rate"] == pytest.approx((1.5 * 20 + 4.5 * 0.5) / 6)  # 5.375 < 6
    assert windows["6h/30m"]["short_burn_rate"] == pytest.approx(20.0)
    assert windows["1d/2h"]["long_burn_rate"] == pytest.approx((1.5 * 20 + 22.5 * 0.5) / 24)
    assert windows["3d/6h"]["long_burn_rate"] == pytest.approx((1.5 * 20 + 70.5 * 0.5) / 72)
    assert [k for k, w in windows.items() if w["firing"]] == ["1h/5m"]
    assert status["page"] and not status["ticket"]
    consumed = (1.5 * 20 + 718.5 * 0.5) / 720  # budget spent over 30 days
    assert status["budget_consumed"] == pytest.approx(consumed)
    assert status["budget_remaining"] == pytest.approx(1 - consumed)  # 45.9 %
    assert status["error_ratio"] == pytest.approx(consumed * 0.001)
    assert "PAGE: burning 20.0x over 1h" in status["summary"] and "45.9 %" in status["summary"]


async def test_a_slow_burn_opens_a_ticket_on_the_3d_6h_pair(client: Client, slo_history: Backfilled) -> None:
    """0.15 % errors for 4 days (burn 1.5) after none: only the 3d/6h ticket fires; 80 % left."""
    status = await call(client, "slo_status", {"objective": "api", "time": str(slo_history.end)})
    windows = by_window(status)
    assert windows["3d/6h"]["long_burn_rate"] == pytest.approx(1.5)
    assert windows["3d/6h"]["short_burn_rate"] == pytest.approx(1.5)
    assert windows["1d/2h"]["long_burn_rate"] == pytest.approx(1.5)  # below its threshold of 3
    assert [k for k, w in windows.items() if w["firing"]] == ["3d/6h"]
    assert status["ticket"] and not status["page"]
    assert status["budget_remaining"] == pytest.approx(0.8)


async def test_burn_rates_move_with_the_evaluation_time(client: Client, slo_history: Backfilled) -> None:
    """Two hours before the end, the checkout burn had not begun: nothing pages."""
    earlier = str(slo_history.end - 7200)
    status = await call(client, "slo_status", {"objective": "checkout", "time": earlier})
    assert by_window(status)["1h/5m"]["long_burn_rate"] == pytest.approx(0.5)
    assert not status["page"]


async def test_no_data_and_unknown_objectives(client: Client, slo_history: Backfilled) -> None:
    status = await call(client, "slo_status", {"objective": "missing", "time": str(slo_history.end)})
    assert status["budget_remaining"] is None and status["no_data"] == ["5m", "30m", "1h", "2h", "6h", "1d",
                                                                        "3d", "30d"]  # fmt: skip
    assert not any(w["firing"] for w in status["windows"])
    message = await error_of(client, "slo_status", {"objective": "chekout"})
    assert "no SLO named 'chekout'" in message and "api, checkout, missing, quiet" in message


async def test_an_slo_returning_several_series_is_refused(tmp_path: Path, slo_history: Backfilled) -> None:
    wide = {"error_ratio": 'rate(slo_requests_total{code="500"}[$window])', "target": 0.999}
    config = {"monitoring": {"endpoints": {"history": {"url": slo_history.url}}, "slos": {"wide": wide}}}
    async with session(tmp_path, config) as c:
        message = await error_of(c, "slo_status", {"objective": "wide", "time": str(slo_history.end)})
    assert "returns 3 series" in message and "sum(" in message
