"""Plans of moves (organise, duplicate clean-up) and their journal: each move is recorded before
it happens, so a crash can be resumed or rolled back."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin, UUIDPrimaryKey

_ID = BigInteger().with_variant(Integer(), "sqlite")


class PlanStatus(StrEnum):
    PLANNING = "planning"
    READY = "ready"
    APPLYING = "applying"
    APPLIED = "applied"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


class MoveStatus(StrEnum):
    PLANNED = "planned"
    SKIPPED = "skipped"  # a conflict the plan resolved by skipping
    MOVING = "moving"  # journaled: the move may have happened or not
    DONE = "done"
    CHANGED = "changed"  # the file was not what the scan saw: left alone
    FAILED = "failed"
    RESTORING = "restoring"  # journaled: the move back may have happened or not
    RESTORED = "restored"
    CONFLICT = "conflict"  # could not be moved back: something else is at the original path


class VaultPlan(UUIDPrimaryKey, TimestampMixin, Base):
    __tablename__ = "vault_plans"

    vault_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vaults.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # organize | dedupe
    status: Mapped[str] = mapped_column(String(16), default=PlanStatus.PLANNING)
    options: Mapped[dict[str, Any]]
    plan_operation_id: Mapped[uuid.UUID | None]
    apply_operation_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    rollback_operation_id: Mapped[uuid.UUID | None]
    move_count: Mapped[int] = mapped_column(default=0)


class VaultMove(Base):
    __tablename__ = "vault_moves"
    __table_args__ = (UniqueConstraint("plan_id", "seq"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vault_plans.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int]
    src: Mapped[str] = mapped_column(String(1024))
    dst: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[datetime]
    hash: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=MoveStatus.PLANNED)
    reason: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime]
