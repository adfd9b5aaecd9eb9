"""The event bus: fire-and-forget messages on named channels, in process or over Redis pub/sub.

Events are notifications, never the truth: a subscriber that misses one (Redis down, slow reader)
reads the database again. So publishing never raises and a full subscriber queue drops the oldest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger
from quantdesk.kit.redis import REDIS_FAILURES, RedisGuard, RedisUnavailable

_log = get_logger("quantdesk.events")

Message = dict[str, Any]
SUBSCRIBER_QUEUE_SIZE = 1000
# A subscription waits this long for Redis to confirm it; a lost connection is retried this often.
SUBSCRIBE_CONFIRM_SECONDS = 2.0
RECONNECT_SECONDS = 1.0


class Subscription:
    """Messages of one channel, in publishing order, as they arrive.

    ``gaps`` counts the moments messages may have been lost (a full queue dropped its oldest, the
    Redis connection went away); ``reliable`` says whether the bus can lose messages at all. A
    reader goes back to the database only after a gap, or now and then on an unreliable bus.
    """

    def __init__(
        self, channel: str, *, reliable: bool, sink: Callable[[Message], None] | None = None
    ) -> None:
        self.channel = channel
        self.reliable = reliable
        self.gaps = 0
        self._queue: asyncio.Queue[Message] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        self._sink = sink

    def deliver(self, message: Message) -> None:
        if self._sink is not None:  # handed over as it arrives, no queue and no reader task
            self._sink(message)
            return
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
    def subscribe(self, channel: str, *, sink: Callable[[Message], None] | None = None) -> Any:
        """``async with bus.subscribe(channel) as sub``: messages published after entry.

        With ``sink``, each message is passed to it as it arrives instead (a reader of many
        channels merges them without a task per channel); ``sub`` then only counts gaps."""

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
    async def subscribe(
        self, channel: str, *, sink: Callable[[Message], None] | None = None
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, reliable=self.reliable, sink=sink)
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

    Publishing goes through a RedisGuard (fail fast, one warning per outage). Subscriptions share
    ONE pub/sub connection per bus (a process watching 5,000 channels holds one connection, not
    5,000): the first local subscriber of a channel subscribes on it and waits for Redis's
    confirmation before its block is entered, the last one to leave unsubscribes, and one reader
    task hands each message to that channel's local subscribers. If the connection fails, every
    subscription records a gap (its reader goes back to the database) and the reader reconnects
    and subscribes again.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._guard = RedisGuard(url, component="event_bus")
        self._local: dict[str, set[Subscription]] = {}
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()  # one (un)subscribe or (re)connection at a time
        self._client: Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, channel: str, message: Message) -> None:
        payload = json.dumps(message, default=str)
        try:
            await self._guard.run(lambda client: client.publish(channel, payload))
        except RedisUnavailable:
            _log.debug("event_not_published", channel=channel)

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, sink: Callable[[Message], None] | None = None
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(channel, reliable=False, sink=sink)
        await self._add(channel, subscription)
        try:
            yield subscription
        finally:
            await self._remove(channel, subscription)

    async def _add(self, channel: str, subscription: Subscription) -> None:
        async with self._lock:
            local = self._local.setdefault(channel, set())
            local.add(subscription)
            if len(local) > 1:
                return  # the connection already listens to it
            try:
                if self._pubsub is None:
                    await self._connect()
                await self._listen(channel)
            except BaseException:
                local.discard(subscription)
                if not local:
                    del self._local[channel]
                raise

    async def _remove(self, channel: str, subscription: Subscription) -> None:
        async with self._lock:
            local = self._local.get(channel)
            if local is None:
                return
            local.discard(subscription)
            if local:
                return
            del self._local[channel]
            if self._pubsub is not None:
                # On failure the reader reconnects, listening to the channels still wanted only.
                with contextlib.suppress(*REDIS_FAILURES):
                    await self._pubsub.unsubscribe(channel)

    async def _connect(self) -> None:
        self._client = Redis.from_url(self.url, socket_connect_timeout=2.0)
        self._pubsub = self._client.pubsub()

    async def _listen(self, channel: str) -> None:
        """Subscribe on the shared connection; return once Redis confirmed it."""
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmed
        try:
            await self._pubsub.subscribe(channel)
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="event-bus-reader")
            await asyncio.wait_for(confirmed, SUBSCRIBE_CONFIRM_SECONDS)
        finally:
            self._confirmations.pop(channel, None)

    async def _read(self) -> None:
        while True:
            pubsub = self._pubsub
            try:
                raw = await pubsub.get_message(timeout=1.0)
            except REDIS_FAILURES as exc:
                await self._reconnect(exc)
                continue
            if raw is None:
                continue
            name = raw.get("channel")
            channel = name.decode() if isinstance(name, bytes) else str(name)
            if raw.get("type") == "subscribe":
                confirmed = self._confirmations.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)
                continue
            if raw.get("type") != "message":
                continue
            try:
                message = json.loads(raw["data"])
            except ValueError:
                _log.warning("event_not_json", channel=channel)
                continue
            for subscription in list(self._local.get(channel, ())):
                subscription.deliver(message)

    async def _reconnect(self, error: BaseException) -> None:
        """The connection failed: every subscription has a gap; connect and listen again."""
        _log.warning("event_subscription_lost", channels=len(self._local), error=repr(error))
        for local in self._local.values():
            for subscription in local:
                subscription.lost()
        for confirmed in self._confirmations.values():
            if not confirmed.done():
                confirmed.set_exception(RedisUnavailable(repr(error)))
        async with self._lock:
            await self._disconnect()
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            async with self._lock:
                try:
                    if self._pubsub is None:  # a new subscriber may have connected meanwhile
                        await self._connect()
                    if self._local:
                        await self._pubsub.subscribe(*self._local)
                    return
                except REDIS_FAILURES:
                    await self._disconnect()

    async def _disconnect(self) -> None:
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        with contextlib.suppress(Exception):
            if pubsub is not None:
                await pubsub.aclose()
        with contextlib.suppress(Exception):
            if client is not None:
                await client.aclose()

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        await self._disconnect()
        await self._guard.aclose()


def build_event_bus(settings: Settings) -> EventBus:
    """Redis pub/sub when QUANTDESK_REDIS_URL is set, otherwise in process."""
    if settings.redis_url:
        return RedisEventBus(settings.redis_url)
    # Celery workers' events never reach an in-process bus: watchers must poll the database.
    return InProcessEventBus(reliable=settings.executor == "local")
