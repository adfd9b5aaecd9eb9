"""Every query of market data: last known quotes and profiles and the validation queue (global
data), and presence (``market_watches``, owner-scoped). Asset rows themselves are written by the
assets domain. Writes are upserts: two requests fetching the same symbol at once must both
succeed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, case, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import upsert_into
from quantdesk.models import (
    AssetProfile,
    AssetQuote,
    MarketAudit,
    MarketDataType,
    MarketFlag,
    MarketWatch,
    ProviderCall,
    ProviderQuota,
    ValidationRequest,
)

# --- The validation queue -------------------------------------------------------------------


async def enqueue_validations(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Queue symbols (symbol, requested_at, reason, next_attempt_at); a queued one is refreshed."""
    if not rows:
        return
    stmt = upsert_into(session, ValidationRequest.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ValidationRequest.symbol],
        set_={"reason": stmt.excluded.reason, "next_attempt_at": stmt.excluded.next_attempt_at},
    )
    await session.execute(stmt, list(rows))


async def dequeue_validations(session: AsyncSession, symbols: Sequence[str]) -> None:
    if symbols:
        await session.execute(
            delete(ValidationRequest).where(ValidationRequest.symbol.in_(list(symbols)))
        )


async def list_queued_validations(
    session: AsyncSession, *, due_before: datetime | None = None, limit: int = 100
) -> Sequence[ValidationRequest]:
    stmt = select(ValidationRequest).order_by(ValidationRequest.next_attempt_at).limit(limit)
    if due_before is not None:
        stmt = stmt.where(ValidationRequest.next_attempt_at <= due_before)
    return (await session.execute(stmt)).scalars().all()


async def claim_queued_validations(
    session: AsyncSession, *, now: datetime, limit: int, backoff: Callable[[int], timedelta]
) -> list[tuple[str, int]]:
    """Due rows of the queue, each pushed back by ``backoff(attempts)`` so the next drain skips
    it: (symbol, attempt) per row, oldest due first."""
    rows = await list_queued_validations(session, due_before=now, limit=limit)
    claimed = []
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + backoff(row.attempts)
        claimed.append((row.symbol, row.attempts))
    await session.flush()
    return claimed


# --- Last known quotes and profiles ---------------------------------------------------------


async def get_quote(session: AsyncSession, asset_id: int) -> AssetQuote | None:
    return await session.get(AssetQuote, asset_id)


async def get_profile(session: AsyncSession, asset_id: int) -> AssetProfile | None:
    return await session.get(AssetProfile, asset_id)


async def upsert_quote(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = upsert_into(session, AssetQuote.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AssetQuote.asset_id],
        set_={k: v for k, v in values.items() if k != "asset_id"},
    )
    await session.execute(stmt)


async def upsert_profile(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = upsert_into(session, AssetProfile.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AssetProfile.asset_id],
        set_={k: v for k, v in values.items() if k != "asset_id"},
    )
    await session.execute(stmt)


# --- Presence: who watches what ---------------------------------------------------------------

_W = MarketWatch


