"""The refresh queue: provider calls waiting for their turn and their quota.

At most one pending or processing row per (symbol, data type) (a partial unique index): asking
again raises the waiting row's priority and brings it forward instead of adding a call. Finished
rows stay for a while (status, error) and are trimmed; the partial indexes keep claims, lease
recovery and trimming reading only the rows they are about. ``symbol`` is ``""`` for data about
no symbol, as in ``market_values``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base

_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
_ACTIVE = text("status IN ('pending', 'processing')")
_PENDING = text("status = 'pending'")
_PROCESSING = text("status = 'processing'")
_FINISHED = text("status IN ('completed', 'failed')")


class RefreshStatus:
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    ACTIVE = (PENDING, PROCESSING)
    FINISHED = (COMPLETED, FAILED)
    ALL = (PENDING, PROCESSING, COMPLETED, FAILED)


class RefreshRequest(Base):
    __tablename__ = "market_refresh_queue"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed')", name="status_known"
        ),
        # One waiting or running call per pair: the conflict target of enqueue's upsert.
        Index(
            "uq_market_refresh_queue_active",
            "symbol",
            "data_type",
            unique=True,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
        # What a claim reads, in the order it takes rows (pending rows only, however many
        # finished rows pile up).
        Index(
            "ix_market_refresh_queue_pending_order",
            text("priority DESC"),
            "run_at",
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
        Index(
            "ix_market_refresh_queue_lease",
            "lease_expires_at",
            postgresql_where=_PROCESSING,
            sqlite_where=_PROCESSING,
        ),
        Index(
            "ix_market_refresh_queue_finished",
            "updated_at",
            postgresql_where=_FINISHED,
            sqlite_where=_FINISHED,
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    symbol: Mapped[str] = mapped_column(String(32))
    data_type: Mapped[str] = mapped_column(String(40))
    # None: whichever provider of the type's chain has quota when the row is claimed.
    provider: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=RefreshStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    run_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
