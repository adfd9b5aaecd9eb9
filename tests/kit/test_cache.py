"""Two-layer cache against a real, private Redis that the tests stop and start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from quantdesk.kit.cache import TwoLayerCache, redis_key
from quantdesk.kit.redis import redact_url
from tests.redis_server import RedisServer, logs_through_stdlib, running_redis_server

VALIDATION = {"symbol": "AAPL", "valid": True, "source": "catalog", "name": "Apple Inc."}


class FakeClock:
    """A clock the test moves by hand (test input for the local layer's deadlines)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path) as server:
        yield server


@pytest.fixture
async def raw_redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client to look at (and tamper with) what the cache stored."""
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with logs_through_stdlib():
        caplog.set_level(logging.INFO, logger="quantdesk.redis")
        yield caplog


def redis_log_events(caplog: pytest.LogCaptureFixture) -> list[tuple[int, dict[str, Any]]]:
    return [
        (record.levelno, record.msg)
        for record in caplog.records
        if record.name == "quantdesk.redis" and isinstance(record.msg, dict)
    ]


async def test_local_layer_alone_keeps_a_ttl_per_entry() -> None:
    clock = FakeClock()
    cache = TwoLayerCache(None, clock=clock)
    await cache.set("quote", "AAPL", {"price": "189.5"}, ttl_seconds=60)
    await cache.set("validation", "AAPL", VALIDATION, ttl_seconds=7 * 24 * 3600)

    clock.now += 59
    assert await cache.get("quote", "AAPL") == {"price": "189.5"}
    clock.now += 2
    assert await cache.get("quote", "AAPL") is None
    assert await cache.get("validation", "AAPL") == VALIDATION

    await cache.delete("validation", "AAPL")
    assert await cache.get("validation", "AAPL") is None
    stats = cache.stats()
    assert stats["local"] == {"hits": 2, "misses": 2, "items": 0}
    assert stats["redis"]["enabled"] is False


async def test_readers_get_their_own_copy_and_the_local_layer_is_bounded() -> None:
    cache = TwoLayerCache(None, max_local_items=2)
    await cache.set("profile", "A", {"tags": ["x"]}, ttl_seconds=60)
    first = await cache.get("profile", "A")
    first["tags"].append("mutated by a caller")
    assert await cache.get("profile", "A") == {"tags": ["x"]}

    await cache.set("profile", "B", 2, ttl_seconds=60)
    await cache.get("profile", "A")  # A is now the most recently used
    await cache.set("profile", "C", 3, ttl_seconds=60)
    assert await cache.get("profile", "B") is None
    assert await cache.get("profile", "A") == {"tags": ["x"]}
    assert cache.stats()["local"]["items"] == 2
    with pytest.raises(TypeError):
        await cache.set("profile", "D", object(), ttl_seconds=60)


async def test_ttl_per_kind_expires_in_both_layers(
    redis_server: RedisServer, raw_redis: Redis
) -> None:
    cache = TwoLayerCache(redis_server.url)
    try:
        await cache.set("quote", "MSFT", {"price": "410.1"}, ttl_seconds=0.3)
        await cache.set("validation", "MSFT", VALIDATION, ttl_seconds=30)
        assert 0 < await raw_redis.pttl(redis_key("quote", "MSFT")) <= 300
        assert 29_000 < await raw_redis.pttl(redis_key("validation", "MSFT")) <= 30_000

        await asyncio.sleep(0.45)
        assert await cache.get("quote", "MSFT") is None
        assert await raw_redis.exists(redis_key("quote", "MSFT")) == 0
        assert await cache.get("validation", "MSFT") == VALIDATION
    finally:
        await cache.aclose()


async def test_a_redis_hit_fills_the_local_layer_with_the_remaining_ttl(
    redis_server: RedisServer, raw_redis: Redis
) -> None:
    writer = TwoLayerCache(redis_server.url)
    clock = FakeClock()
    reader = TwoLayerCache(redis_server.url, clock=clock)
    try:
        await writer.set("validation", "NVDA", VALIDATION, ttl_seconds=3600)
        name = redis_key("validation", "NVDA")
        assert await raw_redis.get(name) is not None
        await raw_redis.pexpire(name, 10_000)  # as if most of the hour had passed

        assert await reader.get("validation", "NVDA") == VALIDATION
        assert reader.stats()["redis"]["hits"] == 1
        await raw_redis.delete(name)  # from now on only the reader's local layer has it

        clock.now += 9.5
        assert await reader.get("validation", "NVDA") == VALIDATION
        assert reader.stats()["local"]["hits"] == 1
        clock.now += 1
        assert await reader.get("validation", "NVDA") is None
        assert reader.stats()["redis"]["misses"] == 1
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_two_instances_share_values_and_deletes_through_redis(
    redis_server: RedisServer, raw_redis: Redis
) -> None:
    first, second = TwoLayerCache(redis_server.url), TwoLayerCache(redis_server.url)
    try:
        await first.set("validation", "BTC", {"valid": True, "source": "coingecko"}, 600)
        assert await raw_redis.get(redis_key("validation", "BTC")) == (
            b'{"valid":true,"source":"coingecko"}'
        )
        assert await second.get("validation", "BTC") == {"valid": True, "source": "coingecko"}

        await second.delete("validation", "BTC")
        first.clear_local()
        assert await first.get("validation", "BTC") is None
        assert first.stats()["redis"]["misses"] == 1
    finally:
        await first.aclose()
        await second.aclose()


async def test_foreign_bytes_in_redis_are_a_miss_and_ttl_zero_removes(
    redis_server: RedisServer, raw_redis: Redis
) -> None:
    cache = TwoLayerCache(redis_server.url)
    try:
        await raw_redis.set(redis_key("profile", "BAD"), b"\xff{not json")
        assert await cache.get("profile", "BAD") is None
        assert cache.stats()["redis"]["misses"] == 1

        await cache.set("profile", "IBM", {"sector": "Technology"}, ttl_seconds=60)
        await cache.set("profile", "IBM", {"sector": "Technology"}, ttl_seconds=0)
        assert await raw_redis.exists(redis_key("profile", "IBM")) == 0
        assert await cache.get("profile", "IBM") is None
        assert cache.stats()["redis"]["errors"] == 0
    finally:
        await cache.aclose()


async def test_a_capped_local_ttl_bounds_staleness_across_processes(
    redis_server: RedisServer,
) -> None:
    clock = FakeClock()
    near = TwoLayerCache(redis_server.url, local_ttl_cap_seconds=5, clock=clock)
    other = TwoLayerCache(redis_server.url)
    try:
        await near.set("validation", "ETH", {"valid": "unknown"}, ttl_seconds=3600)
        await other.set("validation", "ETH", {"valid": True}, ttl_seconds=3600)
        assert await near.get("validation", "ETH") == {"valid": "unknown"}  # local, for now
        clock.now += 6
        assert await near.get("validation", "ETH") == {"valid": True}
    finally:
        await near.aclose()
        await other.aclose()


async def test_redis_outage_is_invisible_to_callers_and_heals_by_itself(
    redis_server: RedisServer, redis_logs: pytest.LogCaptureFixture
) -> None:
    cache = TwoLayerCache(redis_server.url)
    other = TwoLayerCache(redis_server.url)
    try:
        await cache.set("validation", "AAPL", VALIDATION, ttl_seconds=600)
        assert cache.stats()["redis"]["available"] is True

        redis_server.stop()
        started = time.perf_counter()
        assert await cache.get("validation", "AAPL") == VALIDATION  # local layer
        for index in range(200):
            await cache.set("quote", f"S{index}", {"price": index}, ttl_seconds=60)
            assert await cache.get("quote", f"S{index}") == {"price": index}
            assert await cache.get("quote", f"missing-{index}") is None
            await cache.delete("quote", f"S{index}")
        outage_calls = time.perf_counter() - started
        # A dead Redis costs nothing per call: 800 calls (600 would reach it) well under a second.
        assert outage_calls < 1.0, outage_calls
        stats = cache.stats()["redis"]
        assert stats["available"] is False
        assert stats["errors"] >= 1
        assert stats["skipped"] + stats["errors"] == 600  # set, miss, delete per round
        warnings = [e for lvl, e in redis_log_events(redis_logs) if lvl == logging.WARNING]
        assert len(warnings) == 1
        assert warnings[0]["component"] == "cache"

        redis_server.start()
        value = {"price": "1.23", "written": "after recovery"}
        deadline = time.monotonic() + 5
        seen_by_other = None
        while time.monotonic() < deadline:
            await cache.set("quote", "RECOVERED", value, ttl_seconds=60)
            if cache.stats()["redis"]["available"]:
                seen_by_other = await other.get("quote", "RECOVERED")
                break
            await asyncio.sleep(0.1)
        assert seen_by_other == value
        assert other.stats()["redis"]["hits"] == 1

        events = redis_log_events(redis_logs)
        assert [e["event"] for lvl, e in events if lvl == logging.WARNING] == [warnings[0]["event"]]
        reconnected = [e for lvl, e in events if lvl == logging.INFO]
        assert [e["event"] for e in reconnected] == ["redis reconnected"]
        assert reconnected[0]["component"] == "cache"
        assert cache.stats()["redis"]["outages"] == 1
    finally:
        await cache.aclose()
        await other.aclose()


async def test_an_unreachable_redis_from_the_start_is_only_a_warning(
    redis_logs: pytest.LogCaptureFixture,
) -> None:
    cache = TwoLayerCache("redis://:hunter2-secret@127.0.0.1:9/0")
    try:
        await cache.set("validation", "TSLA", VALIDATION, ttl_seconds=60)
        assert await cache.get("validation", "TSLA") == VALIDATION
        assert await cache.get("validation", "NONE") is None
    finally:
        await cache.aclose()
    warnings = [e for lvl, e in redis_log_events(redis_logs) if lvl == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0]["target"] == "redis://:***@127.0.0.1:9/0"
    assert "hunter2-secret" not in redis_logs.text
    assert "hunter2-secret" not in str(warnings)


def test_redact_url_hides_only_the_password() -> None:
    assert (
        redact_url("redis://user:pw@cache.internal:6380/2")
        == "redis://user:***@cache.internal:6380/2"
    )
    assert redact_url("rediss://:pw@[::1]:6379") == "rediss://:***@[::1]:6379"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
