"""The Redis-backed fleet limiter against a real redis-server: same answers as the Rust limiter,
one quota shared by separate processes, and Redis killed and restarted mid-run."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
import redis
from prometheus_client import CollectorRegistry

from shared.ratelimit import CallLimiter, QuotaSpec
from shared.redis_limiter import RedisCallLimiter
from shared.settings import RedisSettings
from tests.integration.scale.redis_service import RedisServer

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[3]
HOUR = 3600.0


async def eventually(check: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> None:
    """Call `check` until `done` says its answer is the one awaited (bounded by the caller)."""
    with anyio.fail_after(10):
        while not done(await check()):  # noqa: ASYNC110 - polling a remote service's answer
            await anyio.sleep(0.05)


Fleet = Callable[..., RedisCallLimiter]


@pytest.fixture
async def fleet() -> AsyncIterator[Fleet]:
    """Make limiters on the test's Redis; each is closed after the test."""
    made: list[RedisCallLimiter] = []

    def make(
        server: RedisServer,
        quotas: dict[str, QuotaSpec | None],
        *,
        fail: Literal["open", "closed"] = "open",
        registry: CollectorRegistry | None = None,
    ) -> RedisCallLimiter:
        settings = RedisSettings.model_validate({"url": server.url, "timeout_s": 0.5})
        limiter = RedisCallLimiter(quotas, settings, fail=fail, retry_interval_s=0.05, registry=registry)
        made.append(limiter)
        return limiter

    yield make
    for limiter in made:
        await limiter.aclose()


CASES: list[tuple[dict[str, QuotaSpec | None], list[tuple[str, str, int]]]] = [
    # (quotas, [(subject, tool, cost), ...]) — slow rates, so the answers do not depend on timing
    ({"global": QuotaSpec(1, 5, HOUR)}, [("a", "t", 1)] * 7),
    (
        {"identity": QuotaSpec(1, 4, HOUR), "tool": QuotaSpec(1, 3, HOUR)},
        [("a", "t", 1), ("b", "t", 2), ("a", "u", 3), ("a", "t", 1), ("b", "u", 1), ("b", "u", 1)],
    ),
    (
        {"global": QuotaSpec(2, 6, HOUR), "identity_tool": QuotaSpec(1, 2, HOUR)},
        [("a", "t", 2), ("a", "t", 1), ("a", "u", 2), ("b", "t", 2), ("b", "t", 1), ("c", "t", 1)],
    ),
    ({"tool": QuotaSpec(3, 3, HOUR), "identity": None}, [("x", "t", 3), ("x", "t", 1), ("y", "t", 1)]),
]


@pytest.mark.parametrize(("quotas", "calls"), CASES)
async def test_redis_answers_like_the_rust_limiter(
    redis_srv: RedisServer,
    fleet: Fleet,
    quotas: dict[str, QuotaSpec | None],
    calls: list[tuple[str, str, int]],
) -> None:
    """Same admissions, same refusing rule, retry_after within a second of the in-process limiter."""
    local, shared = CallLimiter(quotas), fleet(redis_srv, quotas)
    for subject, tool, cost in calls:
        want = local.check_now(server="s", tool=tool, subject=subject, cost=cost)
        got = await shared.check(server="s", tool=tool, subject=subject, cost=cost)
        assert (got is None) == (want is None), (subject, tool, cost)
        if want is not None and got is not None:
            assert got.rule == want.rule
            assert abs(got.retry_after_ms - want.retry_after_ms) < 1000


async def test_a_refusal_charges_no_rule_and_names_the_refusing_one(
    redis_srv: RedisServer, fleet: Fleet
) -> None:
    limiter = fleet(redis_srv, {"identity": QuotaSpec(1, 5, HOUR), "tool": QuotaSpec(1, 1, HOUR)})
    assert await limiter.check(server="s", tool="t", subject="a") is None
    for _ in range(3):
        refused = await limiter.check(server="s", tool="t", subject="a")
        assert refused is not None
        assert refused.rule == "tool"
        assert 3_500_000 < refused.retry_after_ms <= 3_600_000
    for i in range(4):  # identity still has its 4 cells
        assert await limiter.check(server="s", tool=f"x{i}", subject="a") is None
    refused = await limiter.check(server="s", tool="y", subject="a")
    assert refused is not None
    assert refused.rule == "identity"


async def test_peek_charges_nothing(redis_srv: RedisServer, fleet: Fleet) -> None:
    limiter = fleet(redis_srv, {"global": QuotaSpec(1, 2, HOUR), "identity": QuotaSpec(1, 2, HOUR)})
    for _ in range(10):
        assert await limiter.peek_caller("a") is None
    assert await limiter.check(server="s", tool="t", subject="a") is None
    assert await limiter.check(server="s", tool="t", subject="a") is None
    spent = await limiter.peek_caller("a")
    assert spent is not None
    assert spent.rule == "global"


async def test_peek_names_the_identity_rule_when_only_it_is_spent(
    redis_srv: RedisServer, fleet: Fleet
) -> None:
    limiter = fleet(redis_srv, {"global": QuotaSpec(1, 100, HOUR), "identity": QuotaSpec(1, 1, HOUR)})
    assert await limiter.check(server="s", tool="t", subject="a") is None
    spent = await limiter.peek_caller("a")
    assert spent is not None
    assert spent.rule == "identity"
    assert await limiter.peek_caller("b") is None


