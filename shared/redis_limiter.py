"""Fleet-wide tool-call quotas in Redis: the Rust limiter's GCRA as one server-side Lua script.

Every replica checks the same nested rules (global ⊇ identity ⊇ tool ⊇ (identity, tool)) against
one Redis, in one round trip (EVALSHA; the script is loaded once, again only after a Redis
restart). The script keeps the Rust limiter's semantics: one theoretical arrival time (TAT) per
(rule, key), `cost` cells per call, an atomic multi-rule check that charges nothing on refusal, and
the same `remaining`, `retry_after_ms` and `reset_after_ms`. Time comes from the Redis server
(`TIME`), so replicas with skewed clocks still share one quota. A state expires when it has fully
recovered, exactly when the Rust limiter would evict it, so memory stays bounded without a sweep.

When Redis cannot be reached the limiter falls back (`fail = "open"`: each replica enforces the
same quotas locally on the Rust limiter; `fail = "closed"`: every call is refused) and says so in
`health()` and in the `code_mcp_ratelimit_backend_up` / `code_mcp_ratelimit_fallback_checks`
metrics. It tries Redis again at most once per `retry_interval_s`, so an outage costs one timeout
per interval, not one per call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import redis
import redis.asyncio as aioredis
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from shared.errors import ConfigError
from shared.ratelimit import CallLimiter, LimitDecision, QuotaSpec, Refusal, caller_keys, rule_keys
from shared.settings import RedisSettings

__all__ = ["GCRA_LUA", "RedisCallLimiter", "redis_keys"]

log = structlog.get_logger(__name__)

# KEYS[i]: the state of one (rule, key) pair.  ARGV[1]: cost.  ARGV[2]: "1" charge, "0" peek.
# ARGV[1 + 2i], ARGV[2 + 2i]: emission interval T and tolerance τ = burst·T of KEYS[i], in µs.
# Returns {allowed, remaining, retry_after_us, reset_after_us, refusing index (1-based) or 0}.
# Whole microseconds keep every number an exact double (now ≈ 2^51 µs); T is rounded up, so the
# script never admits more than the nominal rate, like the Rust limiter's whole nanoseconds.
GCRA_LUA: Final = """
local cost = tonumber(ARGV[1])
local charge = ARGV[2] == '1'
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local pending, order = {}, {}
local remaining, reset_after = -1, 0
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[1 + 2 * i])
  local tolerance = tonumber(ARGV[2 + 2 * i])
  local tat = pending[key]
  if tat == nil then
    tat = tonumber(redis.call('GET', key)) or now
  end
  local base = math.max(tat, now)
  local new_tat = base + cost * emission
  local debt = new_tat - now
  if debt > tolerance then
    local available = math.floor((tolerance - (base - now)) / emission)
    if remaining >= 0 and remaining < available then available = remaining end
    return {0, available, debt - tolerance, math.max(reset_after, base - now), i}
  end
  local left = math.floor((tolerance - debt) / emission)
  if remaining < 0 or left < remaining then remaining = left end
  if debt > reset_after then reset_after = debt end
  if pending[key] == nil then order[#order + 1] = key end
  pending[key] = new_tat
end
if charge then
  for _, key in ipairs(order) do
    redis.call('SET', key, string.format('%.0f', pending[key]), 'PX', math.ceil((pending[key] - now) / 1000))
  end
end
return {1, remaining, 0, reset_after, 0}
"""


def redis_keys(prefix: str, checks: Sequence[tuple[str, str]]) -> list[str]:
    """The Redis key of each (rule, key) pair; one hash tag, so a Redis Cluster keeps them on one slot."""
    return [f"{prefix}:{{rl}}:{rule}:{key}" for rule, key in checks]


def _ceil_ms(ms: float) -> int:
    return max(1, math.ceil(ms))


@dataclass(frozen=True, slots=True)
class _Rule:
    emission_us: int
    tolerance_us: int


def _rule_for(name: str, spec: QuotaSpec) -> _Rule:
    exact = spec.period_s * 1e6 / spec.rate
    if exact < 1:
        raise ConfigError(
            f"limits.{name}: {spec.rate} per {spec.period_s} s is faster than one call per microsecond, "
            "which the Redis backend cannot represent; lower the rate or use backend = 'memory'"
        )
    emission = math.ceil(exact)
    return _Rule(emission, emission * spec.burst)


class RedisCallLimiter:
    """The four nested tool-call rules kept in Redis, shared by every replica; a `Limiter`.

    Each check is one async round trip (bounded by `[redis] timeout_s`), so a stalled Redis never
    blocks the event loop: other calls go on while a check waits.
    """

    backend: Final = "redis"

    def __init__(
        self,
        quotas: Mapping[str, QuotaSpec | None],
        redis_settings: RedisSettings,
        *,
        fail: Literal["open", "closed"] = "open",
        retry_interval_s: float = 1.0,
        max_keys: int = 100_000,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = redis_settings
        self.fail = fail
        self.retry_interval_s = retry_interval_s
        self._local = CallLimiter(quotas, max_keys=max_keys)
        self._rules = {rule: _rule_for(rule, spec) for rule, spec in quotas.items() if spec is not None}
        timeouts: dict[str, Any] = {
            "socket_timeout": redis_settings.timeout_s,
            "socket_connect_timeout": redis_settings.timeout_s,
        }
        # No retries inside the client: the fallback is the retry policy.
        self._client = aioredis.Redis.from_url(
            redis_settings.redis_url(), retry=AsyncRetry(NoBackoff(), 0), **timeouts
        )
        self._script = self._client.register_script(GCRA_LUA)
        self._down_since: float | None = None
        self._next_attempt = 0.0
        self._last_error: str | None = None
        registry = registry if registry is not None else CollectorRegistry()
        self._up = Gauge(
            "code_mcp_ratelimit_backend_up",
            "1 while the shared rate-limit backend answers, 0 while the fallback is in use.",
            ["backend"],
            registry=registry,
        ).labels("redis")
        self._up.set(1)
        self._fallbacks = Counter(
            "code_mcp_ratelimit_fallback_checks",
            "Rate-limit checks decided by the fallback because Redis was unreachable.",
            ["policy"],
            registry=registry,
        ).labels(fail)

    # ------------------------------------------------------------------ the Limiter protocol

    @property
    def max_cost(self) -> int | None:
        """The largest cost any call can ever be admitted with (None: unlimited)."""
        return self._local.max_cost

    def validate_cost(self, tool: str, cost: int) -> None:
        """Refuse at registration a cost no quota could ever admit."""
        self._local.validate_cost(tool, cost)

    async def check(self, *, server: str, tool: str, subject: str, cost: int = 1) -> Refusal | None:
        """Charge one call to every rule, fleet-wide; None when admitted, else the refusal."""
        checks = rule_keys(server, tool, subject, self._rules)
        decided = await self._decide(checks, cost, charge=True)
        if decided is not _FALLBACK:
            return decided  # type: ignore[no-any-return]
        return self._local.check_now(server=server, tool=tool, subject=subject, cost=cost)

    async def peek_caller(self, subject: str) -> Refusal | None:
        """Whether the caller's own quotas (global, identity) are exhausted, without charging.

        One round trip: the script checks both pairs with nothing charged and names the first
        that would refuse, as peeking them one after the other would.
        """
        decided = await self._decide(caller_keys(subject, self._rules), 1, charge=False)
        if decided is not _FALLBACK:
            return decided  # type: ignore[no-any-return]
        return self._local.peek_now(subject)

    def __len__(self) -> int:
        """States tracked by the local fallback (Redis expires its own)."""
        return len(self._local)

    # ------------------------------------------------------------------ health

    @property
    def available(self) -> bool:
        """Whether the last attempt to reach Redis succeeded."""
        return self._down_since is None

    def health(self) -> dict[str, Any]:
        """For `/healthz`: which backend decides right now, and since when Redis is down."""
        if self._down_since is None:
            return {"backend": "redis", "status": "ok"}
        return {
            "backend": "redis",
            "status": "degraded",
            "fallback": "local limits" if self.fail == "open" else "refuse all calls",
            "down_for_s": round(time.monotonic() - self._down_since, 1),
            "error": self._last_error,
        }

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    # ------------------------------------------------------------------ the one core

    async def _decide(self, checks: Sequence[tuple[str, str]], cost: int, *, charge: bool) -> Any:
        """Redis's answer for `checks`, the fail-closed refusal, or `_FALLBACK` (ask the local limiter)."""
        if not checks:
            return None
        args = self._args(checks, cost, charge=charge)
        if self._use_redis():
            try:
                reply = await self._script(keys=redis_keys(self.settings.prefix, checks), args=args)
            except redis.RedisError as exc:
                self._went_down(exc)
            else:
                self._came_up()
                return _decision(reply, checks)
        if charge:
            self._fallbacks.inc()
        if self.fail == "closed":
            retry = self._retry_in_ms()
            return LimitDecision(False, 0, retry, retry, "redis", None)
        return _FALLBACK

    def _args(self, checks: Sequence[tuple[str, str]], cost: int, *, charge: bool = True) -> list[int]:
        if cost < 1:
            raise ValueError("cost must be >= 1")
        args = [cost, 1 if charge else 0]
        for rule, _ in checks:
            spec = self._rules[rule]
            if cost * spec.emission_us > spec.tolerance_us:
                raise ValueError(
                    f"cost {cost} exceeds the burst of rule {rule!r}; it could never be admitted"
                )
            args += [spec.emission_us, spec.tolerance_us]
        return args

    def _use_redis(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._next_attempt

    def _went_down(self, exc: redis.RedisError) -> None:
        now = time.monotonic()
        self._next_attempt = now + self.retry_interval_s
        self._last_error = f"{type(exc).__name__}: {exc}"[:200]
        if self._down_since is None:
            self._down_since = now
            self._up.set(0)
            log.warning(
                "rate-limit backend unreachable; falling back", backend="redis", fail=self.fail,
                error=self._last_error,
            )  # fmt: skip

    def _came_up(self) -> None:
        if self._down_since is not None:
            log.warning(
                "rate-limit backend reachable again",
                backend="redis",
                down_for_s=round(time.monotonic() - self._down_since, 1),
            )
            self._down_since = None
            self._last_error = None
            self._up.set(1)

    def _retry_in_ms(self) -> int:
        return _ceil_ms(max(0.0, self._next_attempt - time.monotonic()) * 1000)


_FALLBACK: Final = object()


def _decision(reply: Sequence[int], checks: Sequence[tuple[str, str]]) -> LimitDecision | None:
    allowed, remaining, retry_us, reset_us, refused = (int(v) for v in reply)
    if allowed:
        return None
    rule, key = checks[refused - 1]
    return LimitDecision(
        allowed=False,
        remaining=remaining,
        retry_after_ms=_ceil_ms(retry_us / 1000),
        reset_after_ms=math.ceil(reset_us / 1000),
        rule=rule,
        key=key,
    )
