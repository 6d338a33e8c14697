"""One "replica" for the shared-quota test: checks the fleet quota N times, writes how many were admitted.

Run as `python -m tests.integration.scale.quota_worker URL ATTEMPTS RATE BURST PERIOD_S START_KEY`;
it waits (bounded) for a token on the list START_KEY so that every worker starts together.
"""

from __future__ import annotations

import sys

import anyio
import redis

from shared.ratelimit import QuotaSpec
from shared.redis_limiter import RedisCallLimiter
from shared.settings import RedisSettings


async def main(argv: list[str]) -> int:
    url, attempts, rate, burst, period_s, start_key = argv
    limiter = RedisCallLimiter(
        {"global": QuotaSpec(float(rate), int(burst), float(period_s))},
        RedisSettings.model_validate({"url": url}),
        fail="closed",
    )
    gate = redis.Redis.from_url(url)
    if gate.blpop([start_key], timeout=30) is None:  # one token per worker: all start together
        sys.stderr.write("start signal never came\n")
        return 2
    admitted = 0
    try:
        for _ in range(int(attempts)):
            if await limiter.check(server="demo", tool="demo_echo", subject="local:someone") is None:
                admitted += 1
    finally:
        await limiter.aclose()
    if not limiter.available:
        sys.stderr.write("redis went away during the run\n")
        return 3
    sys.stdout.write(f"{admitted}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, sys.argv[1:]))
