"""The event bus: in process, and over a private redis-server (two buses, as two processes)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from redis.asyncio import Redis

from quantdesk.kit.config import Settings
from quantdesk.kit.events import InProcessEventBus, RedisEventBus, build_event_bus
from tests.redis_server import running_redis_server


async def test_in_process_bus_delivers_in_order_to_each_subscriber() -> None:
    bus = InProcessEventBus()
    await bus.publish("operations:x", {"n": 0})  # nobody listens yet: dropped, no error
    async with (
        bus.subscribe("operations:x") as first,
        bus.subscribe("operations:x") as second,
        bus.subscribe("operations:y") as other,
    ):
        for n in range(1, 4):
            await bus.publish("operations:x", {"n": n})
        assert [(await first.get(wait=1) or {}).get("n") for _ in range(3)] == [1, 2, 3]
        assert [(await second.get(wait=1) or {}).get("n") for _ in range(3)] == [1, 2, 3]
        assert await other.get(wait=0.05) is None
    assert await first.get(wait=0.01) is None


async def test_redis_bus_carries_events_between_buses_and_survives_an_outage(
    tmp_path: Path,
) -> None:
    with running_redis_server(tmp_path) as server:
        settings = Settings(redis_url=server.url)
        publisher, subscriber = build_event_bus(settings), build_event_bus(settings)
        assert isinstance(publisher, RedisEventBus)
        try:
            async with subscriber.subscribe("operations:42") as subscription:
                for n in range(5):
                    await publisher.publish("operations:42", {"type": "progress", "n": n})
                received = [await subscription.get(wait=5) for _ in range(5)]
                assert [m["n"] for m in received if m] == [0, 1, 2, 3, 4]
            server.stop()
            # Redis is down: publishing neither raises nor waits long.
            started = asyncio.get_running_loop().time()
            await publisher.publish("operations:42", {"type": "progress", "n": 5})
            assert asyncio.get_running_loop().time() - started < 2
        finally:
            await publisher.aclose()
            await subscriber.aclose()


async def test_without_redis_workers_events_cannot_arrive_so_watchers_poll() -> None:
    """Celery without QUANTDESK_REDIS_URL: the API's bus hears no worker, so it says it is lossy
    and a WebSocket re-reads the database instead of waiting forever for an event."""
    embedded = build_event_bus(Settings(executor="local"))
    scaled_out = build_event_bus(Settings(executor="celery"))

    async with embedded.subscribe("operations:1") as local, scaled_out.subscribe("x") as remote:
        assert local.reliable is True
        assert remote.reliable is False


async def _pubsub_connections(url: str) -> int:
    client = Redis.from_url(url)
    try:
        listing = await client.client_list()
        return sum(1 for entry in listing if int(entry.get("sub", 0)) > 0)
    finally:
        await client.aclose()


async def test_a_redis_bus_listens_to_every_channel_on_one_connection(tmp_path: Path) -> None:
    """300 subscriptions to 30 channels: one pub/sub connection, each message to its channel's
    subscribers only; leaving unsubscribes."""
    with running_redis_server(tmp_path) as server:
        publisher, subscriber = RedisEventBus(server.url), RedisEventBus(server.url)
        try:
            async with contextlib.AsyncExitStack() as stack:
                subscriptions = [
                    await stack.enter_async_context(subscriber.subscribe(f"market:quote:S{n % 30}"))
                    for n in range(300)
                ]
                assert await _pubsub_connections(server.url) == 1
                await publisher.publish("market:quote:S7", {"price": "7"})
                for n, subscription in enumerate(subscriptions):
                    got = await subscription.get(wait=2 if n % 30 == 7 else 0)
                    assert got == ({"price": "7"} if n % 30 == 7 else None), n
            client = Redis.from_url(server.url)
            try:
                assert await client.pubsub_numsub("market:quote:S7") == [(b"market:quote:S7", 0)]
            finally:
                await client.aclose()
        finally:
            await publisher.aclose()
            await subscriber.aclose()


async def test_a_redis_subscription_survives_a_restart_with_a_gap(tmp_path: Path) -> None:
    with running_redis_server(tmp_path) as server:
        publisher, subscriber = RedisEventBus(server.url), RedisEventBus(server.url)
        try:
            async with subscriber.subscribe("operations:7") as subscription:
                await publisher.publish("operations:7", {"n": 1})
                assert await subscription.get(wait=2) == {"n": 1}
                server.stop()
                for _ in range(100):  # the reader notices within its read timeout
                    if subscription.gaps:
                        break
                    await asyncio.sleep(0.05)
                assert subscription.gaps == 1  # the reader goes back to the database
                server.start()
                delivered = None
                for _ in range(100):  # reconnected and listening again: the same subscription
                    await publisher.publish("operations:7", {"n": 2})
                    delivered = await subscription.get(wait=0.1)
                    if delivered is not None:
                        break
                assert delivered == {"n": 2}
        finally:
            await publisher.aclose()
            await subscriber.aclose()
