"""The Redis limiter's own logic with no Redis listening: settings, key layout, refusals of impossible
inputs, and the fallback policies (a closed loopback port refuses the connection for real)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from shared.errors import ConfigError
from shared.ratelimit import QuotaSpec
from shared.redis_limiter import LimitDecision, RedisCallLimiter, RedisLimitSettings, redis_keys
from tests.support.services import free_port

HOUR = 3600.0


def unreachable(fail: str, quotas: dict[str, QuotaSpec | None] | None = None) -> RedisCallLimiter:
    settings = RedisLimitSettings.model_validate(
        {"url": f"redis://127.0.0.1:{free_port()}/0", "fail": fail, "retry_interval_s": 60}
    )
    return RedisCallLimiter(
        {"identity": QuotaSpec(1, 2, HOUR)} if quotas is None else quotas,
        settings,
        registry=CollectorRegistry(),
    )


def test_settings_refuse_unknown_fields_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        RedisLimitSettings.model_validate({"url": "redis://x", "fial": "open"})
    with pytest.raises(ValidationError):
        RedisLimitSettings.model_validate({"fail": "sometimes"})
    with pytest.raises(ValidationError):
        RedisLimitSettings.model_validate({"prefix": "a b{c}"})
    with pytest.raises(ValidationError):
        RedisLimitSettings.model_validate({"timeout_s": 0})


def test_the_url_is_a_secret() -> None:
    settings = RedisLimitSettings.model_validate({"url": "redis://:hunter2@redis:6379/0"})
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_the_url_can_come_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "redis-url"
    secret.write_text("redis://:s3cret@redis:6379/0\n")
    settings = RedisLimitSettings.model_validate({"url_file": str(secret)})
    assert settings.redis_url() == "redis://:s3cret@redis:6379/0"
    missing = RedisLimitSettings.model_validate({"url_file": str(tmp_path / "absent")})
    with pytest.raises(ConfigError, match="url_file"):
        missing.redis_url()


def test_keys_share_one_hash_slot_and_keep_rule_and_key_apart() -> None:
    keys = redis_keys("code-mcp", [("global", "*"), ("identity", "api_key:bob")])
    assert keys == ["code-mcp:{rl}:global:*", "code-mcp:{rl}:identity:api_key:bob"]


def test_rates_beyond_a_microsecond_resolution_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="microsecond"):
        unreachable("open", {"global": QuotaSpec(2_000_000, 10)})


def test_impossible_costs_are_refused_before_any_round_trip() -> None:
    limiter = unreachable("open")
    assert limiter.max_cost == 2
    with pytest.raises(ConfigError):
        limiter.validate_cost("t", 3)
    with pytest.raises(ValueError, match="burst"):
        limiter.check(server="s", tool="t", subject="a", cost=3)
    with pytest.raises(ValueError, match=">= 1"):
        limiter.check(server="s", tool="t", subject="a", cost=0)


def test_no_rules_means_no_limit_and_no_round_trip() -> None:
    limiter = unreachable("closed", {})
    assert limiter.check(server="s", tool="t", subject="a") is None
    assert limiter.peek_caller("a") is None
    assert limiter.available  # never even tried


def test_fail_open_enforces_the_same_quotas_locally() -> None:
    limiter = unreachable("open")
    assert limiter.check(server="s", tool="t", subject="a") is None
    assert not limiter.available
    assert limiter.check(server="s", tool="t", subject="a") is None
    refused = limiter.check(server="s", tool="t", subject="a")
    assert refused is not None
    assert refused.rule == "identity"
    assert limiter.peek_caller("a") is not None
    assert limiter.peek_caller("b") is None
    assert len(limiter) == 1
    health = limiter.health()
    assert health["status"] == "degraded"
    assert health["fallback"] == "local limits"
    assert "Connection" in health["error"]


def test_fail_closed_refuses_every_call_saying_when_to_retry() -> None:
    limiter = unreachable("closed")
    refused = limiter.check(server="s", tool="t", subject="a")
    assert isinstance(refused, LimitDecision)
    assert refused.rule == "redis"
    assert 0 < refused.retry_after_ms <= 60_000
    assert limiter.peek_caller("a") is not None
    assert limiter.health()["fallback"] == "refuse all calls"
    limiter.close()


@pytest.mark.anyio
async def test_async_fallback_without_redis() -> None:
    limiter = unreachable("closed")
    try:
        refused = await limiter.acheck(server="s", tool="t", subject="a")
        assert refused is not None
        assert refused.rule == "redis"
        assert await limiter.acheck(server="s", tool="t", subject="a", cost=1) is not None
    finally:
        await limiter.aclose()
