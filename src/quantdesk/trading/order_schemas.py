"""Requests and answers of paper orders and positions (Alpaca's order shape, where it has one)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from quantdesk.market.schemas import ExactDecimal
from quantdesk.trading.rules import OrderType, Side, TimeInForce

MAX_CLIENT_ORDER_ID = 128
MAX_PRICE = Decimal("1000000000")
MAX_QTY = Decimal("1000000000")
MAX_NOTIONAL = Decimal("1000000000000")
DEFAULT_ORDERS_PAGE = 100
MAX_ORDERS_PAGE = 500

Quantity = Annotated[
    Decimal, Field(gt=0, le=MAX_QTY, decimal_places=9, allow_inf_nan=False, examples=["10"])
]
Price = Annotated[
    Decimal, Field(gt=0, le=MAX_PRICE, decimal_places=6, allow_inf_nan=False, examples=["187.5"])
]
Notional = Annotated[
    Decimal,
    Field(gt=0, le=MAX_NOTIONAL, decimal_places=2, allow_inf_nan=False, examples=["1000.00"]),
]
ClientOrderId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CLIENT_ORDER_ID, pattern=r"^[\x21-\x7e]+$"),
]
OrderStatusFilter = Literal["open", "closed", "all"]


class OrderRequest(BaseModel):
    """A paper order. Exactly one of ``qty`` (fractional allowed) and ``notional`` (cash to
    spend or raise: market orders only). ``limit_price`` for limit and stop-limit orders,
    ``stop_price`` for stop and stop-limit ones. ``client_order_id``: your id, unique per
    account; sending the same id with the same parameters returns the first order."""

    model_config = ConfigDict(extra="forbid")

    symbol: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        examples=["AAPL"]
    )
    side: Side
    type: OrderType = OrderType.MARKET
    qty: Quantity | None = None
    notional: Notional | None = None
    limit_price: Price | None = None
    stop_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: ClientOrderId | None = Field(
        default=None, description="Default: a new id, so the order is never a replay"
    )

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("give exactly one of qty and notional")
        if self.notional is not None and self.type is not OrderType.MARKET:
            raise ValueError("notional is for market orders; give qty for a limit or stop")
        needs_limit = self.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (self.limit_price is not None):
            raise ValueError(
                f"limit_price is {'required' if needs_limit else 'not allowed'} "
                f"for a {self.type.value} order"
            )
        if needs_stop != (self.stop_price is not None):
            raise ValueError(
                f"stop_price is {'required' if needs_stop else 'not allowed'} "
                f"for a {self.type.value} order"
            )
        return self

    def fingerprint(self, symbol: str) -> str:
        """What makes two requests the same order (the client id aside): a hash."""
        fields = self.model_dump(mode="json", exclude={"client_order_id", "symbol"})
        fields["symbol"] = symbol
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class FillOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    qty: ExactDecimal
    price: ExactDecimal
    gross: ExactDecimal
    fee: ExactDecimal
    quote_price: ExactDecimal
    quote_as_of: datetime
    quote_source: str = Field(description='"sim" for simulated quotes')
    filled_at: datetime


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    client_order_id: str
    symbol: str
    asset_class: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    qty: ExactDecimal | None
    notional: ExactDecimal | None
    limit_price: ExactDecimal | None
    stop_price: ExactDecimal | None
    status: str
    reject_reason: str | None = Field(description="quote_stale, market_closed, ... when rejected")
    status_message: str | None
    filled_qty: ExactDecimal
    filled_avg_price: ExactDecimal | None
    reserved_cash: ExactDecimal
    reserved_qty: ExactDecimal
    expires_at: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    triggered_at: datetime | None
    filled_at: datetime | None
    canceled_at: datetime | None
    expired_at: datetime | None
    rejected_at: datetime | None
    fills: list[FillOut] = Field(default_factory=list)


class OrderList(BaseModel):
    orders: list[OrderOut]
    count: int
