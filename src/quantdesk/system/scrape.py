"""Gauges read at scrape time, just before ``GET /metrics`` renders: the jobs backlog (from the
database), the providers' breakers and rate-limit buckets, the market-data engine (its queue,
quota ledger and freshness, from the database), the database pool and the activity monitor.

Each probe is bounded by ``metrics_probe_timeout_seconds`` and never fails the scrape: a probe
that times out or errors sets ``quantdesk_metrics_probe_success{probe}`` to 0 and leaves its
gauges as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from quantdesk.jobs import service as jobs_service
from quantdesk.jobs.registry import QUEUES
from quantdesk.kit import activity, db, metrics
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.logging import get_logger
from quantdesk.market.engine import status as market_status

_log = get_logger("quantdesk.metrics")
# Beyond the probe's own bound, the time we wait for a cancelled probe to let go.
_CANCEL_MARGIN_SECONDS = 1.0


class _ProviderHealth(Protocol):
    name: str
    breaker: dict[str, Any]
    rate_limiter: dict[str, Any] | None


class _Market(Protocol):
    providers: Sequence[Any]  # each with its ``name``

    async def health(self) -> list[Any]: ...


async def refresh(state: Any) -> None:
    """Refresh the scrape-time gauges from ``app.state`` (db, market, settings)."""
    timeout = float(state.settings.metrics_probe_timeout_seconds)
    database: Database = state.db
    pool_usage(database.engine)
    snapshot = activity.snapshot()
    metrics.set_activity(snapshot["state"] == "active", snapshot["events"])
    market: _Market | None = getattr(state, "market", None)
    probes = [_probe("jobs", jobs_backlog(database, statement_seconds=timeout), timeout)]
    if market is not None:
        probes.append(_probe("providers", providers_state(market), timeout))
        engine = market_engine(database, state.settings, market, statement_seconds=timeout)
        probes.append(_probe("market", engine, timeout))
    await asyncio.gather(*probes)


def pool_usage(engine: AsyncEngine) -> None:
    usage = db.pool_usage(engine)
    if usage is not None:
        metrics.set_db_pool(*usage)


async def jobs_backlog(database: Database, *, statement_seconds: float) -> None:
    pending, running = await jobs_service.backlog(database, statement_seconds=statement_seconds)
    metrics.set_jobs_backlog(pending, QUEUES, running)


async def providers_state(market: _Market) -> None:
    health: list[_ProviderHealth] = await market.health()
    for provider in health:
        metrics.provider_state(
            provider.name, str(provider.breaker.get("state")), provider.rate_limiter
        )


async def market_engine(
    database: Database, settings: Settings, market: _Market, *, statement_seconds: float
) -> None:
    found = await market_status.read_gauges(
        database,
        settings=settings,
        providers=[p.name for p in market.providers],
        statement_seconds=statement_seconds,
    )
    watched, fresh = found.freshness.watched_pairs, found.freshness.fresh
    metrics.set_market_engine(
        depth=[(d.status, d.provider, d.data_type, d.count) for d in found.depth],
        oldest_due_seconds=found.oldest_due_seconds,
        watched_pairs=watched,
        fresh_ratio=fresh / watched if watched else 1.0,  # nothing watched: nothing is stale
    )


async def _probe(name: str, work: Awaitable[None], bound_seconds: float) -> None:
    try:
        async with asyncio.timeout(bound_seconds + _CANCEL_MARGIN_SECONDS):
            await work
    except Exception as exc:
        _log.warning("metrics_probe_failed", probe=name, error=type(exc).__name__)
        metrics.probe_result(name, False)
        return
    metrics.probe_result(name, True)
