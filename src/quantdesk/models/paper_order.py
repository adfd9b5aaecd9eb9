"""Paper orders and their fills.

An order's lifecycle has a timestamp per step: created (``new``) → ``accepted`` →
``partially_filled`` → ``filled``, or ``canceled`` / ``expired`` / ``rejected`` (with the reason).
``client_order_id`` is unique per account: the same id with the same parameters is the same order
(``request_hash`` says whether the parameters match). Open orders hold what they may spend:
``reserved_cash`` for a buy, ``reserved_qty`` for a sell (the account's and the position's
``reserved`` sum them). A fill is a row of its own, applied to the journal exactly once (its
journal transaction carries the fill's id as idempotency key).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, UUIDPrimaryKey, utcnow

ZERO = Decimal(0)
OPEN_STATUSES = ("new", "accepted", "partially_filled")
ORDER_STATUSES = (*OPEN_STATUSES, "filled", "canceled", "expired", "rejected")
_OPEN_WHERE = "status IN ('new', 'accepted', 'partially_filled')"


def _num(column: str) -> str:
    return f"CAST({column} AS NUMERIC)"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PaperOrder(UUIDPrimaryKey, Base):
    __tablename__ = "paper_orders"
    __table_args__ = (
        UniqueConstraint("account_id", "client_order_id", name="uq_paper_orders_client_order_id"),
        CheckConstraint(_one_of("side", ("buy", "sell")), name="side_known"),
        CheckConstraint(
            _one_of("type", ("market", "limit", "stop", "stop_limit")), name="type_known"
        ),
        CheckConstraint(_one_of("time_in_force", ("day", "gtc", "ioc", "fok")), name="tif_known"),
        CheckConstraint(_one_of("status", ORDER_STATUSES), name="status_known"),
        CheckConstraint("(qty IS NULL) <> (notional IS NULL)", name="qty_or_notional"),
        CheckConstraint(f"{_num('filled_qty')} >= 0", name="filled_not_negative"),
        CheckConstraint(f"{_num('reserved_cash')} >= 0", name="reserved_cash_not_negative"),
        CheckConstraint(f"{_num('reserved_qty')} >= 0", name="reserved_qty_not_negative"),
        # The matcher's question: open orders of a symbol, oldest first.
        Index(
            "ix_paper_orders_open_by_symbol",
            "symbol",
            "created_at",
            sqlite_where=text(_OPEN_WHERE),
            postgresql_where=text(_OPEN_WHERE),
        ),
        Index("ix_paper_orders_account_created", "account_id", "created_at"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("paper_accounts.id", ondelete="CASCADE")
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    client_order_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    asset_class: Mapped[str] = mapped_column(String(16))
    exchange: Mapped[str | None] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(10))
    time_in_force: Mapped[str] = mapped_column(String(3))
    qty: Mapped[Decimal | None]
    notional: Mapped[Decimal | None]
    limit_price: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    status: Mapped[str] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(String(300))
    filled_qty: Mapped[Decimal] = mapped_column(default=ZERO)
    filled_avg_price: Mapped[Decimal | None]
    reserved_cash: Mapped[Decimal] = mapped_column(default=ZERO)
    reserved_qty: Mapped[Decimal] = mapped_column(default=ZERO)
    expires_at: Mapped[datetime | None]  # a day order: its session's close
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    triggered_at: Mapped[datetime | None]  # a stop reached its price
    filled_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PaperFill(UUIDPrimaryKey, Base):
    __tablename__ = "paper_fills"
    __table_args__ = (
        CheckConstraint(f"{_num('qty')} > 0", name="qty_positive"),
        CheckConstraint(f"{_num('price')} > 0", name="price_positive"),
        Index("ix_paper_fills_order", "order_id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("paper_orders.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("paper_accounts.id", ondelete="CASCADE")
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[Decimal]
    price: Mapped[Decimal]
    gross: Mapped[Decimal]  # cash moved before the fee
    fee: Mapped[Decimal] = mapped_column(default=ZERO)
    quote_price: Mapped[Decimal]  # what the market said
    quote_as_of: Mapped[datetime]
    quote_source: Mapped[str] = mapped_column(String(32))
    filled_at: Mapped[datetime] = mapped_column(default=utcnow)
