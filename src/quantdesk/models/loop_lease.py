"""Loops that must run once across every process (the market engine's sweeps, say): who ran each
last, and when it may run next."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class LoopLease(Base):
    __tablename__ = "loop_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    ran_at: Mapped[datetime]
    next_run_at: Mapped[datetime]
