"""The Redis limiter's own logic with no Redis listening: settings, key layout, refusals of impossible
inputs, and the fallback policies (a closed loopback port refuses the connection for real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from shared.errors import ConfigError
from shared.ratelimit import LimitDecision, QuotaSpec
from shared.redis_limiter import RedisCallLimiter, redis_keys
from shared.settings import RedisSettings, SuiteConfig
from tests.support.services import free_port

pytestmark = pytest.mark.anyio
HOUR = 3600.0


@asynccontextmanager
async def unreachable(
    fail: Literal["open", "closed"], quotas: dict[str, QuotaSpec | None] | None = None
) -> AsyncIterator[RedisCallLimiter]:
    settings = RedisSettings.model_validate({"url": f"redis://127.0.0.1:{free_port()}/0"})
    limiter = RedisCallLimiter(
        {"identity": QuotaSpec(1, 2, HOUR)} if quotas is None else quotas,
        settings,
        fail=fail,
        retry_interval_s=60,
        registry=CollectorRegistry(),
    )
    try:
        yield limiter
    finally:
        await limiter.aclose()


def test_settings_refuse_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        RedisSettings.model_validate({"url": "redis://x", "fial": "open"})
    with pytest.raises(ValidationError):
        RedisSettings.model_validate({"prefix": "a b{c}"})
    with pytest.raises(ValidationError):
        RedisSettings.model_validate({"timeout_s": 0})
    with pytest.raises(ValidationError, match="'open' or 'closed'"):
        SuiteConfig.model_validate({"limits": {"fail": "sometimes"}})


def test_the_redis_backend_needs_a_configured_redis() -> None:
    with pytest.raises(ValidationError, match=r"needs the fleet's Redis: set \[redis\] url or url_file"):
        SuiteConfig.model_validate({"limits": {"backend": "redis"}})
    config = SuiteConfig.model_validate({"limits": {"backend": "redis"}, "redis": {"url": "redis://r:6379"}})
    assert config.redis.configured


def test_the_url_is_a_secret() -> None:
    settings = RedisSettings.model_validate({"url": "redis://:hunter2@redis:6379/0"})
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_the_url_can_come_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "redis-url"
    secret.write_text("redis://:s3cret@redis:6379/0\n")
    settings = RedisSettings.model_validate({"url_file": str(secret)})
    assert settings.redis_url() == "redis://:s3cret@redis:6379/0"
    missing = RedisSettings.model_validate({"url_file": str(tmp_path / "absent")})
    with pytest.raises(ConfigError, match="url_file"):
        missing.redis_url()
    with pytest.raises(ConfigError, match="redis://, rediss:// or unix://"):
        RedisSettings.model_validate({"url": "http://redis:6379"}).redis_url()


def test_keys_share_one_hash_slot_and_keep_rule_and_key_apart() -> None:
    keys = redis_keys("code-mcp", [("global", "*"), ("identity", "api_key:bob")])
    assert keys == ["code-mcp:{rl}:global:*", "code-mcp:{rl}:identity:api_key:bob"]


async def test_rates_beyond_a_microsecond_resolution_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="microsecond"):
        async with unreachable("open", {"global": QuotaSpec(2_000_000, 10)}):
            pass


async def test_impossible_costs_are_refused_before_any_round_trip() -> None:
    async with unreachable("open") as limiter:
        assert limiter.max_cost == 2
        with pytest.raises(ConfigError):
            limiter.validate_cost("t", 3)
        with pytest.raises(ValueError, match="burst"):
            await limiter.check(server="s", tool="t", subject="a", cost=3)
        with pytest.raises(ValueError, match=">= 1"):
            await limiter.check(server="s", tool="t", subject="a", cost=0)
        assert limiter.available  # refused before trying Redis


async def test_no_rules_means_no_limit_and_no_round_trip() -> None:
    async with unreachable("closed", {}) as limiter:
        assert await limiter.check(server="s", tool="t", subject="a") is None
        assert await limiter.peek_caller("a") is None
        assert limiter.available  # never even tried


async def test_fail_open_enforces_the_same_quotas_locally() -> None:
    async with unreachable("open") as limiter:
        assert await limiter.check(server="s", tool="t", subject="a") is None
        assert not limiter.available
        assert await limiter.check(server="s", tool="t", subject="a") is None
        refused = await limiter.check(server="s", tool="t", subject="a")
        assert refused is not None
        assert refused.rule == "identity"
        assert await limiter.peek_caller("a") is not None
        assert await limiter.peek_caller("b") is None
        assert len(limiter) == 1
        health = limiter.health()
        assert health["status"] == "degraded"
        assert health["fallback"] == "local limits"
        assert "Connection" in health["error"]


async def test_fail_closed_refuses_every_call_saying_when_to_retry() -> None:
    async with unreachable("closed") as limiter:
        refused = await limiter.check(server="s", tool="t", subject="a")
        assert isinstance(refused, LimitDecision)
        assert refused.rule == "redis"
        assert 0 < refused.retry_after_ms <= 60_000
        assert await limiter.peek_caller("a") is not None
        assert limiter.health()["fallback"] == "refuse all calls"
