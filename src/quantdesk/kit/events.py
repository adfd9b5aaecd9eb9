"""The event bus: fire-and-forget messages on named channels, in process or over Redis pub/sub.

Events are notifications, never the truth: a subscriber that misses one (Redis down, slow reader)
reads the database again. So publishing never raises and a full subscriber queue drops the oldest.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger
from quantdesk.kit.redis import REDIS_FAILURES, RedisGuard, RedisUnavailable

_log = get_logger("quantdesk.events")

Message = dict[str, Any]
SUBSCRIBER_QUEUE_SIZE = 1000


class Subscription:
    """Messages of one channel, in publishing order, as they arrive.

    ``gaps`` counts the moments messages may have been lost (a full queue dropped its oldest, the
    Redis connection went away); ``reliable`` says whether the bus can lose messages at all. A
    reader goes back to the database only after a gap, or now and then on an unreliable bus.
    """

    def __init__(self, channel: str, *, reliable: bool) -> None:
        self.channel = channel
        self.reliable = reliable
        self.gaps = 0
        self._queue: asyncio.Queue[Message] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)

    def deliver(self, message: Message) -> None:
        if self._queue.full():  # a reader this far behind re-reads the database anyway
            self._queue.get_nowait()
            self.gaps += 1
        self._queue.put_nowait(message)

    def lost(self) -> None:
        """Messages may have been missed (the transport failed)."""
        self.gaps += 1

    async def get(self, wait: float | None = None) -> Message | None:
        """The next message, or None when ``wait`` seconds pass without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            yield await self._queue.get()


class EventBus(ABC):
    @abstractmethod
    async def publish(self, channel: str, message: Message) -> None:
        """Send ``message`` (JSON-serialisable) to every current subscriber; never raises."""

    def may_have_subscribers(self, channel: str) -> bool:
        """False only when nobody can be listening (so a publisher may skip building its
        message); a bus that cannot tell says True."""
        return True

    @abstractmethod
    def subscribe(self, channel: str) -> Any:
        """``async with bus.subscribe(channel) as sub``: messages published after entry."""

    async def aclose(self) -> None:
        return None


class InProcessEventBus(EventBus):
    """Subscribers see what this process publishes. ``reliable=False`` when other processes
    (Celery workers) change what they watch: then readers re-read the database now and then."""

    def __init__(self, *, reliable: bool = True) -> None:
        self.reliable = reliable
        self._subscribers: dict[str, set[Subscription]] = {}

    def may_have_subscribers(self, channel: str) -> bool:
        return bool(self._subscribers.get(channel))

    async def publish(self, channel: str, message: Message) -> None:
        if not self._subscribers.get(channel):
            return
        # Through JSON, as over Redis: a subscriber never shares mutable state with the publisher.
        payload = json.loads(json.dumps(message, default=str))
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.deliver(payload)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, reliable=self.reliable)
        self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[channel]


class RedisEventBus(EventBus):
    """Redis pub/sub, so a worker's events reach subscribers in every API process.

    Publishing goes through a RedisGuard (fail fast, one warning per outage); each subscription
    holds its own pub/sub connection, confirmed before the block is entered.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._guard = RedisGuard(url, component="event_bus")

    async def publish(self, channel: str, message: Message) -> None:
        payload = json.dumps(message, default=str)
        try:
            await self._guard.run(lambda client: client.publish(channel, payload))
        except RedisUnavailable:
            _log.debug("event_not_published", channel=channel)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, reliable=False)
        client: Redis = Redis.from_url(self.url, socket_connect_timeout=2.0)
        pubsub = client.pubsub()
        reader: asyncio.Task[None] | None = None
        try:
            await pubsub.subscribe(channel)
            # Wait for the confirmation: from then on every publish reaches this subscription.
            while await pubsub.get_message(timeout=2.0) is None:
                pass
            reader = asyncio.create_task(self._read(pubsub, subscription))
            yield subscription
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            try:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            finally:
                await client.aclose()

    @staticmethod
    async def _read(pubsub: Any, subscription: Subscription) -> None:
        while True:
            try:
                raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except REDIS_FAILURES as exc:
                _log.warning(
                    "event_subscription_lost", channel=subscription.channel, error=repr(exc)
                )
                subscription.lost()
                return
            if raw is None or raw.get("type") != "message":
                continue
            try:
                subscription.deliver(json.loads(raw["data"]))
            except ValueError:
                _log.warning("event_not_json", channel=subscription.channel)

    async def aclose(self) -> None:
        await self._guard.aclose()


def build_event_bus(settings: Settings) -> EventBus:
    """Redis pub/sub when QUANTDESK_REDIS_URL is set, otherwise in process."""
    if settings.redis_url:
        return RedisEventBus(settings.redis_url)
    # Celery workers' events never reach an in-process bus: watchers must poll the database.
    return InProcessEventBus(reliable=settings.executor == "local")
