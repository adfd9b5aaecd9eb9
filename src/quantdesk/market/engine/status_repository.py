"""The status page's queries that the queue's and the store's repositories have no use for:
refreshes finished over a recent window, and how many watched pairs the store holds fresh.
Global data; ``market_watches`` is owned (RLS), so callers use system-context transactions.

Both are single aggregate statements, so their cost does not grow with round trips however many
rows the queue or the watches hold.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Float, Table, and_, bindparam, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.kit.db import dialect_name
from quantdesk.kit.orm import IndexedBy, UTCDateTime
from quantdesk.models import MarketDataType, MarketValue, MarketWatch, RefreshRequest, RefreshStatus

S = RefreshStatus
_queue = cast(Table, RefreshRequest.__table__)
_values = cast(Table, MarketValue.__table__)
_watches = cast(Table, MarketWatch.__table__)
_types = cast(Table, MarketDataType.__table__)
q = _queue.c

_now = bindparam("b_now", type_=UTCDateTime())

# --- Refreshes finished lately ------------------------------------------------------------------

# Literal statuses, so PostgreSQL's generic plan can use the partial index of finished rows (see
# ``engine.repository``); SQLite is told to (with no statistics it would scan the table).
_COMPLETED: ColumnElement[Any] = literal_column(f"'{S.COMPLETED}'")
_FAILED: ColumnElement[Any] = literal_column(f"'{S.FAILED}'")
_FINISHED: list[ColumnElement[Any]] = [literal_column(f"'{s}'") for s in S.FINISHED]
_FINISHED_SINCE = (
    select(
        func.coalesce(func.sum(case((q.status == _COMPLETED, 1), else_=0)), 0).label("completed"),
        func.coalesce(func.sum(case((q.status == _FAILED, 1), else_=0)), 0).label("failed"),
    )
    .select_from(IndexedBy(_queue, "ix_market_refresh_queue_finished"))
    .where(q.status.in_(_FINISHED), q.updated_at >= bindparam("b_since", type_=UTCDateTime()))
)


def finished_statement() -> Any:
    """The statement ``finished_since`` runs (for query-plan tests)."""
    return _FINISHED_SINCE


async def finished_since(session: AsyncSession, *, since: datetime) -> tuple[int, int]:
    """(completed, failed) queue rows whose last update (their finish) is at or after ``since``."""
    row = (await session.execute(_FINISHED_SINCE, {"b_since": since})).one()
    return int(row.completed), int(row.failed)


# --- Freshness of the watched pairs ---------------------------------------------------------------


def _age_seconds(dialect: str, moment: ColumnElement[Any]) -> ColumnElement[Any]:
    """Seconds from ``moment`` to now, fractions kept (NULL for a NULL moment)."""
    if dialect == "postgresql":
        return func.extract("epoch", _now - moment)
    # SQLite keeps times as ISO text, which julianday() reads (days, as a double: ~20 µs apart).
    return (func.julianday(_now) - func.julianday(moment)) * literal_column("86400.0", Float())


@functools.cache
def freshness_statement(dialect: str) -> Any:
    """(watched pairs, fresh ones): each pair watched now with its interval (the watchers' as
    ``watching.watched`` has it: None when any wants the type's TTL, else the shortest asked),
    left-joined to its stored value and its type's TTL."""
    w = _watches.c
    wants_ttl = func.max(case((w.refresh_seconds.is_(None), 1), else_=0))
    pairs = (
        select(
            w.symbol,
            w.data_type,
            case((wants_ttl == 1, None), else_=func.min(w.refresh_seconds)).label("every"),
        )
        .where(w.expires_at >= _now)
        .group_by(w.symbol, w.data_type)
        .cte("watched")
    )
    v, t = _values.c, _types.c
    every = func.coalesce(pairs.c.every, t.ttl_seconds)
    # A pair without a value or a TTL compares with NULL: not fresh (unknown is stale).
    fresh = case((_age_seconds(dialect, v.fetched_at) <= every, 1), else_=0)
    joined = pairs.outerjoin(
        _values, and_(v.symbol == pairs.c.symbol, v.data_type == pairs.c.data_type)
    ).outerjoin(_types, t.name == pairs.c.data_type)
    return select(
        func.count().label("watched"), func.coalesce(func.sum(fresh), 0).label("fresh")
    ).select_from(joined)


async def freshness(session: AsyncSession, *, now: datetime) -> tuple[int, int]:
    """(pairs watched now, those the store holds fresh)."""
    statement = freshness_statement(dialect_name(session))
    row = (await session.execute(statement, {"b_now": now})).one()
    return int(row.watched), int(row.fresh)
