"""Every query of the store (the latest value per (symbol, data type)) and of quote history.
Global data (no owner), so callers use system-context transactions."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy import cast as cast_
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.jobs.schemas import AnyRow
from quantdesk.kit.db import dialect_name, upsert_into
from quantdesk.kit.orm import UTCDateTime
from quantdesk.models import MarketValue, QuotePoint

_values = cast(Table, MarketValue.__table__)
_history = cast(Table, QuotePoint.__table__)


# --- The store: the latest value of each (symbol, data type) ----------------------------------


# PostgreSQL: the rows as one array per column, unnested: one statement whatever the batch's
# size, compiled and planned once (an executemany runs the upsert once per row; a multi-row
# VALUES list is a new statement for every length).
_UPSERT_UNNEST = text(
    "INSERT INTO market_values (symbol, data_type, value, provider, fetched_at, expires_at) "
    "SELECT s, t, CAST(v AS jsonb), p, f, e "
    "FROM unnest(:symbols, :types, :vals, :providers, :fetched, :expires) AS u(s, t, v, p, f, e) "
    "ON CONFLICT (symbol, data_type) DO UPDATE SET value = excluded.value, "
    "provider = excluded.provider, fetched_at = excluded.fetched_at, "
    "expires_at = excluded.expires_at "
    "WHERE market_values.fetched_at <= excluded.fetched_at"
).bindparams(
    bindparam("symbols", type_=postgresql.ARRAY(String())),
    bindparam("types", type_=postgresql.ARRAY(String())),
    bindparam("vals", type_=postgresql.ARRAY(String())),
    bindparam("providers", type_=postgresql.ARRAY(String())),
    bindparam("fetched", type_=postgresql.ARRAY(DateTime(timezone=True))),
    bindparam("expires", type_=postgresql.ARRAY(DateTime(timezone=True))),
)


async def upsert_values(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write values (symbol, data_type, value, provider, fetched_at, expires_at); a value never
    replaces a fresher one (two workers finishing out of order keep the newest)."""
    if not rows:
        return
    if dialect_name(session) == "postgresql":
        newest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:  # one statement may not touch a row twice
            key = (row["symbol"], row["data_type"])
            if key not in newest or newest[key]["fetched_at"] <= row["fetched_at"]:
                newest[key] = row
        chosen = list(newest.values())
        await session.execute(
            _UPSERT_UNNEST,
            {
                "symbols": [r["symbol"] for r in chosen],
                "types": [r["data_type"] for r in chosen],
                "vals": [json.dumps(r["value"]) for r in chosen],
                "providers": [r["provider"] for r in chosen],
                "fetched": [r["fetched_at"] for r in chosen],
                "expires": [r["expires_at"] for r in chosen],
            },
        )
        return
    stmt = upsert_into(session, _values)
    v = _values.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[v.symbol, v.data_type],
        set_={
            "value": stmt.excluded.value,
            "provider": stmt.excluded.provider,
            "fetched_at": stmt.excluded.fetched_at,
            "expires_at": stmt.excluded.expires_at,
        },
        where=v.fetched_at <= stmt.excluded.fetched_at,
    )
    await session.execute(stmt, list(rows))


async def get_values(session: AsyncSession, pairs: Sequence[tuple[str, str]]) -> Sequence[AnyRow]:
    """The stored values of these (symbol, data type) pairs (absent pairs: no row)."""
    if not pairs:
        return []
    v = _values.c
    found = await session.execute(
        select(v.symbol, v.data_type, v.value, v.provider, v.fetched_at, v.expires_at).where(
            tuple_(v.symbol, v.data_type).in_(list(pairs))
        )
    )
    return found.all()


# Pairs per statement of a bulk read: two parameters each, well inside any driver's limit.
_PAIRS_PER_READ = 1_000


