"""What a job may use: settings, the database, the event bus and the market runtime.

One JobResources per process (the API's lifespan, a Celery worker, a benchmark); the market
runtime is built on first use, so workers that never touch market data never open its clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus, build_event_bus

if TYPE_CHECKING:
    from quantdesk.market.runtime import MarketRuntime


class JobResources:
    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        bus: EventBus | None = None,
        market: MarketRuntime | None = None,
    ) -> None:
        self.settings = settings
        # Whatever is passed in belongs to the caller; whatever is built here is closed here.
        self._owns_db = db is None
        self._owns_bus = bus is None
        self._owns_market = market is None
        self.db = db or Database(settings)
        self.bus = bus or build_event_bus(settings)
        self._market = market

    @property
    def market(self) -> MarketRuntime:
        if self._market is None:
            from quantdesk.market.runtime import MarketRuntime  # built on first use

            self._market = MarketRuntime(self.settings)
        return self._market

    async def aclose(self) -> None:
        if self._owns_market and self._market is not None:
            await self._market.aclose()
        if self._owns_bus:
            await self.bus.aclose()
        if self._owns_db:
            await self.db.dispose()
