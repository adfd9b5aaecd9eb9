"""The queue of symbols waiting for background validation (global, not owned)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class ValidationRequest(Base):
    """A symbol no provider could validate yet; the background ``validate_asset`` job drains these.

    One row per canonical symbol: asking again while it waits only records the newest reason.
    """

    __tablename__ = "validation_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), unique=True)
    requested_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
