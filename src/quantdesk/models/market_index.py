from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin


class MarketIndex(TimestampMixin, Base):
    """A named index (S&P 500, DAX...) whose members come from the offline catalog."""

    __tablename__ = "market_indices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    country: Mapped[str | None] = mapped_column(String(64))


class IndexMember(Base):
    __tablename__ = "index_members"

    index_id: Mapped[int] = mapped_column(
        ForeignKey("market_indices.id", ondelete="CASCADE"), primary_key=True
    )
    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
