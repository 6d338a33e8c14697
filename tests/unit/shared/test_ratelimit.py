"""Nested tool-call quotas and the outbound limiter, on the real Rust limiter."""

from __future__ import annotations

import time

import anyio
import pytest

from shared.errors import ConfigError, RateLimited
from shared.identity import Identity
from shared.ratelimit import (
    CallLimiter,
    FailureThrottle,
    OutboundLimiter,
    QuotaSpec,
    caller_key,
    retry_after_seconds,
    rule_keys,
)

SLOW = QuotaSpec(rate=1, burst=2, period_s=3600)


def test_no_rules_means_no_limit() -> None:
    limiter = CallLimiter({})
    assert limiter.max_cost is None
    assert all(limiter.check_now(server="s", tool="t", subject="a") is None for _ in range(100))
    assert limiter.peek_now("a") is None


@pytest.mark.parametrize("rule", ["global", "identity", "tool", "identity_tool"])
def test_each_rule_refuses_past_its_burst_and_names_itself(rule: str) -> None:
    limiter = CallLimiter({rule: SLOW})
    assert limiter.check_now(server="s", tool="t", subject="a") is None
    assert limiter.check_now(server="s", tool="t", subject="a") is None
    refused = limiter.check_now(server="s", tool="t", subject="a")
    assert refused is not None
    assert refused.rule == rule
    assert refused.retry_after_ms > 0


def test_rule_keys_name_each_rule_in_use_outermost_first() -> None:
    assert rule_keys("srv", "tool", "api_key:alice", {"identity_tool", "global", "tool", "identity"}) == [
        ("global", "*"),
        ("identity", "api_key:alice"),
        ("tool", "srv/tool"),
        ("identity_tool", "api_key:alice|srv/tool"),
    ]
    assert rule_keys("srv", "tool", "bob", {"tool"}) == [("tool", "srv/tool")]
    assert rule_keys("srv", "tool", "bob", set()) == []


def test_rules_are_nested_by_key() -> None:
    limiter = CallLimiter({"identity_tool": SLOW})
    for _ in range(2):
        assert limiter.check_now(server="s", tool="t", subject="a") is None
    assert limiter.check_now(server="s", tool="t", subject="a") is not None
    assert limiter.check_now(server="s", tool="other", subject="a") is None  # another tool
    assert limiter.check_now(server="s", tool="t", subject="b") is None  # another caller
    assert limiter.check_now(server="s2", tool="t", subject="a") is None  # same tool name, other server


def test_a_refused_call_charges_no_rule() -> None:
    limiter = CallLimiter({"identity": QuotaSpec(1, 5, 3600), "tool": QuotaSpec(1, 1, 3600)})
    assert limiter.check_now(server="s", tool="t", subject="a") is None
    for _ in range(3):
        assert limiter.check_now(server="s", tool="t", subject="a") is not None
    # identity still has 4 cells: refusals by the tool rule did not spend them
    for _ in range(4):
        assert limiter.check_now(server="s", tool=f"x{_}", subject="a") is None


def test_costs_weigh_calls_and_impossible_costs_are_refused_at_registration() -> None:
    limiter = CallLimiter({"tool": QuotaSpec(1, 3, 3600)})
    assert limiter.max_cost == 3
    assert limiter.check_now(server="s", tool="t", subject="a", cost=2) is None
    assert limiter.check_now(server="s", tool="t", subject="a", cost=2) is not None
    limiter.validate_cost("t", 3)
    with pytest.raises(ConfigError, match="exceeds the smallest burst"):
        limiter.validate_cost("t", 4)
    with pytest.raises(ConfigError, match=">= 1"):
        limiter.validate_cost("t", 0)


def test_peek_caller_does_not_charge() -> None:
    limiter = CallLimiter({"identity": QuotaSpec(1, 1, 3600), "global": QuotaSpec(100, 100, 1)})
    assert limiter.peek_now("a") is None
    assert limiter.peek_now("a") is None
    assert limiter.check_now(server="s", tool="t", subject="a") is None
    refused = limiter.peek_now("a")
    assert refused is not None and refused.rule == "identity"
    assert limiter.peek_now("b") is None
    assert len(limiter) >= 1


def test_unknown_rules_and_bad_quotas_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown rules"):
        CallLimiter({"per_moon": SLOW})
    with pytest.raises(ConfigError, match="quota"):
        CallLimiter({"tool": QuotaSpec(0, 1)})


def test_caller_keys_separate_methods() -> None:
    assert caller_key(Identity("a", "viewer", "jwt")) != caller_key(Identity("a", "viewer", "api_key"))


@pytest.mark.parametrize(("ms", "s"), [(0, 1), (1, 1), (1000, 1), (1001, 2), (59_500, 60)])
def test_retry_after_seconds_rounds_up(ms: int, s: int) -> None:
    assert retry_after_seconds(ms) == s


def test_outbound_try_acquire_refuses_with_retry_after() -> None:
    limiter = OutboundLimiter(rate=1, burst=1, period_s=3600)
    limiter.try_acquire("anthropic")
    with pytest.raises(RateLimited) as refused:
        limiter.try_acquire("anthropic")
    assert refused.value.retry_after_ms > 0
    limiter.try_acquire("openai")
    with pytest.raises(ValueError, match="burst"):
        limiter.try_acquire("x", cost=2)


@pytest.mark.anyio
async def test_outbound_acquire_waits_for_a_cell() -> None:
    limiter = OutboundLimiter(rate=20, burst=1)
    started = time.monotonic()
    with anyio.fail_after(5):
        for _ in range(3):
            await limiter.acquire("p")  # the second and third wait 50 ms each for a cell
    # The quota admits one call per 50 ms: three calls cannot have gone through in under ~100 ms.
    assert time.monotonic() - started >= 0.09
    with pytest.raises(RateLimited):
        limiter.try_acquire("p")  # acquire took the cells it waited for


@pytest.mark.anyio
async def test_the_async_protocol_answers_like_the_sync_core() -> None:
    limiter = CallLimiter({"identity": QuotaSpec(1, 1, 3600)})
    assert await limiter.check(server="s", tool="t", subject="a") is None
    refused = await limiter.check(server="s", tool="t", subject="a")
    assert refused is not None and refused.rule == "identity"
    assert await limiter.peek_caller("a") is not None
    assert await limiter.peek_caller("b") is None
    assert limiter.health() == {"backend": "memory", "status": "ok"}
    await limiter.aclose()


def test_a_failure_throttle_refuses_an_address_after_its_burst_of_failures() -> None:
    throttle = FailureThrottle(QuotaSpec(1, 3, 3600))
    for _ in range(3):
        assert throttle.peek("10.0.0.1") is None
        throttle.fail("10.0.0.1")
    refused = throttle.peek("10.0.0.1")
    assert refused is not None and refused.retry_after_ms > 0
    assert throttle.peek("10.0.0.2") is None  # another address is not affected


@pytest.mark.anyio
async def test_outbound_acquire_gives_up_after_max_wait() -> None:
    limiter = OutboundLimiter(rate=1, burst=1, period_s=3600)
    await limiter.acquire("p")
    with pytest.raises(TimeoutError):
        await limiter.acquire("p", max_wait_s=0.05)