async def get_fetched_at(
    session: AsyncSession, pairs: Sequence[tuple[str, str]]
) -> list[tuple[str, str, datetime]]:
    """When each stored pair of these was fetched (the sweep's question; no values read)."""
    v = _values.c
    found: list[tuple[str, str, datetime]] = []
    for start in range(0, len(pairs), _PAIRS_PER_READ):
        chunk = list(pairs[start : start + _PAIRS_PER_READ])
        rows = await session.execute(
            select(v.symbol, v.data_type, v.fetched_at).where(
                tuple_(v.symbol, v.data_type).in_(chunk)
            )
        )
        found.extend((row.symbol, row.data_type, row.fetched_at) for row in rows)
    return found


# --- Quote history ------------------------------------------------------------------------------

_h = _history.c
_POINT_COLUMNS = (
    _h.as_of, _h.price, _h.change, _h.change_percent, _h.volume, _h.market_cap, _h.currency,
    _h.provider,
)  # fmt: skip


async def add_quote_points(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record quotes; a quote already recorded (same symbol and as_of) is kept as it was."""
    if rows:
        stmt = upsert_into(session, _history).on_conflict_do_nothing(
            index_elements=[_h.symbol, _h.as_of]
        )
        await session.execute(stmt, list(rows))


async def quote_points(
    session: AsyncSession, *, symbol: str, start: datetime, end: datetime, limit: int
) -> Sequence[AnyRow]:
    """Quotes of ``symbol`` with start <= as_of < end, oldest first, at most ``limit``."""
    found = await session.execute(
        select(*_POINT_COLUMNS)
        .where(_h.symbol == symbol, _h.as_of >= start, _h.as_of < end)
        .order_by(_h.as_of)
        .limit(limit)
    )
    return found.all()


@functools.cache
def _bucket_statement(dialect: str, seconds: int) -> Any:
    """The rows that make each bucket's bar: its first (open), last (close), highest and lowest
    quote, each row with its bucket number, its ranks and the bucket's quote count.

    Picking rows instead of aggregating keeps prices exact on SQLite (stored as text there, so a
    MIN() would compare strings); the order for high and low is by the number (REAL on SQLite,
    for ordering only: the price returned is the row's exact one).
    """
    bucket: ColumnElement[Any]
    number: ColumnElement[Any]
    if dialect == "postgresql":
        epoch: ColumnElement[Any] = func.extract("epoch", _h.as_of)
        bucket = func.floor(epoch / seconds).cast(BigInteger)
        number = _h.price
    else:
        bucket = cast_(func.strftime("%s", _h.as_of), Integer) // seconds
        number = cast_(_h.price, Float)
    high, low = (number.desc(), _h.as_of), (number, _h.as_of)
    ranked = (
        select(
            *_POINT_COLUMNS,
            bucket.label("bucket"),
            func.row_number().over(partition_by=bucket, order_by=_h.as_of).label("first"),
            func.row_number().over(partition_by=bucket, order_by=_h.as_of.desc()).label("last"),
            func.row_number().over(partition_by=bucket, order_by=high).label("high"),
            func.row_number().over(partition_by=bucket, order_by=low).label("low"),
            func.count().over(partition_by=bucket).label("points"),
        )
        .where(
            _h.symbol == bindparam("b_symbol", type_=String()),
            _h.as_of >= bindparam("b_start", type_=UTCDateTime()),
            _h.as_of < bindparam("b_end", type_=UTCDateTime()),
        )
        .subquery("ranked")
    )
    r = ranked.c
    return (
        select(ranked)
        .where(or_(r.first == 1, r.last == 1, r.high == 1, r.low == 1))
        .order_by(r.bucket, r.as_of)
    )


async def quote_bucket_rows(
    session: AsyncSession, *, symbol: str, start: datetime, end: datetime, seconds: int
) -> Sequence[AnyRow]:
    """Per bucket of ``seconds`` (from the epoch, UTC), its open/close/high/low quote rows."""
    statement = _bucket_statement(dialect_name(session), seconds)
    found = await session.execute(statement, {"b_symbol": symbol, "b_start": start, "b_end": end})
    return found.all()
