"""Equity history and returns of paper accounts.

A snapshot a day (the job ``snapshot_paper_equity`` keeps today's current; the last of the day
wins) records equity (cash plus positions at the engine's latest quotes), cash and the net
deposits so far. From them:

- **Time-weighted return** chains each day's return with the day's deposits and withdrawals
  taken out, ``(equity_t - flow_t) / equity_(t-1) - 1`` (flows counted at the end of the day): what
  the trading earned, whatever money came and went. Over the period, not annualized.
- **Money-weighted return** is the internal rate of return of the money itself: the first
  equity and every deposit in, every withdrawal and the last equity out, dated, solved for the
  rate over the period that makes their value zero (an XIRR whose unit is the period, so both
  returns cover the same span; over a year it is the annual IRR). It rewards adding money
  before a rise.

Both are None when the period holds no capital to measure (fewer than two snapshots with
equity). Rates are computed in floats (a rate is an estimate, not money) and reported rounded.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import Database
from quantdesk.kit.errors import InvalidInput
from quantdesk.market.schemas import ExactDecimal
from quantdesk.trading import repository, service

ZERO = Decimal(0)
PERIODS: dict[str, int | None] = {"1W": 7, "1M": 30, "3M": 91, "6M": 182, "1Y": 365, "all": None}


@dataclass(frozen=True)
class Point:
    day: dt.date
    equity: Decimal
    net_deposits: Decimal  # cumulative, through this day


def time_weighted(points: Sequence[Point]) -> float | None:
    growth, measured = 1.0, 0
    for before, after in itertools.pairwise(points):
        if before.equity <= 0:
            continue  # nothing was invested that day: no return to chain
        flow = after.net_deposits - before.net_deposits
        growth *= float((after.equity - flow) / before.equity)
        measured += 1
    return growth - 1 if measured else None


def money_weighted(points: Sequence[Point]) -> float | None:
    """The money-weighted return over ``points``: the rate, over the whole period, that makes the
    first equity and every deposit (in), every withdrawal and the last equity (out) worth zero,
    each discounted by the share of the period that had passed (an XIRR with the period as its
    unit, so it sits beside the time-weighted return; over a year it is the annual IRR)."""
    if len(points) < 2:
        return None
    start, span = points[0].day, (points[-1].day - points[0].day).days
    if span <= 0 or (points[0].equity <= 0 and all(p.net_deposits == 0 for p in points)):
        return None
    flows: list[tuple[float, float]] = [(0.0, -float(points[0].equity))]
    for before, after in itertools.pairwise(points):
        added = float(after.net_deposits - before.net_deposits)
        if added:
            flows.append(((after.day - start).days / span, -added))
    flows.append((1.0, float(points[-1].equity)))

    def value(rate: float) -> float:
        return math.fsum(amount / math.pow(1 + rate, share) for share, amount in flows)

    low, high = -0.9999, 1000.0
    if value(low) * value(high) > 0:
        return None  # no rate in a sane range balances these flows
    for _ in range(200):  # bisection: slow but never diverges
        middle = (low + high) / 2
        if value(low) * value(middle) <= 0:
            high = middle
        else:
            low = middle
        if high - low < 1e-12:
            break
    return (low + high) / 2


def window(points: Sequence[Point], period: str, today: dt.date) -> list[Point]:
    days = PERIODS[period]
    if days is None:
        return list(points)
    start = today - dt.timedelta(days=days)
    return [p for p in points if p.day >= start]


# --- Snapshots, history and returns of an account -------------------------------------------------


class HistoryPoint(BaseModel):
    day: dt.date
    equity: ExactDecimal
    cash: ExactDecimal
    long_market_value: ExactDecimal
    net_deposits: ExactDecimal = Field(description="Deposits minus withdrawals so far")
    profit_loss: ExactDecimal = Field(description="Equity minus net deposits")


class EquityHistory(BaseModel):
    period: str
    timeframe: str
    points: list[HistoryPoint] = Field(
        description="One per day (its last snapshot); the last one is now, at current quotes"
    )


class Performance(BaseModel):
    period: str
    start: dt.date | None
    end: dt.date | None
    time_weighted_return: float | None = Field(
        description="Over the period, deposits and withdrawals taken out: 0.05 = +5 %"
    )
    money_weighted_return: float | None = Field(
        description="Internal rate of return of the money put in, over the period (XIRR with "
        "the period as its unit): 0.05 = +5 %"
    )
    profit_loss: ExactDecimal | None = Field(description="Change in equity minus net deposits")


async def snapshot(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    now: dt.datetime,
    stale_after_seconds: float,
) -> HistoryPoint:
    """Today's snapshot of the account at the engine's latest quotes (saved; the last of a day
    wins) and the point it makes."""
    detail = await service.get_account_detail(
        session, owner_id=owner_id, account_id=account_id, stale_after_seconds=stale_after_seconds
    )
    deposits = await repository.net_deposits(session, owner_id=owner_id, account_id=account_id)
    point = HistoryPoint(
        day=now.date(), equity=detail.equity, cash=detail.cash,
        long_market_value=detail.long_market_value, net_deposits=deposits,
        profit_loss=detail.equity - deposits,
    )  # fmt: skip
    await repository.save_snapshot(
        session,
        {
            "account_id": account_id, "day": point.day, "owner_id": owner_id,
            "equity": point.equity, "cash": point.cash,
            "long_market_value": point.long_market_value, "net_deposits": deposits,
            "taken_at": now,
        },
    )  # fmt: skip
    return point


async def snapshot_all(db: Database, *, now: dt.datetime, stale_after_seconds: float) -> int:
    """Today's snapshot of every account, each in its owner's short transaction; how many."""
    async with db.transaction(system=True, readonly=True) as session:
        accounts = await repository.all_accounts(session)
    for owner_id, account_id in accounts:
        async with db.transaction(user_id=owner_id) as session:
            await snapshot(
                session, owner_id=owner_id, account_id=account_id, now=now,
                stale_after_seconds=stale_after_seconds,
            )  # fmt: skip
    return len(accounts)


async def _points(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    now: dt.datetime,
    stale_after_seconds: float,
) -> list[HistoryPoint]:
    """Every day's snapshot, today's taken now (so the last point is current)."""
    today = await snapshot(
        session, owner_id=owner_id, account_id=account_id, now=now,
        stale_after_seconds=stale_after_seconds,
    )  # fmt: skip
    rows = await repository.snapshots(session, owner_id=owner_id, account_id=account_id)
    points = [
        HistoryPoint(
            day=r.day, equity=r.equity, cash=r.cash, long_market_value=r.long_market_value,
            net_deposits=r.net_deposits, profit_loss=r.equity - r.net_deposits,
        )
        for r in rows
        if r.day != today.day
    ]  # fmt: skip
    return [*points, today]


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise InvalidInput(
            f"period is one of {', '.join(PERIODS)}", field="period", reason="unknown period"
        )


async def history(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    period: str,
    now: dt.datetime,
    stale_after_seconds: float,
) -> EquityHistory:
    _check_period(period)
    points = await _points(
        session, owner_id=owner_id, account_id=account_id, now=now,
        stale_after_seconds=stale_after_seconds,
    )  # fmt: skip
    start = window([Point(p.day, p.equity, p.net_deposits) for p in points], period, now.date())
    first = start[0].day if start else now.date()
    return EquityHistory(
        period=period, timeframe="1D", points=[p for p in points if p.day >= first]
    )


async def performance(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    period: str,
    now: dt.datetime,
    stale_after_seconds: float,
) -> Performance:
    _check_period(period)
    found = await _points(
        session, owner_id=owner_id, account_id=account_id, now=now,
        stale_after_seconds=stale_after_seconds,
    )  # fmt: skip
    points = window([Point(p.day, p.equity, p.net_deposits) for p in found], period, now.date())
    if not points:
        return Performance(
            period=period, start=None, end=None, time_weighted_return=None,
            money_weighted_return=None, profit_loss=None,
        )  # fmt: skip
    first, last = points[0], points[-1]
    gained = (last.equity - first.equity) - (last.net_deposits - first.net_deposits)
    return Performance(
        period=period, start=first.day, end=last.day,
        time_weighted_return=_rounded(time_weighted(points)),
        money_weighted_return=_rounded(money_weighted(points)), profit_loss=gained,
    )  # fmt: skip


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 6)