async def upsert_watches(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Start watching, or extend a watch already held (its ``expires_at`` is renewed)."""
    if not rows:
        return
    stmt = upsert_into(session, MarketWatch.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_W.owner_id, _W.client, _W.symbol, _W.data_type],
        set_={
            "expires_at": stmt.excluded.expires_at,
            "priority": stmt.excluded.priority,
            "refresh_seconds": stmt.excluded.refresh_seconds,
        },
    )
    await session.execute(stmt, list(rows))


async def delete_watches(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    client: str,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> int:
    """Stop watching ``pairs`` (symbol, data type), or everything ``client`` watches; how many."""
    stmt = delete(_W).where(_W.owner_id == owner_id, _W.client == client)
    if pairs is not None:
        if not pairs:
            return 0
        stmt = stmt.where(tuple_(_W.symbol, _W.data_type).in_(list(pairs)))
    found = await session.execute(stmt.returning(_W.symbol))
    return len(found.all())


async def renew_watches(session: AsyncSession, *, prefix: str, expires_at: datetime) -> int:
    """Extend every watch of the clients whose id starts with ``prefix`` (a process's live
    connections), in one Core statement that returns only a count: thousands of rows must not
    come back through the event loop."""
    table = cast(Table, MarketWatch.__table__)
    found = await session.execute(
        update(table)
        .where(table.c.client.startswith(prefix, autoescape=True))
        .values(expires_at=expires_at)
    )
    return int(cast(CursorResult[Any], found).rowcount)


async def delete_watches_of(session: AsyncSession, *, clients: Sequence[str]) -> int:
    if not clients:
        return 0
    found = await session.execute(
        delete(_W).where(_W.client.in_(list(clients))).returning(_W.client)
    )
    return len(found.all())


async def delete_expired_watches(session: AsyncSession, *, now: datetime) -> int:
    found = await session.execute(delete(_W).where(_W.expires_at < now).returning(_W.client))
    return len(found.all())


async def list_watches(
    session: AsyncSession, *, owner_id: uuid.UUID, now: datetime
) -> Sequence[tuple[str, str, str, datetime]]:
    """A user's live watches: (client, symbol, data type, expires_at)."""
    found = await session.execute(
        select(_W.client, _W.symbol, _W.data_type, _W.expires_at)
        .where(_W.owner_id == owner_id, _W.expires_at >= now)
        .order_by(_W.symbol, _W.data_type, _W.client)
    )
    return [tuple(row) for row in found.all()]  # type: ignore[misc]


async def watched_pairs(
    session: AsyncSession, *, now: datetime
) -> Sequence[tuple[str, str, int, int, int | None]]:
    """Every (symbol, data type) watched now (system context): how many watch it, their highest
    priority, and how often it must be refreshed (None: at its TTL, when any watcher wants that;
    else the most frequent of the background watchers' intervals)."""
    wants_ttl = func.max(case((_W.refresh_seconds.is_(None), 1), else_=0))
    found = await session.execute(
        select(
            _W.symbol,
            _W.data_type,
            func.count(),
            func.max(_W.priority),
            wants_ttl,
            func.min(_W.refresh_seconds),
        )
        .where(_W.expires_at >= now)
        .group_by(_W.symbol, _W.data_type)
        .order_by(_W.symbol, _W.data_type)
    )
    return [
        (symbol, data_type, int(count), int(priority), None if ttl else int(every))
        for symbol, data_type, count, priority, ttl, every in found.all()
    ]


# --- The quota ledger -------------------------------------------------------------------------

_Q = ProviderQuota
_C = ProviderCall


async def lock_quota(session: AsyncSession, provider: str, *, now: datetime) -> datetime | None:
    """Lock the provider's ledger row for this transaction (made on first use); its "spent
    until" mark. PostgreSQL: a row lock every debit of the provider waits for; SQLite: write
    transactions are serial already (BEGIN IMMEDIATE)."""
    await session.execute(
        upsert_into(session, ProviderQuota.__table__)
        .values(provider=provider, spent_until=None, updated_at=now)
        .on_conflict_do_nothing(index_elements=[_Q.provider])
    )
    found = await session.execute(
        select(_Q.spent_until).where(_Q.provider == provider).with_for_update()
    )
    spent_until: datetime | None = found.scalar_one()
    return spent_until


async def lock_quotas(
    session: AsyncSession, providers: Sequence[str], *, now: datetime
) -> dict[str, datetime | None]:
    """``lock_quota`` for several providers in one statement, locked in name order (concurrent
    claimers never wait for each other in a circle); each one's "spent until" mark. A provider
    seen for the first time gets its row first."""
    wanted = sorted(set(providers))
    if not wanted:
        return {}
    locking = (
        select(_Q.provider, _Q.spent_until)
        .where(_Q.provider.in_(wanted))
        .order_by(_Q.provider)
        .with_for_update()
    )
    found = {provider: until for provider, until in (await session.execute(locking)).all()}
    missing = [p for p in wanted if p not in found]
    if missing:
        await session.execute(
            upsert_into(session, ProviderQuota.__table__)
            .values([{"provider": p, "spent_until": None, "updated_at": now} for p in missing])
            .on_conflict_do_nothing(index_elements=[_Q.provider])
        )
        found = {provider: until for provider, until in (await session.execute(locking)).all()}
    return found


async def debits_since(
    session: AsyncSession, provider: str, *, since: datetime
) -> list[tuple[datetime, int]]:
    """The provider's debits after ``since`` (at, calls), oldest first."""
    found = await session.execute(
        select(_C.at, _C.calls).where(_C.provider == provider, _C.at > since).order_by(_C.at)
    )
    return [(at, int(calls)) for at, calls in found.all()]


async def calls_since(session: AsyncSession, provider: str, *, since: datetime) -> int:
    """Calls debited to the provider at or after ``since``."""
    found = await session.scalar(
        select(func.coalesce(func.sum(_C.calls), 0)).where(_C.provider == provider, _C.at >= since)
    )
    return int(found or 0)


async def record_debit(session: AsyncSession, provider: str, *, at: datetime, calls: int) -> None:
    await session.execute(insert(ProviderCall).values(provider=provider, at=at, calls=calls))


async def set_spent_until(
    session: AsyncSession, provider: str, *, until: datetime, now: datetime
) -> None:
    """Mark the provider's window spent until ``until`` (a later mark already there stays)."""
    await lock_quota(session, provider, now=now)
    await session.execute(
        update(ProviderQuota)
        .where(
            _Q.provider == provider,
            (_Q.spent_until.is_(None)) | (_Q.spent_until < until),
        )
        .values(spent_until=until, updated_at=now)
    )


async def trim_debits(session: AsyncSession, *, before: datetime) -> int:
    found = await session.execute(delete(ProviderCall).where(_C.at < before).returning(_C.id))
    return len(found.all())


async def spent_marks(
    session: AsyncSession, providers: Sequence[str]
) -> dict[str, datetime | None]:
    """Each provider's "spent until" mark, in one query (absent: never marked)."""
    found = await session.execute(
        select(_Q.provider, _Q.spent_until).where(_Q.provider.in_(list(providers)))
    )
    return {provider: until for provider, until in found.all()}


async def spent_until(session: AsyncSession, provider: str) -> datetime | None:
    found: datetime | None = await session.scalar(
        select(_Q.spent_until).where(_Q.provider == provider)
    )
    return found


# --- The data-type registry, the engine's flags and their audit -----------------------------------


async def list_data_types(session: AsyncSession) -> Sequence[MarketDataType]:
    found = await session.execute(select(MarketDataType).order_by(MarketDataType.name))
    return found.scalars().all()


async def get_data_type(
    session: AsyncSession, name: str, *, lock: bool = False
) -> MarketDataType | None:
    query = select(MarketDataType).where(MarketDataType.name == name)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def get_flag(session: AsyncSession, name: str, *, lock: bool = False) -> MarketFlag | None:
    query = select(MarketFlag).where(MarketFlag.name == name)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def add_audit(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(insert(MarketAudit).values(**row))


async def list_audit(session: AsyncSession, *, limit: int) -> Sequence[MarketAudit]:
    found = await session.execute(select(MarketAudit).order_by(MarketAudit.id.desc()).limit(limit))
    return found.scalars().all()
