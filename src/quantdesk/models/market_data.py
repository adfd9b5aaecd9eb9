"""The last known market data per asset (global, not owned): the database layer under the caches."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class AssetQuote(Base):
    """The latest quote a provider gave for an asset; served as stale when providers are down."""

    __tablename__ = "asset_quotes"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    price: Mapped[Decimal]
    change: Mapped[Decimal | None]
    change_percent: Mapped[Decimal | None]
    volume: Mapped[Decimal | None]
    market_cap: Mapped[Decimal | None]
    currency: Mapped[str | None] = mapped_column(String(8))
    as_of: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]


class AssetProfile(Base):
    """The latest company / fund profile a provider gave; its facts are also copied to the asset."""

    __tablename__ = "asset_profiles"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str | None] = mapped_column(String(255))
    exchange: Mapped[str | None] = mapped_column(String(32))
    sector: Mapped[str | None] = mapped_column(String(128))
    industry: Mapped[str | None] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(8))
    market_cap: Mapped[Decimal | None]
    pe_ratio: Mapped[Decimal | None]
    dividend_yield: Mapped[Decimal | None]
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))
    fetched_at: Mapped[datetime]
