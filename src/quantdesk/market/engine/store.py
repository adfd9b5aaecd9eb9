"""The store and quote history: the latest value of each (symbol, data type) with its
staleness against the TTL in force, and every fetched quote as a time series for charts.

Functions take the caller's session and never commit (a completion writes the queue row, the
store and the history together; see ``market.engine.service``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs.schemas import AnyRow
from quantdesk.kit.orm import as_utc
from quantdesk.market.engine import store_repository as repository
from quantdesk.market.engine.schemas import (
    Fetched,
    Interval,
    QuoteBar,
    QuotePointOut,
    StoredValue,
)

QUOTE = "quote"  # the data type whose values also go into quote history
MAX_HISTORY_POINTS = 10_000


def key(symbol: str | None) -> str:
    return symbol or ""  # "" stands for "no symbol" in the tables (see models.market_value)


def symbol_of(key: str) -> str | None:
    return key or None


def is_stale(fetched_at: datetime | None, ttl_seconds: int | None, now: datetime) -> bool:
    """No value, an unknown TTL, or fetched more than the TTL ago: stale (fail-safe)."""
    if fetched_at is None or ttl_seconds is None:
        return True
    return fetched_at + timedelta(seconds=ttl_seconds) < now


# --- The store ------------------------------------------------------------------------------


async def read_values(
    session: AsyncSession,
    pairs: Sequence[tuple[str | None, str]],
    *,
    ttls: Mapping[str, int],
    now: datetime,
) -> list[StoredValue]:
    """The stored value of each (symbol, data type), in the order asked; a pair never fetched
    answers no value, stale. ``ttls``: the data types' TTLs in force (the registry's)."""
    keys = list(dict.fromkeys((key(symbol), data_type) for symbol, data_type in pairs))
    found = {(row.symbol, row.data_type): row for row in await repository.get_values(session, keys)}
    answers = []
    for symbol, data_type in keys:
        row = found.get((symbol, data_type))
        ttl = ttls.get(data_type)
        if row is None:
            answers.append(StoredValue(symbol=symbol_of(symbol), data_type=data_type, stale=True))
            continue
        answers.append(
            StoredValue(
                symbol=symbol_of(symbol),
                data_type=data_type,
                value=row.value,
                source=row.provider,
                as_of=row.fetched_at,
                expires_at=row.expires_at,
                stale=is_stale(row.fetched_at, ttl, now),
            )
        )
    return answers


async def store_values(
    session: AsyncSession, fetched: Sequence[Fetched], *, ttls: Mapping[str, int]
) -> None:
    """Write fetched values into the store (never over a fresher one) and quotes into history."""
    values, points = [], []
    for item in fetched:
        value = to_jsonable_python(item.value)  # decimals as strings: no float touches them
        ttl = timedelta(seconds=ttls.get(item.data_type, 0))
        values.append(
            {
                "symbol": key(item.symbol), "data_type": item.data_type, "value": value,
                "provider": item.provider, "fetched_at": item.fetched_at,
                "expires_at": item.fetched_at + ttl,
            }
        )  # fmt: skip
        point = _quote_point(item, value)
        if point is not None:
            points.append(point)
    await repository.upsert_values(session, values)
    await repository.add_quote_points(session, points)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _quote_point(item: Fetched, value: Any) -> dict[str, Any] | None:
    if item.data_type != QUOTE or not item.symbol or not isinstance(value, dict):
        return None
    if value.get("price") is None:
        return None
    as_of = value.get("as_of")
    return {
        "symbol": item.symbol,
        "as_of": as_utc(datetime.fromisoformat(as_of))  # a provider's naive time: UTC
        if isinstance(as_of, str)
        else item.fetched_at,
        "price": _decimal(value["price"]),
        "change": _decimal(value.get("change")),
        "change_percent": _decimal(value.get("change_percent")),
        "volume": _decimal(value.get("volume")),
        "market_cap": _decimal(value.get("market_cap")),
        "currency": value.get("currency"),
        "provider": item.provider,
    }


# --- Quote history --------------------------------------------------------------------------


async def quote_history(
    session: AsyncSession,
    *,
    symbol: str,
    start: datetime,
    end: datetime,
    interval: Interval = Interval.RAW,
    limit: int = MAX_HISTORY_POINTS,
) -> list[QuotePointOut] | list[QuoteBar]:
    """Quotes of ``symbol`` in [start, end): each one (``raw``), or one bar per bucket."""
    if interval.seconds is None:
        rows = await repository.quote_points(
            session, symbol=symbol, start=start, end=end, limit=limit
        )
        return [_point(row) for row in rows]
    rows = await repository.quote_bucket_rows(
        session, symbol=symbol, start=start, end=end, seconds=interval.seconds
    )
    return _bars(rows, interval.seconds)[:limit]


def _point(row: AnyRow) -> QuotePointOut:
    return QuotePointOut(
        as_of=row.as_of, price=row.price, change=row.change, change_percent=row.change_percent,
        volume=row.volume, market_cap=row.market_cap, currency=row.currency, source=row.provider,
    )  # fmt: skip


def _bars(rows: Sequence[AnyRow], seconds: int) -> list[QuoteBar]:
    """Rows come by bucket then time, each the first, last, highest or lowest of its bucket."""
    by_bucket: dict[int, list[AnyRow]] = {}
    for row in rows:
        by_bucket.setdefault(int(row.bucket), []).append(row)
    bars = []
    for bucket, members in by_bucket.items():
        first = next(r for r in members if r.first == 1)
        last = next(r for r in members if r.last == 1)
        high = next(r for r in members if r.high == 1)
        low = next(r for r in members if r.low == 1)
        bars.append(
            QuoteBar(
                start=datetime.fromtimestamp(bucket * seconds, first.as_of.tzinfo),
                open=first.price, high=high.price, low=low.price, close=last.price,
                volume=last.volume, market_cap=last.market_cap, currency=last.currency,
                points=int(last.points), source=last.provider,
            )
        )  # fmt: skip
    return bars
