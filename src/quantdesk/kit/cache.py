"""Two-layer cache: an in-process TTL map in front of Redis (when configured), TTL per entry.

Values are JSON documents (``model_dump(mode="json")``), so both layers hold the same bytes and
every reader gets its own fresh copy. Redis failures never reach the caller: the in-process layer
answers alone until the guard reconnects.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from quantdesk.kit.redis import RedisGuard, RedisUnavailable

KEY_PREFIX = "quantdesk:cache"


def redis_key(kind: str, key: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{key}"


class LocalTTLStore:
    """Bounded in-process map with a deadline per entry and least-recently-used eviction.

    Not ``cachetools.TTLCache``: that has one TTL for the whole cache, and ours differ per kind
    (a validation lasts days, a quote a minute) and per entry (a Redis hit keeps its remaining TTL).
    """

    def __init__(self, max_items: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._max_items = max_items
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kind: str, key: str) -> str | None:
        entry = self._entries.get((kind, key))
        if entry is None:
            return None
        deadline, payload = entry
        if deadline <= self._clock():
            del self._entries[(kind, key)]
            return None
        self._entries.move_to_end((kind, key))
        return payload

    def set(self, kind: str, key: str, payload: str, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            self._entries.pop((kind, key), None)
            return
        self._entries[(kind, key)] = (self._clock() + ttl_seconds, payload)
        self._entries.move_to_end((kind, key))
        while len(self._entries) > self._max_items:
            self._entries.popitem(last=False)

    def delete(self, kind: str, key: str) -> None:
        self._entries.pop((kind, key), None)

    def clear(self) -> None:
        self._entries.clear()


class TwoLayerCache:
    """``get`` looks in process, then Redis (filling the local layer with Redis' remaining TTL).

    ``local_ttl_cap_seconds`` bounds how long this process may serve a value that another process
    has since overwritten or deleted in Redis; None keeps each entry for its full TTL.
    """

    def __init__(
        self,
        redis_url: str | None,
        *,
        max_local_items: int = 100_000,
        local_ttl_cap_seconds: float | None = None,
        redis_retry_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._local = LocalTTLStore(max_local_items, clock=clock)
        self._local_cap = local_ttl_cap_seconds
        self._guard = (
            RedisGuard(redis_url, component="cache", retry_interval=redis_retry_seconds)
            if redis_url
            else None
        )
        self._hits = {"local": 0, "redis": 0}
        self._misses = {"local": 0, "redis": 0}

    @property
    def redis_enabled(self) -> bool:
        return self._guard is not None

    async def get(self, kind: str, key: str) -> Any | None:
        payload = self._local.get(kind, key)
        if payload is not None:
            self._hits["local"] += 1
            return json.loads(payload)
        self._misses["local"] += 1
        if self._guard is None:
            return None
        name = redis_key(kind, key)
        try:
            raw, ttl_ms = await self._guard.run(lambda r: _get_with_pttl(r, name))
        except RedisUnavailable:
            return None
        if raw is None:
            self._misses["redis"] += 1
            return None
        try:
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            value = json.loads(text)
        except ValueError:  # not written by us (or mangled): a miss, never the caller's problem
            self._misses["redis"] += 1
            return None
        self._hits["redis"] += 1
        # PTTL is -1 without an expiry and -2 if it expired since GET: nothing to keep locally then.
        if ttl_ms > 0:
            self._local.set(kind, key, text, self._local_ttl(ttl_ms / 1000))
        return value

    async def set(self, kind: str, key: str, value: Any, ttl_seconds: float) -> None:
        """Store a JSON-serialisable ``value`` (else TypeError) in both layers for the TTL."""
        payload = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if ttl_seconds <= 0:  # already expired: the same as removing it
            await self.delete(kind, key)
            return
        self._local.set(kind, key, payload, self._local_ttl(ttl_seconds))
        if self._guard is None:
            return
        name = redis_key(kind, key)
        expiry_ms = max(1, round(ttl_seconds * 1000))  # Redis refuses an expiry of 0
        try:
            await self._guard.run(lambda r: r.set(name, payload, px=expiry_ms))
        except RedisUnavailable:
            return

    async def delete(self, kind: str, key: str) -> None:
        self._local.delete(kind, key)
        if self._guard is None:
            return
        name = redis_key(kind, key)
        try:
            await self._guard.run(lambda r: r.delete(name))
        except RedisUnavailable:
            return

    def clear_local(self) -> None:
        """Forget the in-process layer (Redis keeps its entries)."""
        self._local.clear()

    def stats(self) -> dict[str, Any]:
        redis: dict[str, Any] = {
            "enabled": self._guard is not None,
            "hits": self._hits["redis"],
            "misses": self._misses["redis"],
        }
        if self._guard is not None:
            redis.update(self._guard.snapshot())
        else:
            redis.update({"available": False, "errors": 0, "skipped": 0, "outages": 0})
        return {
            "local": {
                "hits": self._hits["local"],
                "misses": self._misses["local"],
                "items": len(self._local),
            },
            "redis": redis,
        }

    async def aclose(self) -> None:
        if self._guard is not None:
            await self._guard.aclose()

    def _local_ttl(self, ttl_seconds: float) -> float:
        return ttl_seconds if self._local_cap is None else min(ttl_seconds, self._local_cap)


async def _get_with_pttl(client: Redis, name: str) -> tuple[bytes | None, int]:
    # One round trip; MULTI makes the pair consistent.
    async with client.pipeline(transaction=True) as pipe:
        pipe.get(name)
        pipe.pttl(name)
        raw, ttl_ms = await pipe.execute()
    return raw, int(ttl_ms)
