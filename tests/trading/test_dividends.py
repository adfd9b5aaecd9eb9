"""Dividends from the engine's dividend-history, credited on their payment date to the shares held
before their ex-date, once however often the credit runs, as DIV activities that reconcile."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal as D

import httpx
import pytest
from fastapi import FastAPI

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import Fetched
from quantdesk.models import TransactionKind
from quantdesk.trading import dividends, entries, journal
from tests.factories import Account
from tests.market.engine.conftest import empty_engine_tables
from tests.trading.helpers import API, assert_invariants, open_account

SYMBOL = "TSTDIV"


@pytest.fixture
async def quotes_emptied(db: Database) -> AsyncIterator[None]:
    await empty_engine_tables(db)
    yield
    await empty_engine_tables(db)


async def _history(db: Database, *items: dict[str, str]) -> None:
    value = [{"symbol": SYMBOL, "source": "sim", **item} for item in items]
    async with db.transaction(system=True) as session:
        await store.store_values(
            session,
            [Fetched(SYMBOL, dividends.DIVIDENDS, "sim", value, fetched_at=utcnow())],
            ttls={dividends.DIVIDENDS: 86400},
        )


async def _buy(db: Database, user: Account, account_id: str, qty: str) -> None:
    """A fill as the orders work posts it (now)."""
    async with db.transaction(user_id=user.user.id) as session:
        account = await journal.lock_account(
            session, owner_id=user.user.id, account_id=uuid.UUID(account_id)
        )
        await journal.post_transaction(
            session, account, TransactionKind.FILL,
            entries.fill_entries(symbol=SYMBOL, qty=D(qty), price=D("50")), price=D("50"),
        )  # fmt: skip


async def test_a_dividend_is_paid_once_to_the_shares_held_before_its_ex_date(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account, quotes_emptied: None
) -> None:
    account = await open_account(client, alice, cash="10000")
    await _buy(db, alice, account["id"], "30")
    today = utcnow().date()
    await _history(
        db,
        # Ex today: the shares were bought on the ex-date, so nothing is owed for it.
        {"ex_date": today.isoformat(), "amount": "0.50", "payment_date": today.isoformat()},
        {
            "ex_date": (today + dt.timedelta(days=1)).isoformat(),
            "amount": "0.245",
            "payment_date": (today + dt.timedelta(days=3)).isoformat(),
        },
    )
    runtime, settings = app.state.market, app.state.settings
    before_pay = await dividends.credit(db, runtime, settings, today=today + dt.timedelta(days=2))
    assert before_pay.paid == 0  # not yet its payment date
    paid = await dividends.credit(db, runtime, settings, today=today + dt.timedelta(days=3))
    assert (paid.paid, paid.amounts) == (1, {SYMBOL: D("7.35")})  # 30 x 0.245
    again = await dividends.credit(db, runtime, settings, today=today + dt.timedelta(days=9))
    assert (again.paid, again.already_paid) == (0, 1)

    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == D(10000) - D(1500) + D("7.35")
    listed = await client.get(
        f"{API}/{account['id']}/activities", params={"types": "DIV"}, headers=alice.headers
    )
    (activity,) = listed.json()["data"]["items"]
    assert activity["symbol"] == SYMBOL


async def test_a_position_never_held_before_the_ex_date_gets_nothing(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account, quotes_emptied: None
) -> None:
    account = await open_account(client, alice, cash="10000")
    await _buy(db, alice, account["id"], "10")
    yesterday = utcnow().date() - dt.timedelta(days=1)
    await _history(db, {"ex_date": yesterday.isoformat(), "amount": "1"})  # no payment date
    found = await dividends.credit(db, app.state.market, app.state.settings, today=utcnow().date())
    assert (found.symbols, found.paid) == (1, 0)
    assert dividends.declared(SYMBOL, [{"ex_date": "not a date", "amount": "1"}]) == []
