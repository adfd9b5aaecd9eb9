"""Rate limits in Redis are one budget for every process (through redis-py, no coredis needed);
in memory each process counts alone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.kit.errors import RateLimited
from quantdesk.kit.ratelimit import RateLimiter
from tests.redis_server import RedisServer, running_redis_server

LIMIT = "3/minute"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    workdir: Path = tmp_path_factory.mktemp("ratelimit-redis")
    with running_redis_server(workdir) as server:
        yield server


async def _spend(limiters: list[RateLimiter], key: str, hits: int) -> list[bool]:
    """Hit ``key`` ``hits`` times, limiter after limiter; True for each hit let through."""
    allowed = []
    for n in range(hits):
        try:
            await limiters[n % len(limiters)].hit(LIMIT, "test", key)
        except RateLimited:
            allowed.append(False)
        else:
            allowed.append(True)
    return allowed


@pytest.mark.parametrize("scheme", ["redis://", "async+redis://"])
async def test_processes_share_one_budget_in_redis(redis_server: RedisServer, scheme: str) -> None:
    url = redis_server.url.replace("redis://", scheme, 1)
    first, second = RateLimiter(url), RateLimiter(url)  # as two API processes would
    key = uuid.uuid4().hex

    assert await _spend([first, second], key, 4) == [True, True, True, False]
    with pytest.raises(RateLimited) as refused:
        await second.hit(LIMIT, "test", key)
    assert refused.value.retry_after > 0


async def test_in_memory_each_limiter_counts_alone() -> None:
    first, second = RateLimiter("memory://"), RateLimiter("memory://")
    key = uuid.uuid4().hex

    assert await _spend([first, second], key, 4) == [True, True, True, True]
