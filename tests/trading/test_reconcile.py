"""Reconcile: the journal rebuilt against the stored balances, and every difference reported."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from sqlalchemy import insert, update

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.models import JournalEntry, JournalTransaction, PaperAccount, Position
from quantdesk.trading import entries, journal, service
from tests.factories import Account
from tests.trading.helpers import API, move, open_account

D = Decimal


async def _reconcile(
    client: httpx.AsyncClient, user: Account, account_id: str
) -> dict[str, object]:
    response = await client.get(f"{API}/{account_id}/reconcile", headers=user.headers)
    assert response.status_code == 200, response.text
    data: dict[str, object] = response.json()["data"]
    return data


async def _buy(db: Database, user: Account, account_id: str, symbol: str, qty: str) -> None:
    async with db.transaction(user_id=user.user.id) as session:
        account = await service.get_account(
            session, owner_id=user.user.id, account_id=uuid.UUID(account_id)
        )
        legs = entries.fill_entries(symbol=symbol, qty=D(qty), price=D("10"))
        await journal.post_transaction(session, account, "fill", legs, price=D("10"))


async def _sell(
    db: Database, user: Account, account_id: str, symbol: str, qty: str, price: str
) -> None:
    async with db.transaction(user_id=user.user.id) as session:
        account = await service.get_account(
            session, owner_id=user.user.id, account_id=uuid.UUID(account_id)
        )
        legs = entries.fill_entries(symbol=symbol, qty=-D(qty), price=D(price))
        await journal.post_transaction(session, account, "fill", legs, price=D(price))


async def test_a_clean_account_is_balanced(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="1000")
    await move(client, alice, account["id"], "withdrawals", "100")
    await _buy(db, alice, account["id"], "AAPL", "5")
    await _buy(db, alice, account["id"], "MSFT", "2.5")
    report = await _reconcile(client, alice, account["id"])
    assert report == {
        "account_id": account["id"],
        "currency": "USD",
        "cash_ledger": "825",
        "cash_balance": "825",
        "cash_difference": "0",
        "positions": [
            {
                "symbol": "AAPL",
                "ledger_qty": "5",
                "stored_qty": "5",
                "difference": "0",
                "ledger_cost_basis": "50",
                "stored_cost_basis": "50",
                "ledger_realized_pnl": "0",
                "stored_realized_pnl": "0",
            },
            {
                "symbol": "MSFT",
                "ledger_qty": "2.5",
                "stored_qty": "2.5",
                "difference": "0",
                "ledger_cost_basis": "25",
                "stored_cost_basis": "25",
                "ledger_realized_pnl": "0",
                "stored_realized_pnl": "0",
            },
        ],
        "unbalanced_transactions": [],
        "balanced": True,
    }


async def test_an_empty_account_is_balanced(client: httpx.AsyncClient, alice: Account) -> None:
    account = await open_account(client, alice)
    report = await _reconcile(client, alice, account["id"])
    assert (report["cash_ledger"], report["positions"], report["balanced"]) == ("0", [], True)


async def test_a_stored_balance_that_drifted_from_the_journal_is_reported(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="100")
    await _buy(db, alice, account["id"], "AAPL", "3")
    aid = uuid.UUID(account["id"])
    # Behind the service's back: what a bug in a balance update would leave.
    async with db.transaction(user_id=alice.user.id) as session:
        await session.execute(update(PaperAccount).where(PaperAccount.id == aid).values(cash=D(71)))
        await session.execute(update(Position).where(Position.account_id == aid).values(qty=D(2)))
    report = await _reconcile(client, alice, account["id"])
    assert (report["cash_ledger"], report["cash_balance"]) == ("70", "71")
    assert report["cash_difference"] == "1"
    [check] = report["positions"]
    assert (check["ledger_qty"], check["stored_qty"], check["difference"]) == ("3", "2", "-1")
    assert report["balanced"] is False


async def test_a_cost_basis_that_drifted_from_the_fills_is_reported(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="100")
    await _buy(db, alice, account["id"], "AAPL", "3")
    await _sell(db, alice, account["id"], "AAPL", "1", "12")
    aid = uuid.UUID(account["id"])
    assert (await _reconcile(client, alice, account["id"]))["balanced"] is True
    async with db.transaction(user_id=alice.user.id) as session:
        await session.execute(
            update(Position).where(Position.account_id == aid).values(realized_pnl=D(0))
        )
    report = await _reconcile(client, alice, account["id"])
    [check] = report["positions"]
    assert (check["ledger_cost_basis"], check["stored_cost_basis"]) == ("20", "20")
    assert (check["ledger_realized_pnl"], check["stored_realized_pnl"]) == ("2", "0")
    assert check["difference"] == "0"
    assert report["balanced"] is False


async def test_an_unbalanced_transaction_written_behind_the_services_back_is_reported(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="100")
    aid, owner = uuid.UUID(account["id"]), alice.user.id
    bad = uuid.uuid4()
    async with db.transaction(user_id=owner) as session:
        await session.execute(
            insert(JournalTransaction).values(
                id=bad,
                account_id=aid,
                owner_id=owner,
                kind="correction",
                created_at=utcnow(),
            )
        )
        await session.execute(
            insert(JournalEntry).values(
                transaction_id=bad,
                account_id=aid,
                owner_id=owner,
                book="counterparty",
                instrument="USD",
                amount=D(5),
            )
        )
    report = await _reconcile(client, alice, account["id"])
    assert report["unbalanced_transactions"] == [str(bad)]
    assert report["cash_difference"] == "0"  # cash itself still agrees
    assert report["balanced"] is False
