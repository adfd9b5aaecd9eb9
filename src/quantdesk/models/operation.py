"""Operations: persisted background jobs. A job is a row before it is a message.

Its inputs, outputs and per-item results live in the database too (``operation_files``,
``operation_results``), so every API process and every worker, on any host, reaches them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin, UUIDPrimaryKey, utcnow

# A nullable JSON column (the dict[str, Any] annotation maps to a non-null one).
_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class OperationStatus:
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    FINISHED = frozenset({SUCCEEDED, FAILED, CANCELLED})
    ALL = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED)


class Operation(UUIDPrimaryKey, TimestampMixin, Base):
    """One background job: what to do (kind, params), who asked, and how far it got.

    ``owner_id`` is NULL for system jobs (periodic maintenance). The lease says which worker runs
    it until when; a lease that expires without a heartbeat lets another worker take it over.
    """

    __tablename__ = "operations"
    __table_args__ = (
        Index("ix_operations_owner_created", "owner_id", "created_at"),
        Index("ix_operations_status_not_before", "status", "not_before"),
        Index("ix_operations_kind_created", "kind", "created_at"),
        # What a batch claim reads, in the order it takes rows: pending ones only (a few at a
        # time), so the index stays small while finished rows pile up.
        Index(
            "ix_operations_pending_order",
            text("priority DESC"),
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    kind: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=OperationStatus.PENDING)
    queue: Mapped[str] = mapped_column(String(32), default="maintenance")
    priority: Mapped[int] = mapped_column(default=0)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    progress_message: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=4)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    not_before: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def finished(self) -> bool:
        return self.status in OperationStatus.FINISHED

    def __repr__(self) -> str:
        return f"Operation(id={self.id!s}, kind={self.kind!r}, status={self.status!r})"


class OperationFile(Base):
    """A named blob of an operation: its input (an upload, a symbol list) or its output (an
    export). Deleted with the operation."""

    __tablename__ = "operation_files"

    operation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperationResult(Base):
    """The result of one item of a batch job (a symbol, a CSV row), written in the same
    transaction as the batch's effects and checkpoint: exactly one per item, even across retries."""

    __tablename__ = "operation_results"

    operation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), primary_key=True
    )
    item: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]]
