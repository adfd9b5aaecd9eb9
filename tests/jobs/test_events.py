"""The event bus: in process, and over a private redis-server (two buses, as two processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

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
