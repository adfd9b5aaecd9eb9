"""Fixed-budget rate limits (``limits`` library): in memory by default, Redis when configured.

Redis is reached through redis-py (``redis.asyncio``), the client the rest of quantdesk uses:
``limits``' default async Redis client is coredis, which is not installed (its pins would hold
celery, kombu and redis back by a release each).
"""

from __future__ import annotations

import math
import re
import time

from limits import parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from quantdesk.kit.errors import RateLimited

# redis://, rediss://, redis+unix://, redis+cluster://, redis+sentinel:// (async+ or not).
_REDIS_SCHEME = re.compile(r"^(async\+)?redis[s+:]")


class RateLimiter:
    def __init__(self, storage_url: str = "memory://") -> None:
        uri = storage_url if storage_url.startswith("async+") else f"async+{storage_url}"
        options = {"implementation": "redispy"} if _REDIS_SCHEME.match(storage_url) else {}
        self._storage = storage_from_string(uri, **options)
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def hit(self, limit: str, *keys: str, message: str = "Too many requests") -> None:
        """Count one hit against ``limit`` for ``keys``; raise 429 with Retry-After when spent."""
        item = parse(limit)
        if await self._limiter.hit(item, *keys):
            return
        stats = await self._limiter.get_window_stats(item, *keys)
        retry_after = math.ceil(stats.reset_time - time.time())
        raise RateLimited(message, retry_after=retry_after)

    async def clear(self, limit: str, *keys: str) -> None:
        await self._limiter.clear(parse(limit), *keys)

    async def reset(self) -> None:
        await self._storage.reset()  # type: ignore[misc]  # awaitable on async storages
