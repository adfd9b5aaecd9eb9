"""Presence: who watches which (symbol, data type), from which client, until when.

A WebSocket connection or an API client holds its rows only while it renews them; a row past
``expires_at`` is nobody's interest any more (its process may have died without saying so).
Every API process writes and reads the same rows, so the refresh engine sees all watchers.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class MarketWatch(Base):
    __tablename__ = "market_watches"
    __table_args__ = (
        Index("ix_market_watches_pair", "symbol", "data_type"),
        Index("ix_market_watches_expires_at", "expires_at"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # "ws:<connection id>" for a WebSocket, "api" for POST /market/subscriptions.
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    data_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Live watchers (a WebSocket, the API) come first; background ones (the universes of recently
    # active users) after them, and no more often than ``refresh_seconds`` (None: the type's TTL).
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    refresh_seconds: Mapped[int | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
