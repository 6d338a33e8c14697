"""Rate limits: the `Limiter` protocol the guard and the HTTP edge use, the in-process limiter on
the Rust core, and a limiter for outbound calls.

Tool calls are checked atomically against four nested rules — global ⊇ identity ⊇ tool ⊇
(identity, tool) — weighted by the tool's cost: either every rule admits and all are charged, or
the call is refused naming the first rule that refused and when to retry. Both implementations —
`CallLimiter` here (per process) and `shared.redis_limiter.RedisCallLimiter` (fleet-wide) — are
async, so a check never blocks the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from rust_core import Decision, Quota, RateLimiter
from shared.errors import ConfigError, RateLimited
from shared.identity import Identity

__all__ = [
    "CALLER_RULES",
    "RULES",
    "CallLimiter",
    "FailureThrottle",
    "LimitDecision",
    "Limiter",
    "OutboundLimiter",
    "QuotaSettingsLike",
    "QuotaSpec",
    "Refusal",
    "caller_key",
    "caller_keys",
    "retry_after_seconds",
    "rule_keys",
]

RULES = ("global", "identity", "tool", "identity_tool")
"""The nested tool-call rules, outermost first."""

CALLER_RULES = ("global", "identity")
"""The rules that limit a caller whatever the tool (peeked at the HTTP edge)."""


class Refusal(Protocol):
    """What the guard reads from a refusal: the Rust `Decision` and `LimitDecision` both fit."""

    @property
    def allowed(self) -> bool: ...
    @property
    def retry_after_ms(self) -> int: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def key(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """A refusal from Redis (or from a fail-closed fallback); reads like the Rust `Decision`."""

    allowed: bool
    remaining: int
    retry_after_ms: int
    reset_after_ms: int
    rule: str | None
    key: str | None


class Limiter(Protocol):
    """Tool-call quotas as the guard and the HTTP edge use them; every check is async."""

    @property
    def max_cost(self) -> int | None:
        """The largest cost any call can ever be admitted with (None: unlimited)."""

    def validate_cost(self, tool: str, cost: int) -> None:
        """Refuse at registration (`ConfigError`) a cost no quota could ever admit."""

    async def check(self, *, server: str, tool: str, subject: str, cost: int = 1) -> Refusal | None:
        """Charge one call to every rule; None when admitted, else the refusal (nothing charged)."""

    async def peek_caller(self, subject: str) -> Refusal | None:
        """Whether the caller's own quotas (global, identity) are exhausted, without charging."""

    def health(self) -> dict[str, Any]:
        """For `/healthz`: which backend decides and whether it is up."""

    async def aclose(self) -> None:
        """Release connections."""


@dataclass(frozen=True, slots=True)
class QuotaSpec:
    """`rate` calls per `period_s` seconds with bursts of up to `burst`."""

    rate: float
    burst: int
    period_s: float = 1.0

    def quota(self) -> Quota:
        try:
            return Quota(self.rate, self.burst, self.period_s)
        except ValueError as exc:
            raise ConfigError(f"rate limit quota {self}: {exc}") from exc


def caller_key(identity: Identity) -> str:
    """The rate-limit key of a caller: one bucket per (how it authenticated, subject)."""
    return f"{identity.method}:{identity.subject}"


def rule_keys(server: str, tool: str, subject: str, rules: Container[str]) -> list[tuple[str, str]]:
    """The (rule, key) pairs one tool call is charged to, outermost first, for the rules in `rules`."""
    tool_key = f"{server}/{tool}"
    keys = {
        "global": "*",
        "identity": subject,
        "tool": tool_key,
        "identity_tool": f"{subject}|{tool_key}",
    }
    return [(rule, keys[rule]) for rule in RULES if rule in rules]


def caller_keys(subject: str, rules: Container[str]) -> list[tuple[str, str]]:
    """The (rule, key) pairs that limit a caller whatever the tool, for the rules in `rules`."""
    keys = {"global": "*", "identity": subject}
    return [(rule, keys[rule]) for rule in CALLER_RULES if rule in rules]


def retry_after_seconds(retry_after_ms: int) -> int:
    """The `Retry-After` header value (whole seconds, at least 1) for a refusal."""
    return max(1, math.ceil(retry_after_ms / 1000))


