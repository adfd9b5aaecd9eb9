from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin


class AssetClass(enum.StrEnum):
    EQUITY = "equity"
    ETF = "etf"
    CRYPTO = "crypto"
    INDEX = "index"
    CURRENCY = "currency"


class ValidationStatus(enum.StrEnum):
    VALID = "valid"  # the catalog or a provider vouched for it
    INVALID = "invalid"  # a provider said it does not exist
    PENDING = "pending"  # added while no provider could tell; the background job decides


class Asset(TimestampMixin, Base):
    """A tradable or quotable instrument; global (not owned), shared by every user's universes."""

    __tablename__ = "assets"
    __table_args__ = (
        Index("ix_assets_validation_state", "is_validated", "last_validated_at"),
        Index("ix_assets_search_order", "search_order", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(String(32), unique=True)
    # Separator-free spelling (BRK.B, BRK-B, BRK/B -> BRK-B) to find an asset however it is typed.
    lookup_key: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(255))
    asset_class: Mapped[str] = mapped_column(String(16), index=True)
    exchange: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(64))
    sector: Mapped[str | None] = mapped_column(String(128), index=True)
    industry: Mapped[str | None] = mapped_column(String(128))
    # The listing's venue: its ISO 10383 MIC and the ISO 4217 currency it trades in.
    mic: Mapped[str | None] = mapped_column(String(8))
    currency: Mapped[str | None] = mapped_column(String(8))
    market_cap: Mapped[Decimal | None]
    pe_ratio: Mapped[Decimal | None]
    dividend_yield: Mapped[Decimal | None]
    is_validated: Mapped[bool] = mapped_column(default=False)
    last_validated_at: Mapped[datetime | None]
    validation_source: Mapped[str | None] = mapped_column(String(32))
    validation_status: Mapped[str] = mapped_column(
        String(16), default=ValidationStatus.VALID, server_default=ValidationStatus.VALID.value
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    # Written by the catalog loader: the folded words search matches (symbol key, name words,
    # aliases) and the listing's place in the search ranking (1 first; see assets/ranking.py).
    search_text: Mapped[str | None] = mapped_column(String(512))
    search_order: Mapped[int | None]


class PendingAssetOwner(Base):
    """Who may see a *pending* asset: the users who asked for it before a provider confirmed it.

    Owner-scoped (row-level security on PostgreSQL), like every user's row.
    """

    __tablename__ = "pending_asset_owners"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]
