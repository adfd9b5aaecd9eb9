"""Paper-trading accounts and their positions: the balances the journal moves.

Every balance here is also the sum of journal entries (``journal_entries``); the rows exist so a
check ("can this withdrawal be paid?") reads one locked row instead of summing the whole journal.
``reconcile`` proves the two agree. On SQLite decimals are stored as text (see ``ExactDecimal``),
so the CHECK constraints compare ``CAST(… AS NUMERIC)``: a text comparison would order "10" before
"9". On PostgreSQL the cast is a no-op.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin, UUIDPrimaryKey, utcnow

ZERO = Decimal(0)


def _num(column: str) -> str:
    return f"CAST({column} AS NUMERIC)"


class PaperAccount(UUIDPrimaryKey, TimestampMixin, Base):
    """A simulated brokerage account: cash in its base currency, part of it reserved for orders."""

    __tablename__ = "paper_accounts"
    __table_args__ = (
        # The last line of defence: the service refuses first, under the account's row lock.
        CheckConstraint(f"{_num('cash')} >= 0", name="cash_not_negative"),
        CheckConstraint(f"{_num('reserved')} >= 0", name="reserved_not_negative"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    cash: Mapped[Decimal] = mapped_column(default=ZERO)
    # Promised to open buy orders: buying power is cash - reserved.
    reserved: Mapped[Decimal] = mapped_column(default=ZERO)


class Position(Base):
    """What an account holds of one symbol (long only), at average cost.

    A row stays after the position is sold out (qty 0): its realized P&L is history.
    """

    __tablename__ = "positions"
    __table_args__ = (
        CheckConstraint(f"{_num('qty')} >= 0", name="qty_not_negative"),
        CheckConstraint(f"{_num('reserved_qty')} >= 0", name="reserved_qty_not_negative"),
        CheckConstraint(f"{_num('reserved_qty')} <= {_num('qty')}", name="reserved_within_qty"),
        CheckConstraint(f"{_num('cost_basis')} >= 0", name="cost_basis_not_negative"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("paper_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    qty: Mapped[Decimal] = mapped_column(default=ZERO)
    # What the held quantity cost in all (average cost: a sale removes its share of it).
    cost_basis: Mapped[Decimal] = mapped_column(default=ZERO)
    realized_pnl: Mapped[Decimal] = mapped_column(default=ZERO)
    # Promised to open sell orders.
    reserved_qty: Mapped[Decimal] = mapped_column(default=ZERO)
    # The price of the latest fill: the valuation used until quotes are passed in.
    last_fill_price: Mapped[Decimal | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
