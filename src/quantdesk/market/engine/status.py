"""The engine at a glance, for people (GET market/status, `quantdesk market status`) and for
Prometheus (the scrape-time gauges): the queue's depth and how long its oldest due row has
waited, how many refreshes finished and failed lately, each limited provider's quota windows,
how many watched pairs the store holds fresh, and whether the engine is on.

A fixed handful of queries whatever the size of the queue or the number of watches: depth and
rates are aggregates, freshness is one statement joining the watched pairs to the store (no
per-pair read), and the quota ledger is read per configured provider (a few). The session-taking
functions never commit; ``read_status`` and ``read_gauges`` open their own short read-only
system transaction, since the watches are owned rows (RLS) and the counts are of everyone's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database, limit_statement_time
from quantdesk.kit.orm import utcnow
from quantdesk.market import datatypes, quota
from quantdesk.market.engine import repository, service
from quantdesk.market.engine import status_repository as status_queries
from quantdesk.market.engine.schemas import (
    Freshness,
    MarketGauges,
    MarketStatus,
    ProviderQuotaStatus,
    QueueDepth,
    RefreshRates,
)

DEFAULT_WINDOW_MINUTES = 15
MAX_WINDOW_MINUTES = 24 * 60  # the default retention of finished rows


async def market_status(
    session: AsyncSession,
    *,
    settings: Settings,
    providers: Sequence[str],
    now: datetime,
    window_minutes: int = DEFAULT_WINDOW_MINUTES,
) -> MarketStatus:
    """Everything the status page shows; ``providers``: the configured ones, in chain order."""
    return MarketStatus(
        engine_enabled=await datatypes.engine_enabled(session),
        queue=await service.queue_status(session, now=now),
        rates=await refresh_rates(session, now=now, minutes=window_minutes),
        quota=await quota_status(session, settings=settings, providers=providers, now=now),
        freshness=await freshness(session, now=now),
        as_of=now,
    )


async def refresh_rates(session: AsyncSession, *, now: datetime, minutes: int) -> RefreshRates:
    """Completed and failed refreshes per minute over the last ``minutes`` (by the time their
    row last changed, which for a finished row is its finish)."""
    if minutes < 1:
        raise ValueError(f"minutes must be at least 1, not {minutes}")
    completed, failed = await status_queries.finished_since(
        session, since=now - timedelta(minutes=minutes)
    )
    finished = completed + failed
    return RefreshRates(
        window_minutes=minutes,
        completed=completed,
        failed=failed,
        completed_per_minute=round(completed / minutes, 3),
        failed_per_minute=round(failed / minutes, 3),
        error_ratio=round(failed / finished, 4) if finished else None,
    )


async def quota_status(
    session: AsyncSession, *, settings: Settings, providers: Sequence[str], now: datetime
) -> list[ProviderQuotaStatus]:
    """The ledger's windows of each provider that has a limit (an unlimited one has no ledger
    worth showing: ``sim``)."""
    found = []
    for provider in dict.fromkeys(providers):
        limits = quota.limits_for(settings, provider)
        if limits.unlimited:
            continue
        usage = await quota.usage(session, provider, limits=limits, now=now)
        found.append(
            ProviderQuotaStatus(
                provider=provider,
                minute=usage["minute"],
                day=usage["day"],
                spent_until=usage["spent_until"],
            )
        )
    return found


async def freshness(session: AsyncSession, *, now: datetime) -> Freshness:
    watched, fresh = await status_queries.freshness(session, now=now)
    percent = 100.0 if watched == 0 else round(100.0 * fresh / watched, 2)
    return Freshness(watched_pairs=watched, fresh=fresh, fresh_percent=percent)


async def gauges(
    session: AsyncSession, *, settings: Settings, providers: Sequence[str], now: datetime
) -> MarketGauges:
    """What the metrics show: the queue's depth per (status, data type, provider), which the
    status page sums per status, type and provider instead."""
    oldest = await repository.oldest_due(session, now=now)
    return MarketGauges(
        depth=[QueueDepth(*row) for row in await repository.depth(session)],
        oldest_due_seconds=None if oldest is None else (now - oldest).total_seconds(),
        freshness=await freshness(session, now=now),
    )


async def read_status(
    db: Database,
    *,
    settings: Settings,
    providers: Sequence[str],
    window_minutes: int = DEFAULT_WINDOW_MINUTES,
) -> MarketStatus:
    """``market_status`` in a short read-only system transaction of its own."""
    async with db.transaction(system=True, readonly=True) as session:
        return await market_status(
            session,
            settings=settings,
            providers=providers,
            now=utcnow(),
            window_minutes=window_minutes,
        )


async def read_gauges(
    db: Database, *, settings: Settings, providers: Sequence[str], statement_seconds: float
) -> MarketGauges:
    """``gauges`` in a short read-only system transaction; on PostgreSQL the server gives up
    after ``statement_seconds`` too, so a slow count never outlives a metrics scrape."""
    async with db.transaction(system=True, readonly=True) as session:
        await limit_statement_time(session, seconds=statement_seconds)
        return await gauges(session, settings=settings, providers=providers, now=utcnow())
