"""The quota ledger of the market-data providers: every call debited, per provider.

``provider_quotas`` has one row per provider: the row a debit locks (so concurrent debits of one
provider take turns, in every process) and the "spent until" mark a provider's own refusal (HTTP
429, a plan limit) leaves. ``provider_calls`` records each debit: the per-minute window is the
sum over any 60 s before now, the per-day window the sum since the provider's day began.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base


class ProviderQuota(Base):
    __tablename__ = "provider_quotas"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    spent_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class ProviderCall(Base):
    __tablename__ = "provider_calls"
    __table_args__ = (Index("ix_provider_calls_provider_at", "provider", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    calls: Mapped[int]
