"""The market-data engine's registry: each data type's freshness (TTL), who can serve it, how it
is refreshed, and whether it is on; run-time flags; and the audit of every change to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class MarketDataType(Base):
    __tablename__ = "market_data_types"
    __table_args__ = (
        CheckConstraint("ttl_seconds > 0", name="ttl_positive"),
        CheckConstraint("kind IN ('on_demand', 'scheduled')", name="kind_known"),
        CheckConstraint(
            "(kind = 'scheduled') = (schedule_seconds IS NOT NULL)", name="schedule_when_scheduled"
        ),
    )

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    ttl_seconds: Mapped[int]
    # The datasets that answer it and the providers able to serve them, in chain order.
    datasets: Mapped[list[str]] = mapped_column(JSON)
    providers: Mapped[list[str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))
    schedule_seconds: Mapped[int | None]
    default_priority: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]


class MarketFlag(Base):
    """Run-time switches of the engine (``engine``: the whole refresh engine)."""

    __tablename__ = "market_flags"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool]
    updated_at: Mapped[datetime]


class MarketAudit(Base):
    """Who changed what of the engine's settings, when, from what to what."""

    __tablename__ = "market_audit"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))  # a user id, or "cli"
    target: Mapped[str] = mapped_column(String(64))  # "data_type:quote", "flag:engine"
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
