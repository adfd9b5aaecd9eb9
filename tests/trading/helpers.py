"""Helpers for paper-trading tests: API shortcuts and what the database holds for an account."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.models import JournalEntry, JournalTransaction, PaperAccount, Position
from quantdesk.trading import reconcile
from tests.factories import Account

API = "/api/v1/accounts"


async def open_account(
    client: httpx.AsyncClient, user: Account, name: str = "Main", cash: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if cash is not None:
        body["starting_cash"] = cash
    response = await client.post(API, json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def move(
    client: httpx.AsyncClient,
    user: Account,
    account_id: str,
    kind: str,
    amount: str,
    key: str | None = None,
) -> httpx.Response:
    """POST a deposit (``kind="deposits"``) or withdrawal (``"withdrawals"``)."""
    body = {"amount": amount, "idempotency_key": key or uuid.uuid4().hex}
    return await client.post(f"{API}/{account_id}/{kind}", json=body, headers=user.headers)


@dataclass
class Ledger:
    """Everything stored for one account, read without the service."""

    account: PaperAccount
    transactions: list[JournalTransaction]
    entries: list[JournalEntry]
    positions: list[Position]

    def sums_per_transaction_and_instrument(self) -> dict[tuple[uuid.UUID, str], Decimal]:
        sums: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
        for entry in self.entries:
            sums[(entry.transaction_id, entry.instrument)] += entry.amount
        return dict(sums)

    def book(self, book: str, instrument: str = "USD") -> Decimal:
        return sum(
            (e.amount for e in self.entries if e.book == book and e.instrument == instrument),
            Decimal(0),
        )


async def ledger(db: Database, user: Account, account_id: str | uuid.UUID) -> Ledger:
    account_uuid = uuid.UUID(str(account_id))
    async with db.transaction(user_id=user.user.id) as session:
        account = (
            await session.execute(select(PaperAccount).where(PaperAccount.id == account_uuid))
        ).scalar_one()
        transactions = list(
            (
                await session.execute(
                    select(JournalTransaction)
                    .where(JournalTransaction.account_id == account_uuid)
                    .order_by(JournalTransaction.created_at)
                )
            ).scalars()
        )
        entries = list(
            (
                await session.execute(
                    select(JournalEntry)
                    .where(JournalEntry.account_id == account_uuid)
                    .order_by(JournalEntry.id)
                )
            ).scalars()
        )
        positions = list(
            (
                await session.execute(select(Position).where(Position.account_id == account_uuid))
            ).scalars()
        )
    return Ledger(account, transactions, entries, positions)


async def assert_invariants(db: Database, user: Account, account_id: str | uuid.UUID) -> Ledger:
    """The ledger's rules, checked from the rows themselves and through ``reconcile``."""
    found = await ledger(db, user, account_id)
    assert found.account.cash >= 0
    assert found.account.reserved >= 0
    assert all(total == 0 for total in found.sums_per_transaction_and_instrument().values())
    assert found.book("cash") == found.account.cash
    for position in found.positions:
        assert found.book("position", position.symbol) == position.qty
    async with db.transaction(user_id=user.user.id) as session:
        report = await reconcile.reconcile(
            session, owner_id=user.user.id, account_id=uuid.UUID(str(account_id))
        )
    assert report.balanced, report
    return found