async def test_states_expire_once_recovered(redis_srv: RedisServer, fleet: Fleet) -> None:
    """Memory stays bounded: each state carries a TTL no longer than its full recovery."""
    limiter = fleet(redis_srv, {"identity": QuotaSpec(1, 3, 60)})
    assert await limiter.check(server="s", tool="t", subject="a", cost=2) is None
    client = redis.Redis.from_url(redis_srv.url)
    keys = client.keys("code-mcp:*")
    assert len(keys) == 1
    assert 0 < client.pttl(keys[0]) <= 120_000


async def test_hostile_subjects_stay_data(redis_srv: RedisServer, fleet: Fleet) -> None:
    """Keys built from caller names cannot collide with, or reach, another caller's state."""
    limiter = fleet(redis_srv, {"identity": QuotaSpec(1, 1, HOUR)})
    hostile = ["a", "a:", "a}{rl}", "a\nSET x y", "'); redis.call('FLUSHALL') --", "*", "x" * 10_000, "é\x00"]
    for subject in hostile:
        assert await limiter.check(server="s", tool="t", subject=subject) is None, subject
    for subject in hostile:
        refused = await limiter.check(server="s", tool="t", subject=subject)
        assert refused is not None
        assert refused.key == subject


async def test_script_is_reloaded_when_redis_forgets_it(redis_srv: RedisServer, fleet: Fleet) -> None:
    limiter = fleet(redis_srv, {"global": QuotaSpec(1, 2, HOUR)})
    assert await limiter.check(server="s", tool="t", subject="a") is None
    redis.Redis.from_url(redis_srv.url).script_flush()
    assert await limiter.check(server="s", tool="t", subject="a") is None
    assert await limiter.check(server="s", tool="t", subject="a") is not None
    assert limiter.available


def run_replicas(server: RedisServer, *, replicas: int, attempts: int, quota: QuotaSpec) -> list[int]:
    start_key = "test:start"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.scale.quota_worker",
                server.url,
                str(attempts),
                str(quota.rate),
                str(quota.burst),
                str(quota.period_s),
                start_key,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(replicas)
    ]
    try:
        redis.Redis.from_url(server.url).rpush(start_key, *range(replicas))
        counts = []
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err.decode()
            counts.append(int(out))
        return counts
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


def test_two_processes_sharing_a_quota_admit_no_more_than_the_quota(redis_srv: RedisServer) -> None:
    counts = run_replicas(redis_srv, replicas=2, attempts=300, quota=QuotaSpec(1, 200, HOUR))
    # Each alone would have taken 200 of its 300; together they got exactly the burst once.
    assert sum(counts) == 200


def test_two_processes_at_a_sustained_rate_stay_within_burst_plus_rate(redis_srv: RedisServer) -> None:
    started = time.monotonic()
    counts = run_replicas(redis_srv, replicas=2, attempts=2000, quota=QuotaSpec(100, 20, 1))
    elapsed = time.monotonic() - started
    # The fleet admits at most burst + rate x the time the run could have lasted (an upper bound).
    assert sum(counts) <= 20 + 100 * elapsed + 1
    assert sum(counts) >= 20


async def test_fail_open_falls_back_to_local_limits_and_recovers(
    redis_srv: RedisServer, fleet: Fleet
) -> None:
    registry = CollectorRegistry()
    limiter = fleet(redis_srv, {"identity": QuotaSpec(1, 3, HOUR)}, fail="open", registry=registry)
    assert await limiter.check(server="s", tool="t", subject="a") is None
    assert limiter.health()["status"] == "ok"
    assert registry.get_sample_value("code_mcp_ratelimit_backend_up", {"backend": "redis"}) == 1

    redis_srv.kill()
    # Redis is gone: the same quota is now enforced by this replica alone (it starts full).
    for _ in range(3):
        assert await limiter.check(server="s", tool="t", subject="a") is None
    refused = await limiter.check(server="s", tool="t", subject="a")
    assert refused is not None
    assert refused.rule == "identity"
    health = limiter.health()
    assert health["status"] == "degraded"
    assert health["fallback"] == "local limits"
    assert registry.get_sample_value("code_mcp_ratelimit_backend_up", {"backend": "redis"}) == 0
    assert registry.get_sample_value("code_mcp_ratelimit_fallback_checks_total", {"policy": "open"}) == 4

    redis_srv.start()  # same port, empty: its quotas start over
    await eventually(
        lambda: limiter.check(server="s", tool="t", subject="b"), lambda r: r is None and limiter.available
    )
    assert limiter.health()["status"] == "ok"
    assert registry.get_sample_value("code_mcp_ratelimit_backend_up", {"backend": "redis"}) == 1
    assert await limiter.check(server="s", tool="t", subject="a") is None  # back on the fleet's state


async def test_fail_closed_refuses_while_redis_is_down(redis_srv: RedisServer, fleet: Fleet) -> None:
    limiter = fleet(redis_srv, {"identity": QuotaSpec(1, 100, HOUR)}, fail="closed")
    assert await limiter.check(server="s", tool="t", subject="a") is None
    redis_srv.kill()
    for _ in range(3):
        refused = await limiter.check(server="s", tool="t", subject="a")
        assert refused is not None
        assert refused.rule == "redis"
        assert refused.retry_after_ms >= 1
    assert await limiter.peek_caller("a") is not None
    assert limiter.health()["fallback"] == "refuse all calls"
    redis_srv.start()
    await eventually(lambda: limiter.check(server="s", tool="t", subject="a"), lambda r: r is None)
    assert limiter.available
