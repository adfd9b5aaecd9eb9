"""Token buckets per key (one per provider): shared through Redis when configured, else in process.

The Redis bucket is one Lua script run atomically by the server, timed by the server's own clock
(``TIME``), so any number of processes draw from one budget without trusting each other's clocks.
When Redis is unreachable each process limits itself with the same arithmetic in memory (one
warning per outage), which keeps every process within the limit on its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from quantdesk.kit.redis import RedisGuard, RedisUnavailable

KEY_PREFIX = "quantdesk:bucket"

# KEYS[1] bucket hash; ARGV rate/s, capacity, tokens wanted (0 = just read). Returns
# {seconds to wait (0 = taken), tokens left}. Time is integer microseconds, exact in a double.
# A missing hash is a full bucket, so the hash may expire once it would have refilled anyway.
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local last = tonumber(state[2])
if tokens == nil or last == nil then
  tokens = capacity
  last = now
end
local elapsed = math.max(0, now - last) / 1000000
tokens = math.min(capacity, tokens + elapsed * rate)
local wait = 0
if tokens >= wanted then
  tokens = tokens - wanted
else
  wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'ts', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {string.format('%.17g', wait), string.format('%.17g', tokens)}
"""


def _check(rate_per_second: float, capacity: float, tokens: float) -> None:
    if not (rate_per_second > 0 and math.isfinite(rate_per_second)):
        raise ValueError("rate_per_second must be a positive number")
    if not (capacity > 0 and math.isfinite(capacity)):
        raise ValueError("capacity must be a positive number")
    if not 0 <= tokens <= capacity:
        raise ValueError("tokens must be between 0 and capacity")


class LocalBuckets:
    """The same algorithm in process, on a monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, rate_per_second: float, capacity: float, wanted: float) -> float:
        now = self._clock()
        available = self._refilled(key, now, rate_per_second, capacity)
        if available >= wanted:
            self._buckets[key] = (available - wanted, now)
            return 0.0
        self._buckets[key] = (available, now)
        return (wanted - available) / rate_per_second

    def available(self, key: str, rate_per_second: float, capacity: float) -> float:
        return self._refilled(key, self._clock(), rate_per_second, capacity)

    def _refilled(self, key: str, now: float, rate_per_second: float, capacity: float) -> float:
        state = self._buckets.get(key)
        if state is None:
            return capacity
        tokens, at = state
        return min(capacity, tokens + max(0.0, now - at) * rate_per_second)


class TokenBucketLimiter:
    def __init__(
        self,
        redis_url: str | None,
        *,
        redis_retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local = LocalBuckets(clock)
        self._guard = (
            RedisGuard(redis_url, component="token_bucket", retry_interval=redis_retry_seconds)
            if redis_url
            else None
        )
        self._script: AsyncScript | None = (
            self._guard.client.register_script(_TAKE_SCRIPT) if self._guard else None
        )

    async def try_acquire(
        self, key: str, *, rate_per_second: float, capacity: float, tokens: float = 1
    ) -> float:
        """0.0 when ``tokens`` were taken; otherwise the seconds to wait, and nothing is taken."""
        _check(rate_per_second, capacity, tokens)
        shared = await self._run_script(key, rate_per_second, capacity, tokens)
        if shared is not None:
            return shared[0]
        return self._local.take(key, rate_per_second, capacity, tokens)

    async def state(self, key: str, *, rate_per_second: float, capacity: float) -> dict[str, Any]:
        """The bucket as the next caller would find it (for /health/providers)."""
        _check(rate_per_second, capacity, 0)
        shared = await self._run_script(key, rate_per_second, capacity, 0)
        if shared is not None:
            backend, available = "redis", shared[1]
        else:
            backend = "local"
            available = self._local.available(key, rate_per_second, capacity)
        return {
            "key": key,
            "backend": backend,
            "tokens": round(available, 3),
            "capacity": capacity,
            "rate_per_second": rate_per_second,
            "redis": self._guard.snapshot() if self._guard else None,
        }

    async def aclose(self) -> None:
        if self._guard is not None:
            await self._guard.aclose()

    async def _run_script(
        self, key: str, rate_per_second: float, capacity: float, wanted: float
    ) -> tuple[float, float] | None:
        """(wait, tokens left) from the shared bucket, or None to use the local one."""
        if self._guard is None or self._script is None:
            return None
        script = self._script
        args = [repr(float(rate_per_second)), repr(float(capacity)), repr(float(wanted))]
        name = f"{KEY_PREFIX}:{key}"

        async def call(client: Redis) -> Any:
            # EVALSHA, loading the script again if the server forgot it (restart, SCRIPT FLUSH).
            return await script(keys=[name], args=args, client=client)

        try:
            wait, left = await self._guard.run(call)
        except RedisUnavailable:
            return None
        return float(wait), float(left)
