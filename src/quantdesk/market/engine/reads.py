"""What the API reads of the engine: stored values and quote history.

A stale (or missing) value is brought by the refresh queue while the engine and its data type
are on: the read queues it at high priority and answers at once, never waiting on a provider.
While the engine or the type is off nothing would bring it, so the read fetches it on demand
(``engine.on_demand``), outside any transaction and within a time budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus
from quantdesk.kit.orm import utcnow
from quantdesk.market import datatypes
from quantdesk.market.engine import on_demand, service, store
from quantdesk.market.engine.schemas import (
    Interval,
    MarketData,
    MarketValue,
    OnDemand,
    QuoteBar,
    QuoteHistory,
    QuotePointOut,
    RefreshItem,
    StoredValue,
)
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import DataTypeOut

# What a person waiting on a page gets: before any background watcher.
ASKED_PRIORITY = 200


async def market_data(
    db: Database,
    *,
    runtime: MarketRuntime,
    symbol: str,
    types: Sequence[str],
    budget_seconds: float,
    bus: EventBus | None = None,
) -> MarketData:
    """The stored values of ``symbol``. Each stale one (unknown is stale) queues a refresh at
    high priority while the engine and its data type are on; otherwise it is fetched on demand,
    waiting at most ``budget_seconds``: an answer in time is stored and returned fresh, a later
    one is answered stale (``on_demand: timed_out``) and stored when it comes. Short
    transactions of its own (global data: system context); call it with none open."""
    now = utcnow()
    async with db.transaction(system=True, readonly=True) as session:
        registry = {t.name: t for t in await datatypes.list_types(session)}
        engine_on = await datatypes.engine_enabled(session)
        ttls = {name: t.ttl_seconds for name, t in registry.items()}
        stored = await store.read_values(session, [(symbol, t) for t in types], ttls=ttls, now=now)
    stale = [value.data_type for value in stored if value.stale]
    queued = [t for t in stale if engine_on and t in registry and registry[t].enabled]
    if queued:
        async with db.transaction(system=True) as session:
            await service.enqueue_many(
                session,
                [RefreshItem(symbol, t, priority=ASKED_PRIORITY) for t in queued],
                now=now,
            )
    outcomes: dict[str, OnDemand] = {}
    fresh: dict[str, StoredValue] = {}
    unserved = [t for t in stale if t not in queued]
    if unserved:
        configured = [p.name for p in runtime.providers]
        wanted = [
            on_demand.Wanted(symbol, t, _route(registry.get(t), configured)) for t in unserved
        ]
        found = await on_demand.fetch_and_store(
            db, runtime, wanted, ttls=ttls, budget_seconds=budget_seconds, bus=bus
        )
        outcomes = {data_type: outcome for (_, data_type), outcome in found.items()}
        fresh = await _read_back(db, symbol, outcomes, ttls)
    return MarketData(
        symbol=symbol,
        values=[
            MarketValue(
                **fresh.get(value.data_type, value).model_dump(),
                queued=value.data_type in queued,
                on_demand=outcomes.get(value.data_type),
            )
            for value in stored
        ],
    )


async def fresh_value(
    db: Database,
    *,
    runtime: MarketRuntime,
    symbol: str,
    data_type: str,
    max_age_seconds: float,
    budget_seconds: float,
    bus: EventBus | None = None,
) -> StoredValue:
    """A value no older than ``max_age_seconds``, for work that cannot wait for the refresh
    queue (a market order fills now): the stored one when young enough, else fetched on
    demand through the type's providers within ``budget_seconds``, whatever the engine's state.
    The answer says how old it is (``stale`` against ``max_age_seconds``); the caller decides
    what a stale one means. Call it with no transaction open."""
    ages = {data_type: max(1, int(max_age_seconds))}
    async with db.transaction(system=True, readonly=True) as session:
        (stored,) = await store.read_values(session, [(symbol, data_type)], ttls=ages, now=utcnow())
        if not stored.stale:  # the common case: one query
            return stored
        registry = {t.name: t for t in await datatypes.list_types(session)}
    configured = [p.name for p in runtime.providers]
    wanted = [on_demand.Wanted(symbol, data_type, _route(registry.get(data_type), configured))]
    await on_demand.fetch_and_store(
        db, runtime, wanted, ttls={t: r.ttl_seconds for t, r in registry.items()},
        budget_seconds=budget_seconds, bus=bus,
    )  # fmt: skip
    async with db.transaction(system=True, readonly=True) as session:
        (found,) = await store.read_values(session, [(symbol, data_type)], ttls=ages, now=utcnow())
    return found


# Quotes a listing shows queue their refresh behind what people watch or ask for.
LISTED_PRIORITY = 5


async def listed_quotes(db: Database, symbols: Sequence[str]) -> dict[str, MarketValue]:
    """The stored quote of each symbol for a listing (the tradable inventory): stale or missing
    ones are queued at a low priority while the engine and quotes are on (the engine batches
    them: one provider call for many symbols), and answered as they are, never waited for."""
    now = utcnow()
    async with db.transaction(system=True, readonly=True) as session:
        registry = {t.name: t for t in await datatypes.list_types(session)}
        engine_on = await datatypes.engine_enabled(session)
        ttls = {name: t.ttl_seconds for name, t in registry.items()}
        stored = await store.read_values(
            session, [(s, "quote") for s in symbols], ttls=ttls, now=now
        )
    quote_type = registry.get("quote")
    queue = engine_on and quote_type is not None and quote_type.enabled
    stale = [v.symbol for v in stored if v.stale and v.symbol is not None] if queue else []
    if stale:
        async with db.transaction(system=True) as session:
            await service.enqueue_many(
                session, [RefreshItem(s, "quote", priority=LISTED_PRIORITY) for s in stale], now=now
            )
    queued = set(stale)
    return {
        v.symbol: MarketValue(**v.model_dump(), queued=v.symbol in queued)
        for v in stored
        if v.symbol is not None
    }


async def stored_values(
    db: Database, pairs: Sequence[tuple[str, str]], *, max_age_seconds: float
) -> dict[tuple[str, str], StoredValue]:
    """The store's values of ``pairs`` as they are (``stale``: older than ``max_age_seconds``);
    nothing is fetched or queued (what the engine keeps fresh for their watchers)."""
    ages: dict[str, int] = {t: max(1, int(max_age_seconds)) for _, t in pairs}
    async with db.transaction(system=True, readonly=True) as session:
        found = await store.read_values(session, list(pairs), ttls=ages, now=utcnow())
    return {(v.symbol or "", v.data_type): v for v in found}


def _route(data_type: DataTypeOut | None, configured: Sequence[str]) -> list[str] | None:
    """The type's providers this process has, in the registry's order (None: a type the
    registry does not know, which the whole chain may serve)."""
    if data_type is None:
        return None
    have = set(configured)
    return [p for p in data_type.providers if p in have]


async def _read_back(
    db: Database, symbol: str, outcomes: dict[str, OnDemand], ttls: dict[str, int]
) -> dict[str, StoredValue]:
    """The values fetched in time, as the store now holds them (never older than the fetch)."""
    fetched = [t for t, outcome in outcomes.items() if outcome is OnDemand.FETCHED]
    if not fetched:
        return {}
    async with db.transaction(system=True, readonly=True) as session:
        found = await store.read_values(
            session, [(symbol, t) for t in fetched], ttls=ttls, now=utcnow()
        )
    return {value.data_type: value for value in found}


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