class CallLimiter:
    """The four nested tool-call rules on one Rust `RateLimiter`; a rule set to None is unlimited."""

    def __init__(self, quotas: Mapping[str, QuotaSpec | None], *, max_keys: int = 100_000) -> None:
        unknown = set(quotas) - set(RULES)
        if unknown:
            raise ConfigError(f"limits: unknown rules {sorted(unknown)}; known: {list(RULES)}")
        self._limiter = RateLimiter(max_keys)
        self._bursts: dict[str, int] = {}
        for rule in RULES:
            spec = quotas.get(rule)
            if spec is not None:
                self._limiter.set_rule(rule, spec.quota())
                self._bursts[rule] = spec.burst

    @property
    def max_cost(self) -> int | None:
        """The largest cost any call can ever be admitted with (None: unlimited)."""
        return min(self._bursts.values()) if self._bursts else None

    def validate_cost(self, tool: str, cost: int) -> None:
        """Refuse at registration a cost no quota could ever admit."""
        if cost < 1:
            raise ConfigError(f"tool {tool}: cost must be >= 1")
        ceiling = self.max_cost
        if ceiling is not None and cost > ceiling:
            raise ConfigError(
                f"tool {tool}: cost {cost} exceeds the smallest burst ({ceiling}); raise [limits]"
            )

    def check_now(self, *, server: str, tool: str, subject: str, cost: int = 1) -> Decision | None:
        """`check` without the coroutine (the Rust limiter answers in well under a microsecond)."""
        if not self._bursts:
            return None
        decision = self._limiter.check_all(rule_keys(server, tool, subject, self._bursts), cost)
        return None if decision.allowed else decision

    def peek_now(self, subject: str) -> Decision | None:
        """`peek_caller` without the coroutine."""
        for rule, key in caller_keys(subject, self._bursts):
            decision = self._limiter.peek(rule, key)
            if not decision.allowed:
                return decision
        return None

    async def check(self, *, server: str, tool: str, subject: str, cost: int = 1) -> Decision | None:
        """Charge one call to every rule; None when admitted, else the refusing decision."""
        return self.check_now(server=server, tool=tool, subject=subject, cost=cost)

    async def peek_caller(self, subject: str) -> Decision | None:
        """Whether the caller's own quotas (global, identity) are exhausted, without charging."""
        return self.peek_now(subject)

    def health(self) -> dict[str, Any]:
        """For `/healthz`: the in-process limiter is always available."""
        return {"backend": "memory", "status": "ok"}

    async def aclose(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._limiter)


class OutboundLimiter:
    """Pace calls a server makes to an upstream (LLM providers, APIs) on the Rust limiter.

    `await limiter.acquire(key, cost)` waits until the call may go; `try_acquire` refuses instead.
    """

    def __init__(self, rate: float, burst: int, *, period_s: float = 1.0, max_keys: int = 10_000) -> None:
        self._limiter = RateLimiter(max_keys)
        self._limiter.set_rule("outbound", QuotaSpec(rate, burst, period_s).quota())
        self.burst = burst

    def try_acquire(self, key: str, cost: int = 1) -> None:
        """Take `cost` cells now or raise `RateLimited` saying when to retry."""
        decision = self._limiter.check("outbound", key, self._cost(cost))
        if not decision.allowed:
            raise RateLimited(
                f"outbound quota for {key!r} exhausted; retry in {decision.retry_after_ms} ms",
                retry_after_ms=decision.retry_after_ms,
                rule="outbound",
            )

    async def acquire(self, key: str, cost: int = 1, *, max_wait_s: float = 60.0) -> None:
        """Wait (at most `max_wait_s`) until `cost` cells can be taken for `key`, then take them."""
        cost = self._cost(cost)
        with anyio.fail_after(max_wait_s):
            while True:
                decision = self._limiter.check("outbound", key, cost)
                if decision.allowed:
                    return
                await anyio.sleep(decision.retry_after_ms / 1000)

    def _cost(self, cost: int) -> int:
        if not 1 <= cost <= self.burst:
            raise ValueError(f"cost must be between 1 and the burst ({self.burst}), got {cost}")
        return cost


class FailureThrottle:
    """Counts failures per key (a client address) and says when a key has failed too often.

    `peek` before the attempt (nothing charged), `fail` after a failed one.
    """

    def __init__(self, quota: QuotaSettingsLike, *, max_keys: int = 100_000) -> None:
        self._limiter = RateLimiter(max_keys)
        self._limiter.set_rule("failures", QuotaSpec(quota.rate, quota.burst, quota.period_s).quota())

    def peek(self, key: str) -> Decision | None:
        """The refusal when `key` has no failure left to spend, else None."""
        decision = self._limiter.peek("failures", key)
        return None if decision.allowed else decision

    def fail(self, key: str) -> None:
        """Charge one failure to `key`."""
        self._limiter.check("failures", key, 1)


class QuotaSettingsLike(Protocol):
    """A quota as configured: `rate` per `period_s`, bursts of `burst`."""

    @property
    def rate(self) -> float: ...
    @property
    def burst(self) -> int: ...
    @property
    def period_s(self) -> float: ...
