from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin, UUIDPrimaryKey, utcnow


class Universe(UUIDPrimaryKey, TimestampMixin, Base):
    """A named, ordered list of assets owned by one user."""

    __tablename__ = "universes"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))


class UniverseAsset(Base):
    """Membership of an asset in a universe; ``owner_id`` is repeated so RLS needs no join."""

    __tablename__ = "universe_assets"
    __table_args__ = (Index("ix_universe_assets_universe_position", "universe_id", "position"),)

    universe_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("universes.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)


class UniverseChange(Base):
    """One membership change (``added`` or ``removed``); turnover is computed from these."""

    __tablename__ = "universe_changes"
    __table_args__ = (Index("ix_universe_changes_universe_time", "universe_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    universe_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("universes.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="RESTRICT"))
    symbol: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
