"""Returns of paper accounts: time-weighted (deposits and withdrawals taken out) and money-weighted
(XIRR) side by side, right after deposits, withdrawals and a full sale; the history's daily points
and its live last point, through the API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal as D

import httpx
import pytest
from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.models import EquitySnapshot
from quantdesk.trading.performance import Point, money_weighted, time_weighted, window
from tests.factories import Account
from tests.trading.helpers import API, move, open_account

DAY = dt.date(2026, 1, 1)


def _p(days: int, equity: str, deposits: str) -> Point:
    return Point(DAY + dt.timedelta(days=days), D(equity), D(deposits))


def test_time_weighted_ignores_the_money_that_came_and_went() -> None:
    points = [
        _p(0, "1000", "1000"),
        _p(1, "1100", "1000"),  # +10 %
        _p(2, "2100", "2000"),  # a deposit of 1,000, no gain
        _p(3, "2310", "2000"),  # +10 %
        _p(4, "1310", "1000"),  # a withdrawal of 1,000, no gain
    ]
    assert time_weighted(points) == pytest.approx(1.1 * 1.0 * 1.1 * 1.0 - 1)


def test_a_full_sale_and_withdrawal_leave_the_return_as_earned() -> None:
    points = [
        _p(0, "1000", "1000"),
        _p(1, "1200", "1000"),  # +20 %, then everything sold and withdrawn:
        _p(2, "0", "-200"),
        _p(3, "0", "-200"),  # an empty account earns nothing and does not divide by zero
    ]
    assert time_weighted(points) == pytest.approx(0.2)


def test_money_weighted_rewards_money_added_before_a_rise() -> None:
    # Early: 1,000 more goes in at mid-year, then everything gains 10 %. Late: the first 1,000
    # gains 10 %, then 1,000 more goes in at the end of the year.
    early = [_p(0, "1000", "1000"), _p(182, "2000", "2000"), _p(365, "2200", "2000")]
    late = [_p(0, "1000", "1000"), _p(182, "1100", "1000"), _p(365, "2100", "2000")]
    # Same trading return (+10 % over the year)...
    assert time_weighted(early) == pytest.approx(0.1)
    assert time_weighted(late) == pytest.approx(0.1)
    mwr_early, mwr_late = money_weighted(early), money_weighted(late)
    assert mwr_early is not None
    assert mwr_late is not None
    # ...but the money did better when more of it was in before the rise.
    assert mwr_late == pytest.approx(0.1, abs=1e-6)  # a deposit at the very end earns nothing
    assert mwr_early > 0.12
    # A year at +10 % with one deposit at the start: the IRR is exactly 10 %.
    assert money_weighted([_p(0, "1000", "1000"), _p(365, "1100", "1000")]) == pytest.approx(
        0.1, abs=1e-6
    )


def test_nothing_to_measure_is_none_and_periods_cut_the_points() -> None:
    assert time_weighted([_p(0, "0", "0"), _p(1, "0", "0")]) is None
    assert money_weighted([_p(0, "1000", "1000")]) is None
    points = [_p(0, "1", "1"), _p(20, "1", "1"), _p(40, "1", "1")]
    assert [p.day for p in window(points, "1M", DAY + dt.timedelta(days=40))] == [
        DAY + dt.timedelta(days=20), DAY + dt.timedelta(days=40),
    ]  # fmt: skip
    assert window(points, "all", DAY) == points


async def test_history_and_performance_through_the_api(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="1000")
    account_id = uuid.UUID(str(account["id"]))
    today = utcnow().date()
    async with db.transaction(user_id=alice.user.id) as session:
        # Ten days ago the account held 800 of its 1,000; five days ago it doubled (TWR +100 %).
        for days, equity in ((10, "800"), (5, "1600")):
            session.add(
                EquitySnapshot(
                    account_id=account_id, day=today - dt.timedelta(days=days),
                    owner_id=alice.user.id, equity=D(equity), cash=D(equity),
                    long_market_value=D(0), net_deposits=D(1000), taken_at=utcnow(),
                )
            )  # fmt: skip
    await move(client, alice, str(account_id), "deposits", "500")
    history = await client.get(f"{API}/{account_id}/history?period=1M", headers=alice.headers)
    assert history.status_code == 200, history.text
    points = history.json()["data"]["points"]
    assert [p["equity"] for p in points] == ["800", "1600", "1500"]
    assert points[-1]["day"] == today.isoformat()  # now, at current quotes
    assert points[-1]["net_deposits"] == "1500"
    found = await client.get(f"{API}/{account_id}/performance?period=1M", headers=alice.headers)
    perf = found.json()["data"]
    # 800 -> 1600 (x2), then 1600 -> 1500 with 500 deposited: (1500 - 500) / 1600.
    assert perf["time_weighted_return"] == pytest.approx(2 * (1000 / 1600) - 1, abs=1e-6)
    # The money: 800 in at the start, 500 more and 1,500 out at the end: +25 % over the period.
    assert perf["money_weighted_return"] == pytest.approx(0.25, abs=1e-6)
    assert D(perf["profit_loss"]) == D(1500) - D(800) - D(500)
    bad = await client.get(f"{API}/{account_id}/performance?period=2W", headers=alice.headers)
    assert bad.status_code == 422
    async with db.transaction(user_id=alice.user.id, readonly=True) as session:
        stored = (await session.execute(select(EquitySnapshot))).scalars().all()
    assert len(stored) == 3  # today's was saved (the last of the day wins)
