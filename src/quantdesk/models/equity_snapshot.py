"""A paper account's equity at the end of a day (the last snapshot of the day wins): what its
history and its returns are computed from."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, utcnow


class EquitySnapshot(Base):
    __tablename__ = "equity_snapshots"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("paper_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    equity: Mapped[Decimal]
    cash: Mapped[Decimal]
    long_market_value: Mapped[Decimal]
    # Deposits minus withdrawals since the account opened, through this snapshot.
    net_deposits: Mapped[Decimal]
    taken_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
