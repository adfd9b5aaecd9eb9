"""The double-entry journal: every movement of money or shares is a transaction of entries.

Within a transaction the entries of each instrument sum to zero (the service refuses anything
else). Rows are never updated or deleted: a mistake is undone by a correcting transaction that
``reverses_id`` the original (on PostgreSQL a trigger refuses UPDATE and DELETE, on SQLite
UPDATE). ``owner_id`` is repeated on every row so row-level security needs no join.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, UUIDPrimaryKey, utcnow


class TransactionKind:
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    FILL = "fill"
    FEE = "fee"
    DIVIDEND = "dividend"
    CORRECTION = "correction"

    ALL = (DEPOSIT, WITHDRAWAL, FILL, FEE, DIVIDEND, CORRECTION)


class Book:
    """Where an entry's amount sits: the account's own books, or the world outside it."""

    CASH = "cash"
    POSITION = "position"
    COUNTERPARTY = "counterparty"  # the bank, the market: whoever is on the other side
    FEES = "fees"
    DIVIDENDS = "dividends"

    ALL = (CASH, POSITION, COUNTERPARTY, FEES, DIVIDENDS)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class JournalTransaction(UUIDPrimaryKey, Base):
    __tablename__ = "journal_transactions"
    __table_args__ = (
        CheckConstraint(_one_of("kind", TransactionKind.ALL), name="kind_known"),
        # NULL keys never collide: only requests that sent a key are deduplicated.
        Index(
            "uq_journal_transactions_account_id_idempotency_key",
            "account_id",
            "idempotency_key",
            unique=True,
        ),
        # Activities: an account's transactions in time order (keyset pages).
        Index("ix_journal_transactions_account_time", "account_id", "created_at", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("paper_accounts.id", ondelete="CASCADE")
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    # The asset a fill or dividend is about; None for pure cash movements.
    symbol: Mapped[str | None] = mapped_column(String(32))
    # A fill's execution price (per unit, in the account's currency).
    price: Mapped[Decimal | None]
    reference: Mapped[str | None] = mapped_column(String(200))
    memo: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # A correction that undoes another transaction; each transaction is reversed at most once.
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("journal_transactions.id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint(_one_of("book", Book.ALL), name="book_known"),
        # Reconcile sums an account's entries per book and instrument.
        Index("ix_journal_entries_account_book", "account_id", "book", "instrument"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("journal_transactions.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("paper_accounts.id", ondelete="CASCADE")
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    book: Mapped[str] = mapped_column(String(16))
    # The currency code ("USD") or an asset symbol.
    instrument: Mapped[str] = mapped_column(String(32))
    # Signed: what the book gained (+) or gave (-).
    amount: Mapped[Decimal]
