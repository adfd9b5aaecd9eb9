"""Quote history: every quote the engine fetched, a time series per symbol (charts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class QuotePoint(Base):
    __tablename__ = "quote_history"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(primary_key=True)
    price: Mapped[Decimal]
    change: Mapped[Decimal | None]
    change_percent: Mapped[Decimal | None]
    volume: Mapped[Decimal | None]
    market_cap: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(8))
    provider: Mapped[str] = mapped_column(String(32))
