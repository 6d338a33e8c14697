"""rollout_verify end to end: real Prometheus conditions on the app target's metrics, and real
health endpoints. Kubernetes is simulated: the deployment is a label value in the metrics
(`deployment="web-good"`), which is all rollout_verify ever sees of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.integration.monitoring.calls import call, error_of, session, suite_config
from tests.integration.monitoring.prom_stack import PromStack

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ERROR_RATE = (
    'sum(rate(app_http_requests_total{deployment="$deployment",code=~"5.."}[5s]))'
    ' / sum(rate(app_http_requests_total{deployment="$deployment"}[5s]))'
)
P99 = (
    "histogram_quantile(0.99, sum by (le) "
    '(rate(app_http_request_duration_seconds_bucket{deployment="$deployment"}[5s])))'
)


def gate_config(stack: PromStack) -> dict[str, Any]:
    config = suite_config(
        stack,
        rollout_max_window_s=60,
        rollout_checks={
            "error-rate": {"expr": ERROR_RATE, "max": 0.05, "description": "5xx share"},
            "p99-latency": {"expr": P99, "max": 0.5},
            "healthz": {"urls": [f"{stack.app}/healthz/$deployment"]},
        },
    )
    config["policy"]["url_allowlist"].append(stack.app)
    return config


@pytest.fixture
async def client(tmp_path: Path, prom_stack: PromStack) -> AsyncIterator[Client]:
    async with session(tmp_path, gate_config(prom_stack)) as c:
        yield c


def by_name(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in verdict["checks"]}


async def test_a_healthy_rollout_passes_after_the_whole_window(client: Client) -> None:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    verdict = await call(
        client, "rollout_verify", {"deployment": "web-good", "window": "2s", "interval": "1s"},
        progress_callback=on_progress,
    )  # fmt: skip
    assert verdict["verdict"] == "pass" and "looks healthy" in verdict["advice"]
    assert verdict["watched_seconds"] >= 2
    checks = by_name(verdict)
    assert set(checks) == {"error-rate", "p99-latency", "healthz"}
    assert all(c["passed"] and c["evaluations"] == 3 and c["failures"] == 0 for c in checks.values())
    assert checks["error-rate"]["worst"] == pytest.approx(0.0)
    assert checks["p99-latency"]["worst"] == pytest.approx(0.099, abs=0.002)  # all within the 0.1 bucket
    assert "/healthz/web-good: 200" in checks["healthz"]["recent"][-1]["detail"]
    assert len(progress) == 3


async def test_a_bad_rollout_fails_fast_with_the_evidence(client: Client) -> None:
    verdict = await call(
        client, "rollout_verify", {"deployment": "web-bad", "window": "30s", "interval": "1s"}
    )
    assert verdict["verdict"] == "fail" and "k8s_rollback" in verdict["advice"]
    assert verdict["watched_seconds"] < 10  # stopped at the first failing round, not after 30 s
    checks = by_name(verdict)
    errors = checks["error-rate"]
    assert not errors["passed"] and errors["evaluations"] == 1
    assert errors["worst"] == pytest.approx(0.25, abs=0.02)  # 5 of 20 requests per second fail
    assert "value = 0.2" in errors["first_failure"]["detail"]  # one series, no labels: "value"
    assert checks["p99-latency"]["worst"] == pytest.approx(2.475, abs=0.05)
    assert "503" in checks["healthz"]["first_failure"]["detail"]


async def test_watching_on_after_a_failure(client: Client) -> None:
    verdict = await call(
        client,
        "rollout_verify",
        {
            "deployment": "web-bad",
            "checks": ["error-rate"],
            "window": "1s",
            "interval": "1s",
            "fail_fast": False,
        },
    )
    [errors] = verdict["checks"]
    assert errors["evaluations"] == 2 and errors["failures"] == 2 and len(errors["recent"]) == 2


async def test_no_data_is_a_failure(client: Client) -> None:
    verdict = await call(client, "rollout_verify", {"deployment": "web-gone", "checks": ["error-rate"],
                                                    "window": "1s", "interval": "1s"})  # fmt: skip
    [errors] = verdict["checks"]
    assert verdict["verdict"] == "fail" and "no data" in errors["first_failure"]["detail"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"deployment": 'web"} or vector(1) #'}, "deployment"),
        ({"deployment": "../healthz"}, "deployment"),
        ({"deployment": "Web-Good"}, "deployment"),
        ({"deployment": "web-good", "namespace": "a/b"}, "namespace"),
        ({"deployment": "web-good", "checks": ["error-rat"]}, "unknown check(s) error-rat"),
        ({"deployment": "web-good", "window": "2h"}, "above the 60s"),
        ({"deployment": "web-good", "window": "5s", "interval": "10s"}, "interval"),
        ({"deployment": "web-good", "checks": []}, "no checks"),
    ],
)
async def test_bad_arguments_are_refused(client: Client, args: dict[str, Any], expected: str) -> None:
    assert expected in await error_of(client, "rollout_verify", args)


async def test_health_urls_stay_within_the_policy(tmp_path: Path, prom_stack: PromStack) -> None:
    config = gate_config(prom_stack)
    config["policy"]["url_allowlist"].remove(prom_stack.app)
    async with session(tmp_path, config) as c:
        message = await error_of(c, "rollout_verify", {"deployment": "web-good", "checks": ["healthz"],
                                                       "window": "1s", "interval": "1s"})  # fmt: skip
    assert "allowlist" in message
