"""The arithmetic of paper orders: slippage against the trader, limits never better than the
quote, stops that fire on touch, cents rounded against the trader, fees with a minimum."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from quantdesk.trading.rules import (
    Costs,
    OrderType,
    Side,
    buy_reservation,
    fee,
    fill_price,
    fillable_qty,
    gross,
    notional_qty,
    slipped,
    stop_triggered,
)

FREE = Costs()
SLIP = Costs(slippage_bps=D(10))  # 0.1 %


def test_slippage_moves_the_price_against_the_trader() -> None:
    assert slipped(Side.BUY, D("100"), D(10)) == D("100.1")
    assert slipped(Side.SELL, D("100"), D(10)) == D("99.9")
    assert slipped(Side.BUY, D("0.333333"), D(1)) == D("0.333367")  # rounded up for a buy


def test_a_market_order_fills_at_the_slipped_quote() -> None:
    assert fill_price(Side.BUY, OrderType.MARKET, D("50"), SLIP) == D("50.05")
    assert fill_price(Side.SELL, OrderType.MARKET, D("50"), SLIP) == D("49.95")


@pytest.mark.parametrize(
    ("side", "limit", "quote", "expected"),
    [
        (Side.BUY, D("100"), D("101"), None),  # not reached yet
        (Side.BUY, D("100"), D("100"), D("100")),
        (Side.BUY, D("100"), D("95"), D("100")),  # the worse of limit and quote: the limit
        (Side.SELL, D("100"), D("99"), None),
        (Side.SELL, D("100"), D("105"), D("100")),
    ],
)
def test_a_limit_fills_at_the_worse_of_its_price_and_the_quote(
    side: Side, limit: D, quote: D, expected: D | None
) -> None:
    assert fill_price(side, OrderType.LIMIT, quote, FREE, limit) == expected


def test_a_limit_is_never_better_than_the_slipped_quote() -> None:
    # The quote 99.95 slips to 100.05 for a buy: above a 100 limit, so it does not fill yet.
    assert fill_price(Side.BUY, OrderType.LIMIT, D("99.95"), SLIP, D("100")) is None
    price = fill_price(Side.BUY, OrderType.LIMIT, D("99.8"), SLIP, D("100"))
    assert price == D("100")
    assert price >= slipped(Side.BUY, D("99.8"), SLIP.slippage_bps)


def test_stops_fire_when_the_price_touches_them() -> None:
    assert stop_triggered(Side.BUY, D("110"), D("110"))
    assert not stop_triggered(Side.BUY, D("110"), D("109.99"))
    assert stop_triggered(Side.SELL, D("90"), D("89"))
    assert not stop_triggered(Side.SELL, D("90"), D("90.01"))


def test_cash_rounds_to_the_cent_against_the_trader() -> None:
    assert gross(Side.BUY, D("3"), D("0.333333")) == D("1.00")  # 0.999999 up
    assert gross(Side.SELL, D("3"), D("0.333333")) == D("0.99")  # down
    assert notional_qty(D("100"), D("3")) == D("33.333333333")


def test_fees_have_a_minimum_and_free_means_free() -> None:
    costs = Costs(fee_bps=D(5), fee_minimum=D("1.00"))
    assert fee(D("1000"), costs) == D("1.00")  # 0.50 is under the minimum
    assert fee(D("10000"), costs) == D("5.00")
    assert fee(D("123.45"), FREE) == 0


def test_a_buy_reserves_its_most_expensive_outcome() -> None:
    costs = Costs(fee_bps=D(10))
    assert buy_reservation(D("2"), None, D("100.005"), costs) == D("200.01") + D("0.21")
    assert buy_reservation(None, D("500"), D("1"), FREE) == D("500")


def test_a_fill_takes_at_most_its_share_of_the_quote_s_volume() -> None:
    share = D("0.025")
    assert fillable_qty(D(1_000), D(50), share, volume_in_cash=False) == D(25)  # shares
    # a crypto pair's volume is in dollars: 40,000 / 100 = 400 coins, 2.5 % of them
    assert fillable_qty(D(40_000), D(100), share, volume_in_cash=True) == D(10)
    assert fillable_qty(D(1), D(3), share, volume_in_cash=True) == D("0.008333333")  # rounded down
    assert fillable_qty(None, D(100), share, volume_in_cash=False) is None  # no volume: no limit
    assert fillable_qty(D(1_000), D(100), D(0), volume_in_cash=False) is None  # limit off
