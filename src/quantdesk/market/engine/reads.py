"""What the API reads of the engine: stored values (a stale one queues its refresh) and quote
history. A request never waits on a provider here: a miss is answered as such at once and the
refresh queue (served within each provider's quota) brings the value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.market import datatypes
from quantdesk.market.engine import service, store
from quantdesk.market.engine.schemas import (
    Interval,
    MarketData,
    MarketValue,
    QuoteBar,
    QuoteHistory,
    QuotePointOut,
    RefreshItem,
)

# What a person waiting on a page gets: before any background watcher.
ASKED_PRIORITY = 200


async def market_data(
    session: AsyncSession, *, symbol: str, types: Sequence[str], now: datetime
) -> MarketData:
    """The stored values of ``symbol``; each stale one (unknown is stale) queues a refresh at
    high priority while the engine and its data type are on."""
    registry = {t.name: t for t in await datatypes.list_types(session)}
    ttls = {name: t.ttl_seconds for name, t in registry.items()}
    stored = await store.read_values(session, [(symbol, t) for t in types], ttls=ttls, now=now)
    engine_on = await datatypes.engine_enabled(session)
    wanted = [
        value.data_type
        for value in stored
        if value.stale
        and engine_on
        and registry.get(value.data_type) is not None
        and registry[value.data_type].enabled
    ]
    if wanted:
        await service.enqueue_many(
            session,
            [RefreshItem(symbol, data_type, priority=ASKED_PRIORITY) for data_type in wanted],
            now=now,
        )
    return MarketData(
        symbol=symbol,
        values=[
            MarketValue(**value.model_dump(), queued=value.data_type in wanted) for value in stored
        ],
    )


async def history(
    session: AsyncSession, *, symbol: str, start: datetime, end: datetime, interval: Interval
) -> QuoteHistory:
    found = await store.quote_history(
        session, symbol=symbol, start=start, end=end, interval=interval
    )
    if interval is Interval.RAW:
        points = [p for p in found if isinstance(p, QuotePointOut)]
        return QuoteHistory(symbol=symbol, interval=interval, points=points)
    bars = [b for b in found if isinstance(b, QuoteBar)]
    return QuoteHistory(symbol=symbol, interval=interval, bars=bars)
