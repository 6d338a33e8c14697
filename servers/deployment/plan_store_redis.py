"""Plans in the fleet's Redis, so a plan made on one replica can be applied on any other.

Same contract as the in-memory `PlanStore`: `add` returns a plan bound to its owner, `take` hands it
out once, to its owner only, before it expires. A plan is one JSON value under
`<prefix>:{plans}:plan:<id>`, written with `PX = plan_ttl_s`, so Redis forgets it by itself.
`max_plans` bounds the live plans of each caller: a sorted set per owner names them, scored by
expiry in microseconds but strictly increasing in the order they were added (a plan added in the
same microsecond as the last one scores one more), so a new plan beyond the bound always evicts that
caller's oldest. Both scripts run atomically in
Redis; `take` deletes the plan only when the owner matches, so a wrong caller cannot destroy it.
Before a taken plan is returned, its bodies must still hash to the sha256 stored beside them.

There is no fallback to memory: a replica that cannot reach Redis refuses to plan or apply (a
private store would bring back plans that only one replica can apply).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

from servers.deployment.plan_ops import (
    PlanPreview,
    PlanStore,
    StoredPlan,
    expired_message,
    plan_hash,
    unknown_message,
)
from servers.deployment.settings import DeploymentSettings
from shared.errors import ConfigError, InvalidArgument, NotFound, PermissionDenied, UpstreamUnavailable
from shared.settings import RedisSettings, SuiteConfig
from shared.validation import no_nul

if TYPE_CHECKING:
    import redis

__all__ = ["ADD_LUA", "TAKE_LUA", "RedisPlanStore", "plan_store"]

# The shape of every id `add` makes ("plan-" + token_urlsafe(12)); anything else is unknown.
_PLAN_ID: Final = re.compile(r"^plan-[A-Za-z0-9_-]{16}$")

# KEYS[1]: the plan, KEYS[2]: the owner's index.  ARGV: plan id, JSON, ttl ms, max plans, key prefix.
# Drops the index entries whose plans expired, evicts the owner's oldest live plans beyond the bound,
# then stores the plan. Time is the Redis server's, shared by every replica. Returns the expiry (ms).
ADD_LUA: Final = """
local clock = redis.call('TIME')
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_us)
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4]) + 1
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('DEL', ARGV[5] .. old)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
local score = now_us + ttl * 1000
local newest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if newest[2] and tonumber(newest[2]) >= score then score = tonumber(newest[2]) + 1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], string.format('%.0f', score), ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl)
return math.floor(now_us / 1000) + ttl
"""

# KEYS[1]: the plan, KEYS[2]: the owner's index.  ARGV[1]: the caller, ARGV[2]: the plan id,
# ARGV[3]: 'take' (remove it) or 'peek' (leave it).
# Returns {0} unknown, {1} another caller's (left in place), {2, json, expires ms} taken or read.
TAKE_LUA: Final = """
local raw = redis.call('GET', KEYS[1])
if not raw then return {0} end
local ok, plan = pcall(cjson.decode, raw)
if not ok or type(plan) ~= 'table' or plan['owner'] ~= ARGV[1] then return {1} end
local left = redis.call('PTTL', KEYS[1])
if ARGV[3] == 'take' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
return {2, raw, now + left}
"""


class RedisPlanStore:
    """Plans in Redis: shared by every replica, single-use, owner-bound, expiring, bounded per owner."""

    def __init__(
        self,
        settings: RedisSettings,
        *,
        ttl_s: float,
        max_plans: int,
        client: redis.Redis | None = None,
        kind: str = "k8s",
    ) -> None:
        self.ttl_s = ttl_s
        self.max_plans = max_plans
        self.clock = time.time  # expiries are wall-clock times, comparable across replicas
        # Each kind of plan (k8s, helm, compose) has its own keys: an id is only ever taken by its tool.
        self._prefix = f"{settings.prefix}:{{plans}}:" + ("" if kind == "k8s" else f"{kind}:")
        import redis  # on first use: a server with plan_store = "memory" never loads it
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._client = client or redis.Redis.from_url(
            settings.redis_url(),
            retry=Retry(NoBackoff(), 0),
            socket_timeout=settings.timeout_s,
            socket_connect_timeout=settings.timeout_s,
        )
        self._add = self._client.register_script(ADD_LUA)
        self._take = self._client.register_script(TAKE_LUA)

    def plan_key(self, plan_id: str) -> str:
        return f"{self._prefix}plan:{plan_id}"

    def owner_key(self, owner: str) -> str:
        # Hashed: the subject may hold any character; the key stays short and plain.
        return f"{self._prefix}owner:{hashlib.sha256(owner.encode()).hexdigest()[:32]}"

    def add(
        self,
        *,
        sha256: str,
        context: str,
        owner: str,
        bodies: list[dict[str, Any]],
        preview: PlanPreview | None = None,
    ) -> StoredPlan:
        plan_id = "plan-" + secrets.token_urlsafe(12)
        shown = asdict(preview or PlanPreview())
        try:
            value = json.dumps(
                {"sha256": sha256, "context": context, "owner": owner, "bodies": bodies, "preview": shown},
                separators=(",", ":"),
                allow_nan=False,
            )
        except ValueError as exc:
            raise InvalidArgument(f"the manifests hold a value that cannot be stored: {exc}") from None
        ttl_ms = max(1, round(self.ttl_s * 1000))
        with _reaching_redis("store the plan"):
            expires_ms = self._add(
                keys=[self.plan_key(plan_id), self.owner_key(owner)],
                args=[plan_id, value, ttl_ms, self.max_plans, f"{self._prefix}plan:"],
            )
        return StoredPlan(
            plan_id=plan_id,
            sha256=sha256,
            context=context,
            owner=owner,
            bodies=tuple(copy.deepcopy(bodies)),
            expires_at=int(expires_ms) / 1000,
            preview=preview or PlanPreview(),
        )

    def take(self, plan_id: str, *, owner: str) -> StoredPlan:
        """Remove and return a live plan; refuse unknown, expired, other callers' and altered plans."""
        return self._get(plan_id, owner, "take")

    def peek(self, plan_id: str, *, owner: str) -> StoredPlan:
        """The live plan, left in place; the same refusals as `take`."""
        return self._get(plan_id, owner, "peek")

    def _get(self, plan_id: str, owner: str, how: str) -> StoredPlan:
        no_nul(plan_id, what="plan_id")
        if not _PLAN_ID.fullmatch(plan_id):
            raise NotFound(unknown_message(plan_id))
        with _reaching_redis("read the plan"):
            reply = self._take(
                keys=[self.plan_key(plan_id), self.owner_key(owner)], args=[owner, plan_id, how]
            )
        status = int(reply[0])
        if status == 0:
            # Redis forgets a plan when its TTL runs out: expired and unknown look the same here.
            raise NotFound(unknown_message(plan_id))
        if status == 1:
            raise PermissionDenied("this plan was made by another caller; run k8s_plan yourself")
        expires_at = int(reply[2]) / 1000
        if expires_at <= self.clock():  # a replica whose clock runs ahead of Redis
            raise InvalidArgument(expired_message(plan_id))
        try:
            stored = json.loads(reply[1])
            plan = StoredPlan(
                plan_id=plan_id,
                sha256=str(stored["sha256"]),
                context=str(stored["context"]),
                owner=owner,
                bodies=tuple(stored["bodies"]),
                expires_at=expires_at,
                preview=PlanPreview.of(stored.get("preview")),
            )
            intact = plan_hash(plan.context, list(plan.bodies)) == plan.sha256
        except (ValueError, KeyError, TypeError):
            intact = False
        if not intact:
            raise PermissionDenied("the stored plan does not match its hash; run k8s_plan again")
        return plan

    def close(self) -> None:
        self._client.close()


