"""HTTP surface of paper orders and positions.

Placing an order may fetch a quote, so it takes ``Db`` and ``AuthenticatedUser`` rather than the
request's transaction: the service decides in one short transaction, and when the stored quote is
too old it asks the providers between two, with none open."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from quantdesk.auth.dependencies import AuthenticatedUser, CurrentUser
from quantdesk.kit.db import Db, DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.market.runtime import MarketRuntimeDep
from quantdesk.trading import orders, service
from quantdesk.trading.order_schemas import (
    DEFAULT_ORDERS_PAGE,
    MAX_ORDERS_PAGE,
    OrderList,
    OrderOut,
    OrderRequest,
    OrderStatusFilter,
)
from quantdesk.trading.rules import OrderType, Side, TimeInForce

router = APIRouter(prefix="/accounts", tags=["paper trading"])

REPLAY_HEADER = "Idempotent-Replayed"
AccountId = Annotated[uuid.UUID, Path(description="The account's id")]
OrderId = Annotated[uuid.UUID, Path(description="The order's id")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Envelope[None], "description": "No such account (or order) among yours"},
    422: {"model": Envelope[None], "description": "Invalid input (error.details name the field)"},
}
_PLACE: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Envelope[OrderOut],
        "description": f"A repeated client_order_id with the same parameters: the first order "
        f"(header `{REPLAY_HEADER}: true`)",
    },
    409: {"model": Envelope[None], "description": "client_order_id used for another order"},
    **_ERRORS,
}


def _summary(order: OrderOut) -> str:
    amount = order.qty if order.qty is not None else order.notional
    what = f"{order.side.value} {format((amount or Decimal(0)).normalize(), 'f')} {order.symbol}"
    if order.status == "filled" and order.filled_avg_price is not None:
        price = format(order.filled_avg_price.normalize(), "f")
        return f"Filled: {what} at {price}"
    if order.status == "rejected":
        return f"Rejected ({order.reject_reason}): {what}: {order.status_message}"
    return f"{order.status.replace('_', ' ').capitalize()}: {what}"


@router.post(
    "/{account_id}/orders",
    response_model=Envelope[OrderOut],
    status_code=status.HTTP_201_CREATED,
    responses=_PLACE,
)
async def place_order(
    account_id: AccountId,
    body: OrderRequest,
    request: Request,
    response: Response,
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
) -> Envelope[OrderOut]:
    """Place a paper order: `market`, `limit`, `stop` or `stop_limit`, by `qty` (fractional
    allowed) or `notional` (market orders), `time_in_force` `day` (until its exchange's close),
    `gtc`, `ioc` or `fok`.

    A market order fills at once at the current quote moved against you by the slippage (never
    better than the quote), if the quote is fresh (else `rejected`, `reject_reason:
    quote_stale`); a limit fills at its price or the quote, whichever is worse for you. Open
    buys reserve buying power, open sells the quantity they sell. The same `client_order_id`
    with the same parameters returns the first order (200), with others a 409."""
    placed = await orders.place(
        db, market, market.settings, owner_id=user.id, account_id=account_id, request=body,
        bus=request.app.state.bus,
    )  # fmt: skip
    if placed.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAY_HEADER] = "true"
    return ok(placed.order, _summary(placed.order), next_actions=["get_order", "get_account"])


@router.get("/{account_id}/orders", response_model=Envelope[OrderList], responses=_ERRORS)
async def list_orders(
    account_id: AccountId,
    session: DbSession,
    user: CurrentUser,
    status_filter: Annotated[
        OrderStatusFilter, Query(alias="status", description="open, closed or all")
    ] = "open",
    symbol: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[datetime | None, Query(description="Placed after this time")] = None,
    until: Annotated[datetime | None, Query(description="Placed at or before this time")] = None,
    direction: Annotated[Literal["asc", "desc"], Query()] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_ORDERS_PAGE)] = DEFAULT_ORDERS_PAGE,
) -> Envelope[OrderList]:
    """The account's orders (open by default), newest first unless `direction=asc`."""
    found = await orders.list_orders(
        session, owner_id=user.id, account_id=account_id, status=status_filter, symbol=symbol,
        after=service.client_time(after, "after"), until=service.client_time(until, "until"),
        direction=direction, limit=limit,
    )  # fmt: skip
    return ok(
        OrderList(orders=found, count=len(found)),
        f"{len(found)} order(s)",
        next_actions=["get_order", "place_order"],
    )


@router.get("/{account_id}/orders/{order_id}", response_model=Envelope[OrderOut], responses=_ERRORS)
async def get_order(
    account_id: AccountId, order_id: OrderId, session: DbSession, user: CurrentUser
) -> Envelope[OrderOut]:
    """One order with its lifecycle timestamps and fills."""
    found = await orders.get_order(
        session, owner_id=user.id, account_id=account_id, order_id=order_id
    )
    return ok(found, _summary(found), next_actions=["cancel_order", "list_orders"])


@router.delete(
    "/{account_id}/orders/{order_id}", response_model=Envelope[OrderOut], responses=_ERRORS
)
async def cancel_order(
    account_id: AccountId, order_id: OrderId, db: Db, user: AuthenticatedUser
) -> Envelope[OrderOut]:
    """Cancel an open order; what it reserved is released. A closed one is a 422."""
    found = await orders.cancel(db, owner_id=user.id, account_id=account_id, order_id=order_id)
    return ok(found, _summary(found), next_actions=["list_orders", "get_account"])


@router.delete(
    "/{account_id}/positions/{symbol}",
    response_model=Envelope[OrderOut],
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
async def close_position(
    account_id: AccountId,
    symbol: Annotated[str, Path(max_length=64)],
    request: Request,
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
) -> Envelope[OrderOut]:
    """Close a position: a market sell of all of it not already reserved by open sells."""
    async with db.transaction(user_id=user.id, readonly=True) as session:
        held = await orders.position_to_close(
            session, owner_id=user.id, account_id=account_id, symbol=symbol
        )
    body = OrderRequest(
        symbol=held.symbol, side=Side.SELL, type=OrderType.MARKET, qty=held.qty,
        time_in_force=TimeInForce.DAY,
    )  # fmt: skip
    placed = await orders.place(
        db, market, market.settings, owner_id=user.id, account_id=account_id, request=body,
        bus=request.app.state.bus,
    )  # fmt: skip
    return ok(placed.order, _summary(placed.order), next_actions=["get_account"])
