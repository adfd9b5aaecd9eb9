"""The arithmetic of paper orders, free of storage: when an order may fill against a quote, at
what price, for how much, and what it costs. The orders service applies these; tests pin them.

Prices: a market order fills at the quote moved against the trader by the slippage (buys pay
more, sells get less), never better than the quote. A limit order fills once the quote reaches
its limit, at the limit or the slipped quote, whichever is worse for the trader (so never better
than either). A stop order becomes a market order once the quote touches its stop (a buy stop at
or above, a sell stop at or below); a stop-limit becomes a limit order then.

Liquidity: one fill takes at most a share of the volume its quote reports (as zipline's volume
share slippage does per bar); a larger order fills in parts, one per new quote.

Money is Decimal throughout. Cash amounts round to the cent against the trader (a buy's cost up,
a sale's proceeds down); prices keep 6 decimal places (crypto quotes need them); quantities 9.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

CENT = Decimal("0.01")
PRICE_STEP = Decimal("0.000001")
QTY_STEP = Decimal("0.000000001")
BPS = Decimal(10_000)


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(enum.StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"  # fill what can be filled now, cancel the rest
    FOK = "fok"  # fill all of it now, or nothing


@dataclass(frozen=True)
class Costs:
    """Per-fill terms, from settings: slippage, a fee of ``fee_bps`` with a minimum, and the
    share of a quote's reported volume one fill may take (0: no limit)."""

    slippage_bps: Decimal = Decimal(0)
    fee_bps: Decimal = Decimal(0)
    fee_minimum: Decimal = Decimal(0)
    volume_share: Decimal = Decimal(0)


def slipped(side: Side, quote: Decimal, slippage_bps: Decimal) -> Decimal:
    """The quote moved against the trader by the slippage, rounded against the trader too."""
    factor = slippage_bps / BPS
    if side is Side.BUY:
        return (quote * (1 + factor)).quantize(PRICE_STEP, rounding=ROUND_CEILING)
    return (quote * (1 - factor)).quantize(PRICE_STEP, rounding=ROUND_FLOOR)


def stop_triggered(side: Side, stop: Decimal, quote: Decimal) -> bool:
    """A buy stop fires when the price rises to it, a sell stop when it falls to it."""
    return quote >= stop if side is Side.BUY else quote <= stop


def limit_reached(side: Side, limit: Decimal, quote: Decimal) -> bool:
    """Marketable: a buy limit at or above the quote, a sell limit at or below it."""
    return quote <= limit if side is Side.BUY else quote >= limit


def fill_price(
    side: Side, order_type: OrderType, quote: Decimal, costs: Costs, limit: Decimal | None = None
) -> Decimal | None:
    """The price an order (already triggered, for stops) fills at against ``quote``, or None
    while it may not fill. Never better for the trader than the quote or the limit."""
    price = slipped(side, quote, costs.slippage_bps)
    if order_type in (OrderType.MARKET, OrderType.STOP):
        return price
    if limit is None:
        raise ValueError(f"a {order_type} order needs a limit price")
    if not limit_reached(side, limit, price):
        return None
    return max(limit, price) if side is Side.BUY else min(limit, price)


def fillable_qty(
    volume: Decimal | None, price: Decimal, share: Decimal, *, volume_in_cash: bool
) -> Decimal | None:
    """The most one fill may take at a quote: ``share`` of the volume the quote reports (in
    units, or in cash for crypto pairs, whose volume is quoted in dollars), rounded down; None
    when nothing limits it (no share set, or no volume reported)."""
    if share <= 0 or volume is None or volume <= 0:
        return None
    units = volume / price if volume_in_cash else volume
    return (units * share).quantize(QTY_STEP, rounding=ROUND_DOWN)


def notional_qty(notional: Decimal, price: Decimal) -> Decimal:
    """The quantity a cash amount buys at ``price`` (fractional, rounded down: never more
    than the amount)."""
    return (notional / price).quantize(QTY_STEP, rounding=ROUND_DOWN)


def gross(side: Side, qty: Decimal, price: Decimal) -> Decimal:
    """Cash a fill moves before fees: a buy's cost rounded up, a sale's proceeds down."""
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (qty * price).quantize(CENT, rounding=rounding)


def fee(amount: Decimal, costs: Costs) -> Decimal:
    """The fee on a fill of ``amount``: ``fee_bps`` of it, at least the minimum (0: free)."""
    if costs.fee_bps == 0 and costs.fee_minimum == 0:
        return Decimal(0)
    proportional = (amount * costs.fee_bps / BPS).quantize(CENT, rounding=ROUND_CEILING)
    return max(proportional, costs.fee_minimum)


def buy_reservation(
    qty: Decimal | None,
    notional: Decimal | None,
    price: Decimal,
    costs: Costs,
) -> Decimal:
    """Cash an open buy holds back: the most it can cost at ``price`` (its limit, or the
    slipped quote for a market or stop order), fees included."""
    amount = notional if notional is not None else gross(Side.BUY, qty or Decimal(0), price)
    return amount + fee(amount, costs)