@contextmanager
def _reaching_redis(action: str) -> Iterator[None]:
    """Turn a Redis failure into a clear, model-facing error (no fallback to memory)."""
    import redis  # loaded already by the store's client

    try:
        yield
    except redis.RedisError as exc:
        raise UpstreamUnavailable(
            f"could not {action}: the plan store (Redis) is unreachable ({type(exc).__name__}); plans "
            "are shared by every replica, so nothing was planned or applied; retry when Redis is back"
        ) from None


def plan_store(
    config: SuiteConfig, settings: DeploymentSettings, kind: str = "k8s"
) -> PlanStore | RedisPlanStore:
    """The store `[deployment] plan_store` names for one kind of plan (k8s, helm, compose);
    `ConfigError` when "redis" has no usable Redis."""
    if settings.plan_store == "memory":
        return PlanStore(ttl_s=settings.plan_ttl_s, max_plans=settings.max_plans)
    where = "deployment.plan_store = 'redis'"
    if not config.redis.configured:
        raise ConfigError(
            f"{where} needs the fleet's Redis in [redis] (url or url_file); without it every replica "
            "would keep its own plans and a plan made on one could not be applied on another"
        )
    try:
        config.redis.redis_url()
        return RedisPlanStore(
            config.redis, ttl_s=settings.plan_ttl_s, max_plans=settings.max_plans, kind=kind
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ValueError:  # the URL's form; its text may hold a password, so it is not repeated
        raise ConfigError(f"{where}: [redis] url is not a valid Redis URL") from None
