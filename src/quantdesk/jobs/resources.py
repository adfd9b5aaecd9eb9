"""What a job may use: settings, the database, the event bus, and resources domains declare.

One JobResources per process (the API's lifespan, a Celery worker process, a benchmark). The jobs
platform knows no domain: a domain declares a :class:`ResourceKey` next to its resource (the
market runtime, say) and its jobs ask ``ctx.resources.get(KEY)``. The resource is built on first
use (so a worker that never touches market data never opens its clients) and closed with the
resources, unless the process provided its own (the API shares its runtime with its jobs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from quantdesk.jobs.completer import Completer
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus, build_event_bus
from quantdesk.kit.logging import get_logger

T = TypeVar("T")
_log = get_logger("quantdesk.jobs")


@dataclass(frozen=True, eq=False)
class ResourceKey(Generic[T]):
    """A process-wide resource of a domain: how to build it from settings and how to close it."""

    name: str
    build: Callable[[Settings], T]
    close: Callable[[T], Awaitable[None]]


class JobResources:
    def __init__(
        self, settings: Settings, *, db: Database | None = None, bus: EventBus | None = None
    ) -> None:
        self.settings = settings
        # Whatever is passed in belongs to the caller; whatever is built here is closed here.
        self._owns_db = db is None
        self._owns_bus = bus is None
        self.db = db or Database(settings)
        self.bus = bus or build_event_bus(settings)
        # Where this process's runs record how they ended (written together when they end together).
        self.completer = Completer(self.db)
        self._resources: dict[ResourceKey[Any], Any] = {}
        self._owned: list[ResourceKey[Any]] = []

    def provide(self, key: ResourceKey[T], value: T) -> None:
        """Use ``value`` for ``key`` (owned by the caller, who closes it)."""
        self._resources[key] = value

    def get(self, key: ResourceKey[T]) -> T:
        if key not in self._resources:
            self._resources[key] = key.build(self.settings)
            self._owned.append(key)
        return cast(T, self._resources[key])

    async def aclose(self) -> None:
        await self.completer.aclose()
        for key in reversed(self._owned):
            try:
                await key.close(self._resources.pop(key))
            except Exception:  # closing goes on for the others
                _log.warning("job_resource_close_failed", resource=key.name, exc_info=True)
        self._owned.clear()
        if self._owns_bus:
            await self.bus.aclose()
        if self._owns_db:
            await self.db.dispose()
