"""Conversations in the fleet's Redis, so any replica continues a thread another one started.

Same contract as `threads.MemoryThreadStore`. A thread is a Redis list of round summaries (JSON)
under `<prefix>:{experts}:thread:<owner hash>:<id>`: the owner is part of the key, so another
caller's id names a key that does not exist — unknown, exactly like a made-up id. One Lua script
appends a round atomically: numbers it after the last one, trims the list to `thread_rounds`,
sets `PX = thread_ttl_s` (Redis forgets the thread by itself), and bounds the caller's live
threads through a sorted set scored by last use, evicting the oldest. Time is the Redis server's.

There is no fallback to memory: a thread that cannot be read is refused before any expert is
asked; a round that cannot be saved is reported in the notes.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

from servers.experts.settings import ExpertsSettings
from servers.experts.threads import THREAD_ID, MemoryThreadStore, RoundRecord, new_thread_id, unknown_thread
from shared.errors import ConfigError, UpstreamUnavailable
from shared.settings import RedisSettings, SuiteConfig

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["APPEND_LUA", "RedisThreadStore", "thread_store"]

# KEYS[1]: the thread, KEYS[2]: the owner's index.  ARGV: id, round JSON, ttl ms, max rounds,
# max threads, thread key prefix.  Returns the round's number.
APPEND_LUA: Final = """
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ttl = tonumber(ARGV[3])
local last = redis.call('LINDEX', KEYS[1], -1)
local number = 1
if last then
  local ok, previous = pcall(cjson.decode, last)
  if ok and type(previous) == 'table' and tonumber(previous['round']) then
    number = tonumber(previous['round']) + 1
  end
end
local record = cjson.decode(ARGV[2])
record['round'] = number
redis.call('RPUSH', KEYS[1], cjson.encode(record))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms - ttl)
redis.call('ZADD', KEYS[2], now_ms, ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    redis.call('DEL', ARGV[6] .. old)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
end
redis.call('PEXPIRE', KEYS[2], ttl)
return number
"""


class RedisThreadStore:
    """Threads in Redis: shared by every replica, owner-bound, expiring, bounded per owner."""

    def __init__(
        self,
        settings: RedisSettings,
        *,
        ttl_s: float,
        max_threads: int,
        max_rounds: int,
        client: aioredis.Redis | None = None,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_threads = max_threads
        self.max_rounds = max_rounds
        self._prefix = f"{settings.prefix}:{{experts}}:"
        import redis.asyncio as aioredis  # on first use: thread_store = "memory" never loads it
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._client = client or aioredis.Redis.from_url(
            settings.redis_url(),
            retry=Retry(NoBackoff(), 0),
            socket_timeout=settings.timeout_s,
            socket_connect_timeout=settings.timeout_s,
        )
        self._append = self._client.register_script(APPEND_LUA)

    def _owner(self, owner: str) -> str:
        # Hashed: a subject may hold any character; the key stays short and plain.
        return hashlib.sha256(owner.encode()).hexdigest()[:32]

    def thread_prefix(self, owner: str) -> str:
        return f"{self._prefix}thread:{self._owner(owner)}:"

    def thread_key(self, owner: str, thread_id: str) -> str:
        return self.thread_prefix(owner) + thread_id

    def index_key(self, owner: str) -> str:
        return f"{self._prefix}threads:{self._owner(owner)}"

    async def load(self, owner: str, thread_id: str) -> list[RoundRecord]:
        if not THREAD_ID.fullmatch(thread_id):
            raise unknown_thread(thread_id)
        async with _reaching_redis("read the conversation"):
            raw = await self._client.lrange(self.thread_key(owner, thread_id), 0, -1)
        if not raw:
            raise unknown_thread(thread_id)
        return [RoundRecord.from_json(item) for item in raw]

    async def append(self, owner: str, thread_id: str | None, record: RoundRecord) -> tuple[str, int]:
        thread_id = thread_id or new_thread_id()
        ttl_ms = max(1, round(self.ttl_s * 1000))
        async with _reaching_redis("save the round"):
            number = await self._append(
                keys=[self.thread_key(owner, thread_id), self.index_key(owner)],
                args=[
                    thread_id,
                    record.to_json(),
                    ttl_ms,
                    self.max_rounds,
                    self.max_threads,
                    self.thread_prefix(owner),
                ],
            )
        return thread_id, int(number)

    async def aclose(self) -> None:
        await self._client.aclose()


@asynccontextmanager
async def _reaching_redis(action: str) -> AsyncIterator[None]:
    """A Redis failure as a clear, model-facing error (no fallback to memory)."""
    import redis  # loaded already by the store's client

    try:
        yield
    except redis.RedisError as exc:
        raise UpstreamUnavailable(
            f"could not {action}: the conversation store (Redis) is unreachable ({type(exc).__name__}); "
            "retry when it is back, or ask without thread_id"
        ) from None


def thread_store(config: SuiteConfig, settings: ExpertsSettings) -> MemoryThreadStore | RedisThreadStore:
    """The store `[experts] thread_store` names; `ConfigError` when "redis" has no usable Redis."""
    if settings.thread_store == "memory":
        return MemoryThreadStore(
            ttl_s=settings.thread_ttl_s, max_threads=settings.max_threads, max_rounds=settings.thread_rounds
        )
    where = "experts.thread_store = 'redis'"
    if not config.redis.configured:
        raise ConfigError(
            f"{where} needs the fleet's Redis in [redis] (url or url_file); without it each replica "
            "would keep its own conversations and a thread could not be continued on another"
        )
    try:
        config.redis.redis_url()
        return RedisThreadStore(
            config.redis,
            ttl_s=settings.thread_ttl_s,
            max_threads=settings.max_threads,
            max_rounds=settings.thread_rounds,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ValueError:  # the URL's form; its text may hold a password, so it is not repeated
        raise ConfigError(f"{where}: [redis] url is not a valid Redis URL") from None
