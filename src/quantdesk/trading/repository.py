"""Every query of the trading domain; each one is scoped to the owning user.

Sums of decimals are exact on both engines: PostgreSQL adds NUMERIC in SQL; SQLite stores
decimals as text, and its SUM would go through floats, so there the rows are streamed and added
up as ``Decimal`` in Python.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from quantdesk.kit.db import dialect_name, upsert_into
from quantdesk.kit.pagination import newest_first
from quantdesk.models import (
    Book,
    EquitySnapshot,
    JournalEntry,
    JournalTransaction,
    PaperAccount,
    Position,
    TransactionKind,
)

Direction = Literal["asc", "desc"]


# --- Accounts and positions --------------------------------------------------------------------


async def get_account(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, lock: bool = False
) -> PaperAccount | None:
    """The account; ``lock`` takes its row lock (``FOR UPDATE`` on PostgreSQL; SQLite's write
    transaction already holds the database's) and reloads it, so balances read are current."""
    stmt = select(PaperAccount).where(
        PaperAccount.id == account_id, PaperAccount.owner_id == owner_id
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_accounts(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[PaperAccount]:
    """Newest first; ``before`` is the (created_at, id) of the previous page's last row."""
    stmt = select(PaperAccount).where(PaperAccount.owner_id == owner_id)
    stmt = newest_first(stmt, PaperAccount, before=before, limit=limit)
    return list((await session.execute(stmt)).scalars().all())


async def list_positions(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> list[Position]:
    """Every position row of the account (closed ones too), by symbol."""
    result = await session.execute(
        select(Position)
        .where(Position.account_id == account_id, Position.owner_id == owner_id)
        .order_by(Position.symbol)
    )
    return list(result.scalars().all())


async def get_position(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, symbol: str
) -> Position | None:
    """The position, reloaded (callers hold the account's lock, which guards its positions)."""
    result = await session.execute(
        select(Position)
        .where(
            Position.account_id == account_id,
            Position.owner_id == owner_id,
            Position.symbol == symbol,
        )
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


# --- Journal -----------------------------------------------------------------------------------


async def get_transaction(
    session: AsyncSession, *, owner_id: uuid.UUID, transaction_id: uuid.UUID
) -> JournalTransaction | None:
    result = await session.execute(
        select(JournalTransaction).where(
            JournalTransaction.id == transaction_id, JournalTransaction.owner_id == owner_id
        )
    )
    return result.scalar_one_or_none()


async def get_transaction_by_key(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, key: str
) -> JournalTransaction | None:
    result = await session.execute(
        select(JournalTransaction).where(
            JournalTransaction.account_id == account_id,
            JournalTransaction.owner_id == owner_id,
            JournalTransaction.idempotency_key == key,
        )
    )
    return result.scalar_one_or_none()


async def get_reversal(
    session: AsyncSession, *, owner_id: uuid.UUID, transaction_id: uuid.UUID
) -> JournalTransaction | None:
    result = await session.execute(
        select(JournalTransaction).where(
            JournalTransaction.reverses_id == transaction_id,
            JournalTransaction.owner_id == owner_id,
        )
    )
    return result.scalar_one_or_none()


async def entries_of(
    session: AsyncSession, *, owner_id: uuid.UUID, transaction_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[JournalEntry]]:
    """The entries of each transaction, in posting order (one query for a page of them)."""
    found: dict[uuid.UUID, list[JournalEntry]] = {tid: [] for tid in transaction_ids}
    if not transaction_ids:
        return found
    result = await session.execute(
        select(JournalEntry)
        .where(
            JournalEntry.transaction_id.in_(list(transaction_ids)),
            JournalEntry.owner_id == owner_id,
        )
        .order_by(JournalEntry.id)
    )
    for entry in result.scalars():
        found[entry.transaction_id].append(entry)
    return found


@dataclass(frozen=True)
class FillRow:
    transaction_id: uuid.UUID
    symbol: str
    qty: Decimal  # signed: + bought, - sold
    cash: Decimal  # signed: - paid, + received
    price: Decimal | None


async def effective_fills(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    symbol: str | None = None,
) -> list[FillRow]:
    """Every fill not reversed (of ``symbol``, or of every symbol), in posting order: what each
    position is the average-cost fold of."""
    position, cash = aliased(JournalEntry), aliased(JournalEntry)
    reversal = aliased(JournalTransaction)
    reversed_ = exists().where(reversal.reverses_id == JournalTransaction.id)
    result = await session.execute(
        select(
            JournalTransaction.id,
            position.instrument,
            position.amount,
            cash.amount,
            JournalTransaction.price,
        )
        .join(JournalTransaction, JournalTransaction.id == position.transaction_id)
        .join(cash, (cash.transaction_id == JournalTransaction.id) & (cash.book == Book.CASH))
        .where(
            position.account_id == account_id,
            position.owner_id == owner_id,
            position.book == Book.POSITION,
            JournalTransaction.kind == TransactionKind.FILL,
            ~reversed_,
            *([position.instrument == symbol] if symbol is not None else []),
        )
        .order_by(position.id)
    )
    return [FillRow(*row) for row in result.all()]


@dataclass
class LedgerTotals:
    """An account's balances rebuilt from its journal alone."""

    cash: dict[str, Decimal] = field(default_factory=dict)  # currency -> cash book sum
    positions: dict[str, Decimal] = field(default_factory=dict)  # symbol -> position book sum
    unbalanced: list[uuid.UUID] = field(default_factory=list)  # transaction ids


_BALANCE_BOOKS = (Book.CASH, Book.POSITION)


async def ledger_totals(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> LedgerTotals:
    """The cash and position books summed per instrument, and the transactions whose entries
    do not sum to zero per instrument."""
    if dialect_name(session) == "postgresql":
        return await _ledger_totals_in_sql(session, owner_id=owner_id, account_id=account_id)
    return await _ledger_totals_in_python(session, owner_id=owner_id, account_id=account_id)


def _of_account(owner_id: uuid.UUID, account_id: uuid.UUID) -> list[ColumnElement[bool]]:
    return [JournalEntry.account_id == account_id, JournalEntry.owner_id == owner_id]


async def _ledger_totals_in_sql(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> LedgerTotals:
    totals = LedgerTotals()
    books = await session.execute(
        select(JournalEntry.book, JournalEntry.instrument, func.sum(JournalEntry.amount))
        .where(*_of_account(owner_id, account_id), JournalEntry.book.in_(_BALANCE_BOOKS))
        .group_by(JournalEntry.book, JournalEntry.instrument)
    )
    for book, instrument, total in books.all():
        target = totals.cash if book == Book.CASH else totals.positions
        target[instrument] = Decimal(total)
    unbalanced = await session.execute(
        select(JournalEntry.transaction_id)
        .where(*_of_account(owner_id, account_id))
        .group_by(JournalEntry.transaction_id, JournalEntry.instrument)
        .having(func.sum(JournalEntry.amount) != 0)
        .distinct()
    )
    totals.unbalanced = sorted(set(unbalanced.scalars().all()))
    return totals


async def _ledger_totals_in_python(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> LedgerTotals:
    totals = LedgerTotals()
    books: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    per_transaction: dict[tuple[uuid.UUID, str], Decimal] = defaultdict(Decimal)
    rows = await session.stream(
        select(
            JournalEntry.transaction_id,
            JournalEntry.book,
            JournalEntry.instrument,
            JournalEntry.amount,
        ).where(*_of_account(owner_id, account_id))
    )
    async for transaction_id, book, instrument, amount in rows:
        per_transaction[(transaction_id, instrument)] += amount
        if book in _BALANCE_BOOKS:
            books[(book, instrument)] += amount
    for (book, instrument), total in books.items():
        target = totals.cash if book == Book.CASH else totals.positions
        target[instrument] = total
    totals.unbalanced = sorted({tid for (tid, _), total in per_transaction.items() if total != 0})
    return totals


async def list_transactions(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    kinds: Collection[str],
    after: datetime | None,
    until: datetime | None,
    direction: Direction,
    limit: int,
    start: tuple[datetime, uuid.UUID] | None,
) -> list[JournalTransaction]:
    """A page of the account's transactions of ``kinds``, strictly between ``after`` and
    ``until``, in (created_at, id) order ``direction``, starting past the keyset ``start``."""
    t = JournalTransaction
    stmt = select(t).where(t.account_id == account_id, t.owner_id == owner_id)
    stmt = stmt.where(t.kind.in_(list(kinds)))
    if after is not None:
        stmt = stmt.where(t.created_at > after)
    if until is not None:
        stmt = stmt.where(t.created_at < until)
    if start is not None:
        created_at, transaction_id = start
        if direction == "asc":
            stmt = stmt.where(
                (t.created_at > created_at)
                | ((t.created_at == created_at) & (t.id > transaction_id))
            )
        else:
            stmt = stmt.where(
                (t.created_at < created_at)
                | ((t.created_at == created_at) & (t.id < transaction_id))
            )
    order = (
        (t.created_at.asc(), t.id.asc())
        if direction == "asc"
        else (
            t.created_at.desc(),
            t.id.desc(),
        )
    )
    result = await session.execute(stmt.order_by(*order).limit(limit))
    return list(result.scalars().all())


# --- Dividends ------------------------------------------------------------------------------------


async def holdings_ever(session: AsyncSession) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(owner, account, symbol) of every position ever opened (system context: the dividend
    run; a position sold out since may still be owed a dividend)."""
    found = await session.execute(
        select(Position.owner_id, Position.account_id, Position.symbol).order_by(
            Position.symbol, Position.account_id
        )
    )
    return [(owner, account, symbol) for owner, account, symbol in found.all()]


async def qty_held_before(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    symbol: str,
    before: datetime,
) -> Decimal:
    """The quantity of ``symbol`` the journal shows held just before ``before`` (summed as
    Decimal in Python: exact on SQLite too, and a position has few entries)."""
    rows = await session.execute(
        select(JournalEntry.amount)
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(
            *_of_account(owner_id, account_id),
            JournalEntry.book == Book.POSITION,
            JournalEntry.instrument == symbol,
            JournalTransaction.created_at < before,
        )
    )
    return sum((Decimal(amount) for amount in rows.scalars()), Decimal(0))


# --- Equity snapshots -----------------------------------------------------------------------------


async def all_accounts(session: AsyncSession) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(owner, account) of every paper account (system context: the snapshot job)."""
    found = await session.execute(select(PaperAccount.owner_id, PaperAccount.id))
    return [(owner, account) for owner, account in found.all()]


async def net_deposits(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> Decimal:
    """Deposits minus withdrawals so far: the cash entries of those transactions (summed as
    Decimal in Python, exact on SQLite too)."""
    rows = await session.execute(
        select(JournalEntry.amount)
        .join(JournalTransaction, JournalTransaction.id == JournalEntry.transaction_id)
        .where(
            *_of_account(owner_id, account_id),
            JournalEntry.book == Book.CASH,
            JournalTransaction.kind.in_([TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL]),
        )
    )
    return sum((Decimal(amount) for amount in rows.scalars()), Decimal(0))


async def save_snapshot(session: AsyncSession, row: dict[str, object]) -> None:
    """Today's snapshot of an account, replacing an earlier one of the same day."""
    stmt = upsert_into(session, EquitySnapshot.__table__).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[EquitySnapshot.account_id, EquitySnapshot.day],
        set_={
            "equity": stmt.excluded.equity,
            "cash": stmt.excluded.cash,
            "long_market_value": stmt.excluded.long_market_value,
            "net_deposits": stmt.excluded.net_deposits,
            "taken_at": stmt.excluded.taken_at,
        },
    )
    await session.execute(stmt)


async def snapshots(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> list[EquitySnapshot]:
    found = await session.execute(
        select(EquitySnapshot)
        .where(EquitySnapshot.account_id == account_id, EquitySnapshot.owner_id == owner_id)
        .order_by(EquitySnapshot.day)
    )
    return list(found.scalars().all())
