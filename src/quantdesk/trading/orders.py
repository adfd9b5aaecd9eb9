"""Paper orders: place, fill, cancel, expire, list.

Placing an order is one transaction under the account's row lock: the asset from the catalog,
the client id's earlier order, the market-data engine's stored quote, then the order row, its
reservation (cash for a buy, quantity for a sell; more than the buying power or the unreserved
holding is a 422 and nothing is stored) and, when it is marketable at once, its fill (journal
transactions for the fill and its fee). A stored quote older than
``QUANTDESK_TRADING_QUOTE_MAX_AGE_SECONDS`` rolls that transaction back: a quote is fetched with
no transaction open and the order is decided again with it.

Prices and arithmetic are ``trading.rules``; sessions and day expiry ``trading.sessions``. An
order that can never fill now is still recorded, with its reason: a market order without a fresh
quote is ``rejected`` (``quote_stale``), an IOC or FOK order that is not marketable at once is
``canceled``. Resting orders (limits, stops, market orders placed while their exchange is closed)
are filled by ``trading.matcher``.

There is no order book; liquidity comes from the quote: one fill takes at most
``QUANTDESK_TRADING_MAX_VOLUME_SHARE`` of the volume the quote reports (``rules.fillable_qty``).
A larger order is ``partially_filled``: the rest stays open (its reservation cut to what is left)
and the matcher fills more at each newer quote, never twice at the same one. An IOC order keeps
what filled at once and cancels the rest; a FOK order that cannot fill whole at once fills
nothing and is canceled. Orders by notional fill whole (their size is cash, not a quantity).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound
from quantdesk.kit.events import EventBus
from quantdesk.kit.orm import utcnow
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import PaperAccount, PaperFill, PaperOrder, TransactionKind
from quantdesk.models.paper_order import OPEN_STATUSES
from quantdesk.trading import (
    entries,
    journal,
    order_repository,
    prices,
    repository,
    reservations,
    rules,
    sessions,
)
from quantdesk.trading.errors import AccountNotFound, InsufficientFunds
from quantdesk.trading.order_schemas import FillOut, OrderOut, OrderRequest
from quantdesk.trading.prices import Tradable, TradeQuote
from quantdesk.trading.rules import Costs, OrderType, Side, TimeInForce

ZERO = Decimal(0)
CENT = Decimal("0.01")


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = "Order not found"


class ClientOrderIdReused(Conflict):
    code = "client_order_id_reused"

    def __init__(self, client_order_id: str, order_id: uuid.UUID) -> None:
        super().__init__(
            f"client_order_id '{client_order_id}' is already order {order_id}, with other "
            "parameters",
            details=[
                {
                    "field": "client_order_id",
                    "reason": "already used for another order on this account; send a new id "
                    "for a new order",
                }
            ],
            next_actions=["get_order"],
        )


class OrderNotOpen(InvalidInput):
    code = "order_not_open"

    def __init__(self, order: PaperOrder) -> None:
        super().__init__(
            f"order {order.id} is {order.status}: only an open order can be canceled",
            field="order_id",
            reason="order_not_open",
        )


def costs_of(settings: Settings) -> Costs:
    return Costs(
        slippage_bps=Decimal(str(settings.trading_slippage_bps)),
        fee_bps=Decimal(str(settings.trading_fee_bps)),
        fee_minimum=Decimal(str(settings.trading_fee_minimum)),
        volume_share=Decimal(str(settings.trading_max_volume_share)),
    )


@dataclass(frozen=True)
class Placed:
    order: OrderOut
    replayed: bool


@dataclass(frozen=True)
class _Market:
    """What an order is decided against, read before its transaction."""

    asset: Tradable
    quote: TradeQuote | None
    session: sessions.Session
    now: datetime

    @property
    def open(self) -> bool:
        return self.session.contains(self.now)

    @property
    def fresh_quote(self) -> TradeQuote | None:
        return self.quote if self.quote is not None and self.quote.fresh else None


# --- Placing ------------------------------------------------------------------------------------


class _QuoteNeeded(Exception):
    """The stored quote is too old: the transaction rolls back, a quote is fetched with none
    open, and the order is decided again."""


async def place(
    db: Database,
    runtime: MarketRuntime,
    settings: Settings,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    request: OrderRequest,
    bus: EventBus | None = None,
) -> Placed:
    """Place ``request`` on the account (see the module's docstring); the same
    ``client_order_id`` with the same parameters answers the first order again.

    One transaction in the common case: the account locked, the client id and the asset looked
    up, the stored quote read and the order decided. A quote too old to trade on is fetched
    between two transactions (no network I/O with one open), then the order is decided again."""
    client_id = request.client_order_id or uuid.uuid4().hex
    fetched: TradeQuote | None = None
    symbol, fingerprint = request.symbol, ""
    for attempt in ("stored", "fetched"):
        if attempt == "fetched":
            fetched = await prices.trade_quote(db, runtime, symbol, settings=settings, bus=bus)
        try:
            async with db.transaction(user_id=owner_id) as session:
                account = await journal.lock_account(
                    session, owner_id=owner_id, account_id=account_id
                )
                asset = await prices.tradable(
                    session, viewer_id=owner_id, symbol=request.symbol, currency=account.currency
                )
                fingerprint = request.fingerprint(asset.symbol)
                earlier = await _earlier(session, owner_id, account_id, client_id)
                if earlier is not None:
                    return await _replay(session, earlier, fingerprint)
                quote = fetched
                if attempt == "stored":
                    quote = await prices.stored_quote(session, asset.symbol, settings=settings)
                    if quote is None or not quote.fresh:
                        symbol = asset.symbol
                        raise _QuoteNeeded()
                now = utcnow()
                session_now = sessions.session_at(asset.exchange, asset.asset_class, now)
                market = _Market(asset, quote, session_now, now)
                order, fills = await _decide(
                    session, settings, owner_id, account_id, request, client_id, fingerprint,
                    market,
                )  # fmt: skip
                return Placed(_out(order, fills), replayed=False)
        except _QuoteNeeded:
            continue
        except IntegrityError:
            # Another request took the client id meanwhile (twenty at once make one order).
            async with db.transaction(user_id=owner_id, readonly=True) as session:
                earlier = await _earlier(session, owner_id, account_id, client_id)
                if earlier is None:
                    raise
                return await _replay(session, earlier, fingerprint)
    raise AssertionError("unreachable: the second attempt never asks for a quote")


async def _earlier(
    session: AsyncSession, owner_id: uuid.UUID, account_id: uuid.UUID, client_id: str
) -> PaperOrder | None:
    return await order_repository.get_by_client_id(
        session, owner_id=owner_id, account_id=account_id, client_order_id=client_id
    )


async def _replay(session: AsyncSession, earlier: PaperOrder, fingerprint: str) -> Placed:
    if earlier.request_hash != fingerprint:
        raise ClientOrderIdReused(earlier.client_order_id, earlier.id)
    return Placed(await _order_out(session, earlier), replayed=True)


async def _decide(
    session: AsyncSession,
    settings: Settings,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    request: OrderRequest,
    client_id: str,
    fingerprint: str,
    market: _Market,
) -> tuple[PaperOrder, list[PaperFill]]:
    """The order as decided, and its fill when it filled at once."""
    account = await journal.lock_account(session, owner_id=owner_id, account_id=account_id)
    costs = costs_of(settings)
    now = market.now
    order = PaperOrder(
        id=uuid.uuid4(), account_id=account.id, owner_id=owner_id, client_order_id=client_id,
        request_hash=fingerprint, symbol=market.asset.symbol,
        asset_class=market.asset.asset_class, exchange=market.asset.exchange,
        side=request.side.value, type=request.type.value,
        time_in_force=request.time_in_force.value, qty=request.qty, notional=request.notional,
        limit_price=request.limit_price, stop_price=request.stop_price, status="new",
        filled_qty=ZERO, reserved_cash=ZERO, reserved_qty=ZERO, created_at=now, updated_at=now,
    )  # fmt: skip
    reason = _rejection(request, market)
    if reason is not None:
        order.status, order.reject_reason, order.rejected_at = "rejected", reason[0], now
        order.status_message = reason[1]
        session.add(order)
        await session.flush()
        return order, []
    if request.notional is not None:  # a market order in session with a fresh quote
        quote = market.fresh_quote
        assert quote is not None
        price = rules.slipped(request.side, quote.price, costs.slippage_bps)
        if request.side is Side.SELL:
            order.qty = rules.notional_qty(request.notional, price)
            order.notional = None
    _check_size(order, market, costs)
    order.status, order.accepted_at = "accepted", now
    if request.time_in_force is TimeInForce.DAY:
        order.expires_at = market.session.closes
    fills: list[PaperFill] = []
    quote = market.fresh_quote
    now_qty = _fill_qty(order, quote, costs) if _marketable(order, market, costs) else ZERO
    whole = order.qty is None or now_qty >= order.qty
    fok_short = request.time_in_force is TimeInForce.FOK and not whole
    if now_qty > 0 and not fok_short:
        # Filled (in part) at once; the journal refuses a fill the buying power (or the
        # unreserved holding) cannot pay, and the whole order goes with it (a 422). The order
        # joins the session once filled, so it is inserted once, in its final state (its client
        # id's unique constraint speaks at the flush below and undoes the fill).
        assert quote is not None
        fills = [await _fill(session, account, order, quote, costs, now, now_qty)]
        session.add(order)
        await session.flush()  # the order's row before its fill's (no ORM relationship orders them)
        order_repository.add_fill(session, fills[0])
    else:
        session.add(order)
        await session.flush()  # the client id's unique constraint speaks here
        if request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            order.status, order.canceled_at = "canceled", now
            order.status_message = (
                f"not fillable in full at once: the quote's volume allows {_plain(now_qty)}"
                if fok_short
                else "not marketable at once"
            )
        else:
            buy = order.side == Side.BUY
            await _reserve(
                session,
                account,
                order,
                costs,
                _reference_price(order, market, costs) if buy else None,
            )
    await session.flush()
    return order, fills


def _rejection(request: OrderRequest, market: _Market) -> tuple[str, str] | None:
    """Why an order can never fill as asked (it is recorded as rejected), or None."""
    immediate = request.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
    if immediate and not market.open:
        return (
            "market_closed",
            f"{market.asset.symbol}'s exchange is closed; IOC and FOK need it open",
        )
    needs_quote = request.type is OrderType.MARKET and (market.open or request.notional is not None)
    if needs_quote and market.fresh_quote is None:
        age = (
            "no quote"
            if market.quote is None
            else f"the latest quote is from {market.quote.as_of.isoformat()}"
        )
        return "quote_stale", f"no fresh quote for {market.asset.symbol} ({age})"
    if request.notional is not None and not market.open:
        return (
            "market_closed",
            "a notional order needs its exchange open (its quantity comes from the price now)",
        )
    return None


def _check_size(order: PaperOrder, market: _Market, costs: Costs) -> None:
    """An order worth less than a cent cannot be booked; a clear 422."""
    reference = _reference_price(order, market, costs)
    worth = order.notional if order.notional is not None else (order.qty or ZERO) * reference
    if worth < CENT:
        raise InvalidInput(
            f"the order is worth {format(worth.normalize(), 'f')}: at least 0.01 of cash must move",
            field="qty" if order.qty is not None else "notional",
            reason="order_too_small",
        )


def _reference_price(order: PaperOrder, market: _Market, costs: Costs) -> Decimal:
    """The price an open order is reserved at: its limit, else its stop or the quote, slipped."""
    side = Side(order.side)
    if order.limit_price is not None:
        return order.limit_price
    base = order.stop_price if order.stop_price is not None else None
    if base is None and market.quote is not None:
        base = market.quote.price
    if base is None:
        raise InvalidInput(
            f"no price known for {order.symbol} yet: place a limit order, or try again when "
            "it is quoted",
            field="symbol",
            reason="no_price",
        )
    return rules.slipped(side, base, costs.slippage_bps)


async def _reserve(
    session: AsyncSession,
    account: PaperAccount,
    order: PaperOrder,
    costs: Costs,
    price: Decimal | None,
) -> None:
    """Set aside what the rest of the order may spend (a buy, reckoned at ``price``) or sell;
    more than is available is a 422 (nothing stored)."""
    rest = _rest(order)
    if order.side == Side.BUY:
        assert price is not None
        notional = order.notional if rest is None else None
        amount = rules.buy_reservation(rest, notional, price, costs)
        await reservations.reserve_cash(
            session, owner_id=account.owner_id, account_id=account.id, amount=amount
        )
        order.reserved_cash = amount
    else:
        assert rest is not None  # a sell by notional got its quantity when placed
        await reservations.reserve_qty(
            session, owner_id=account.owner_id, account_id=account.id, symbol=order.symbol,
            qty=rest,
        )  # fmt: skip
        order.reserved_qty = rest


def _rest(order: PaperOrder) -> Decimal | None:
    """The quantity still to fill (None for an order by notional)."""
    return None if order.qty is None else order.qty - order.filled_qty


def _fill_qty(order: PaperOrder, quote: TradeQuote | None, costs: Costs) -> Decimal:
    """What one fill at ``quote`` takes of a marketable order: the rest of it, or less when
    the volume the quote reports limits it (an order by notional fills whole)."""
    assert quote is not None
    rest = _rest(order)
    if rest is None:
        return order.notional or ZERO
    cap = rules.fillable_qty(
        quote.volume, quote.price, costs.volume_share, volume_in_cash=order.asset_class == "crypto"
    )
    return rest if cap is None else min(rest, cap)


def _marketable(order: PaperOrder, market: _Market, costs: Costs) -> bool:
    quote = market.fresh_quote
    if not market.open or quote is None:
        return False
    side, kind = Side(order.side), OrderType(order.type)
    if order.stop_price is not None and order.triggered_at is None:
        if not rules.stop_triggered(side, order.stop_price, quote.price):
            return False
        order.triggered_at = market.now
    price = rules.fill_price(side, _as_triggered(kind), quote.price, costs, order.limit_price)
    return price is not None


def _as_triggered(kind: OrderType) -> OrderType:
    """A triggered stop trades as a market order, a stop-limit as a limit order."""
    return {OrderType.STOP: OrderType.MARKET, OrderType.STOP_LIMIT: OrderType.LIMIT}.get(kind, kind)


# --- Filling ------------------------------------------------------------------------------------


async def _fill(
    session: AsyncSession,
    account: PaperAccount,
    order: PaperOrder,
    quote: TradeQuote,
    costs: Costs,
    now: datetime,
    qty: Decimal,
) -> PaperFill:
    """Fill ``qty`` of the order (of its notional, for an order by notional) at ``quote``
    (already known to be marketable): its reservation goes back, the fill and its fee are
    posted to the journal (keyed by the fill's id: applied once), and the order is filled, or
    partially filled with the rest reserved again (an IOC order's rest is canceled). The caller
    adds the fill to the session (after the order when the order is new)."""
    side, kind = Side(order.side), _as_triggered(OrderType(order.type))
    price = rules.fill_price(side, kind, quote.price, costs, order.limit_price)
    assert price is not None
    if order.qty is None:
        qty = rules.notional_qty(qty, price)
    await _release(session, account, order)
    fill = PaperFill(
        id=uuid.uuid4(), order_id=order.id, account_id=account.id, owner_id=account.owner_id,
        symbol=order.symbol, side=order.side, qty=qty, price=price,
        gross=entries.to_cents(qty * price), fee=ZERO, quote_price=quote.price,
        quote_as_of=quote.as_of, quote_source=quote.source, filled_at=now,
    )  # fmt: skip
    fill.fee = rules.fee(fill.gross, costs)
    signed = qty if side is Side.BUY else -qty
    moves = entries.fill_entries(
        symbol=order.symbol, qty=signed, price=price, currency=account.currency
    )
    await journal.post_transaction(
        session, account, TransactionKind.FILL, moves, reference=f"order:{order.id}",
        price=price, idempotency_key=f"fill:{fill.id}", key_is_new=True,
    )  # fmt: skip
    if fill.fee > 0:
        await journal.post_transaction(
            session, account, TransactionKind.FEE, entries.fee_entries(fill.fee, account.currency),
            reference=f"order:{order.id}", idempotency_key=f"fee:{fill.id}", key_is_new=True,
        )  # fmt: skip
    spent = price * qty
    if order.filled_qty > 0:  # the average of every fill, exact (not of rounded averages)
        earlier = await order_repository.fills_of(
            session, owner_id=order.owner_id, order_ids=[order.id]
        )
        spent += sum((f.qty * f.price for f in earlier[order.id]), ZERO)
    order.filled_qty += qty
    order.filled_avg_price = (spent / order.filled_qty).quantize(rules.PRICE_STEP)
    order.updated_at, order.status_message = now, None
    rest = _rest(order)
    if rest is None or rest <= 0:
        order.status, order.filled_at = "filled", now
    elif order.time_in_force == TimeInForce.IOC:
        order.status, order.canceled_at = "canceled", now
        order.status_message = f"filled {_plain(order.filled_qty)} at once; the rest canceled"
    else:
        order.status = "partially_filled"
        try:
            await _reserve(session, account, order, costs, order.limit_price or price)
        except InsufficientFunds:  # the rest, repriced higher, no longer fits the buying power
            order.status, order.canceled_at = "canceled", now
            order.status_message = (
                f"filled {_plain(order.filled_qty)}; the rest canceled: it no longer fits "
                "the buying power"
            )
    return fill


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


async def _release(session: AsyncSession, account: PaperAccount, order: PaperOrder) -> None:
    if order.reserved_cash > 0:
        await reservations.release_cash(
            session, owner_id=account.owner_id, account_id=account.id, amount=order.reserved_cash
        )
        order.reserved_cash = ZERO
    if order.reserved_qty > 0:
        await reservations.release_qty(
            session, owner_id=account.owner_id, account_id=account.id, symbol=order.symbol,
            qty=order.reserved_qty,
        )  # fmt: skip
        order.reserved_qty = ZERO


async def _end(
    session: AsyncSession,
    account: PaperAccount,
    order: PaperOrder,
    status: str,
    now: datetime,
    message: str,
) -> None:
    """Close an open order without a fill (canceled, expired): its reservation goes back."""
    await _release(session, account, order)
    order.status, order.status_message, order.updated_at = status, message, now
    if status == "canceled":
        order.canceled_at = now
    elif status == "expired":
        order.expired_at = now


# --- Resting orders (the matcher) -----------------------------------------------------------------


async def work_open_order(
    db: Database,
    settings: Settings,
    *,
    order_id: uuid.UUID,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    quote: TradeQuote | None,
    now: datetime,
) -> str | None:
    """Expire, trigger or fill one resting order against ``quote`` (the store's, no fetch), in
    its owner's transaction under the account's lock; its new status, None when unchanged.
    Safe to run from several processes at once: the order is re-read under the lock."""
    async with db.transaction(user_id=owner_id) as session:
        account = await journal.lock_account(session, owner_id=owner_id, account_id=account_id)
        order = await order_repository.get_order(
            session, owner_id=owner_id, account_id=account_id, order_id=order_id, lock=True
        )
        if order is None or order.status not in OPEN_STATUSES:
            return None
        if order.expires_at is not None and now >= order.expires_at:
            await _end(session, account, order, "expired", now, "the session closed")
            return order.status
        asset = Tradable(order.symbol, order.asset_class, order.exchange, None)
        market = _Market(
            asset, quote, sessions.session_at(order.exchange, order.asset_class, now), now
        )
        was_triggered = order.triggered_at
        costs = costs_of(settings)
        qty = ZERO
        if _marketable(order, market, costs) and not await _filled_at(session, order, quote):
            qty = _fill_qty(order, market.fresh_quote, costs)
        if qty <= 0:
            if order.triggered_at != was_triggered:
                return "triggered"
            return None
        assert market.fresh_quote is not None
        fill = await _fill(session, account, order, market.fresh_quote, costs, now, qty)
        order_repository.add_fill(session, fill)
        return order.status


async def _filled_at(session: AsyncSession, order: PaperOrder, quote: TradeQuote | None) -> bool:
    """Whether a partly filled order already took its share of ``quote`` (one fill per quote)."""
    if order.status != "partially_filled" or quote is None:
        return False
    fills = await order_repository.fills_of(session, owner_id=order.owner_id, order_ids=[order.id])
    return any(fill.quote_as_of >= quote.as_of for fill in fills[order.id])


# --- Canceling and reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    symbol: str
    qty: Decimal


async def position_to_close(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, symbol: str
) -> Held:
    """What closing a position sells: all of it that open sells have not reserved."""
    if await repository.get_account(session, owner_id=owner_id, account_id=account_id) is None:
        raise AccountNotFound()
    canonical = _canonical(symbol)
    position = await repository.get_position(
        session, owner_id=owner_id, account_id=account_id, symbol=canonical
    )
    free = ZERO if position is None else position.qty - position.reserved_qty
    if position is None or free <= 0:
        raise InvalidInput(
            f"no {canonical} to sell in this account (none held, or all of it reserved "
            "by open sell orders)",
            field="symbol",
            reason="no_position",
        )
    return Held(position.symbol, free)


async def cancel(
    db: Database, *, owner_id: uuid.UUID, account_id: uuid.UUID, order_id: uuid.UUID
) -> OrderOut:
    now = utcnow()
    async with db.transaction(user_id=owner_id) as session:
        account = await journal.lock_account(session, owner_id=owner_id, account_id=account_id)
        order = await order_repository.get_order(
            session, owner_id=owner_id, account_id=account_id, order_id=order_id, lock=True
        )
        if order is None:
            raise OrderNotFound(next_actions=["list_orders"])
        if order.status not in OPEN_STATUSES:
            raise OrderNotOpen(order)
        await _end(session, account, order, "canceled", now, "canceled by you")
        await session.flush()
        return await _order_out(session, order)


async def get_order(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, order_id: uuid.UUID
) -> OrderOut:
    order = await order_repository.get_order(
        session, owner_id=owner_id, account_id=account_id, order_id=order_id
    )
    if order is None:
        if await repository.get_account(session, owner_id=owner_id, account_id=account_id) is None:
            raise AccountNotFound()
        raise OrderNotFound(next_actions=["list_orders"])
    return await _order_out(session, order)


async def list_orders(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    status: str,
    symbol: str | None,
    after: datetime | None,
    until: datetime | None,
    direction: repository.Direction,
    limit: int,
) -> list[OrderOut]:
    if await repository.get_account(session, owner_id=owner_id, account_id=account_id) is None:
        raise AccountNotFound()
    statuses: tuple[str, ...] | None = None
    if status == "open":
        statuses = OPEN_STATUSES
    elif status == "closed":
        statuses = ("filled", "canceled", "expired", "rejected")
    rows = await order_repository.list_orders(
        session, owner_id=owner_id, account_id=account_id, statuses=statuses,
        symbol=_canonical(symbol) if symbol else None, after=after, until=until,
        direction=direction, limit=limit,
    )  # fmt: skip
    fills = await order_repository.fills_of(
        session, owner_id=owner_id, order_ids=[o.id for o in rows]
    )
    return [_out(order, fills[order.id]) for order in rows]


def _canonical(symbol: str) -> str:
    try:
        return canonical_symbol(symbol)
    except InvalidSymbol as exc:
        raise InvalidInput(str(exc), field="symbol") from None


async def _order_out(session: AsyncSession, order: PaperOrder) -> OrderOut:
    fills = await order_repository.fills_of(session, owner_id=order.owner_id, order_ids=[order.id])
    return _out(order, fills[order.id])


def _out(order: PaperOrder, fills: list[PaperFill]) -> OrderOut:
    found = OrderOut.model_validate(order)
    return found.model_copy(update={"fills": [FillOut.model_validate(f) for f in fills]})
