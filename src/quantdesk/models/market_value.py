"""The market-data store: the latest value of each (symbol, data type), whatever its shape.

One row per pair, replaced by each fresher fetch. ``symbol`` is ``""`` for data about no symbol
(``available-exchanges``, ``exchange-market-status``): a primary key column cannot be NULL, and
an empty string keeps uniqueness and upserts the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, JSONType


class MarketValue(Base):
    __tablename__ = "market_values"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    data_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The dataset's result as JSON (decimals as strings, so no float touches them); JSON null
    # when the provider had nothing (known to be nothing is a value too).
    value: Mapped[Any] = mapped_column(JSONType)
    provider: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]
    # fetched_at + the type's TTL when written; staleness itself is judged against the TTL in
    # force when asked (an admin may change it), this is the sweep's hint.
    expires_at: Mapped[datetime] = mapped_column(index=True)
