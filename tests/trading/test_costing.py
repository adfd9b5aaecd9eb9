"""Average cost, by hand: buys add cost, sales remove their share of it and realize the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantdesk.trading.costing import Holding, Oversold, apply_fill, replay

D = Decimal


def test_buy_buy_partial_sale_then_full_sale() -> None:
    held = apply_fill(Holding(), qty=D(10), value=D(1000))  # 10 @ 100
    assert held == Holding(D(10), D(1000), D(0))
    held = apply_fill(held, qty=D(30), value=D(3600))  # 30 @ 120: average 115
    assert held == Holding(D(40), D(4600), D(0))
    assert held.average_price == D(115)
    held = apply_fill(held, qty=D(-10), value=D(1300))  # 10 sold @ 130: 1150 of cost goes
    assert held == Holding(D(30), D(3450), D(150))
    assert held.average_price == D(115)  # a sale leaves the average where it was
    held = apply_fill(held, qty=D(-30), value=D(3000))  # the rest @ 100: a loss of 450
    assert held == Holding(D(0), D(0), D(-300))
    assert held.average_price is None


def test_a_sale_of_a_third_rounds_the_removed_cost_and_a_full_sale_leaves_no_residue() -> None:
    held = replay([(D(3), D(100))])  # 33.333… a share
    held = apply_fill(held, qty=D(-1), value=D(40))
    assert held.cost_basis == D("66.6666666667")  # 100 - 33.3333333333
    assert held.realized_pnl == D("6.6666666667")
    held = apply_fill(held, qty=D(-2), value=D(80))
    assert (held.qty, held.cost_basis) == (D(0), D(0))
    assert held.realized_pnl == D(20)  # exactly: 120 received for 100 paid


def test_fractional_quantities_stay_exact() -> None:
    held = replay([(D("0.1"), D("3000.01")), (D("0.2"), D("6000.02")), (D("-0.15"), D("4600"))])
    assert held.qty == D("0.15")
    assert held.cost_basis == D("4500.015")
    assert held.realized_pnl == D("99.985")


def test_overselling_is_refused() -> None:
    with pytest.raises(Oversold) as raised:
        apply_fill(Holding(D(2), D(20), D(0)), qty=D(-3), value=D(30))
    assert (raised.value.held, raised.value.sold) == (D(2), D(3))
    with pytest.raises(Oversold):
        apply_fill(Holding(), qty=D(-1), value=D(1))


@pytest.mark.parametrize(("qty", "value"), [(D(0), D(1)), (D(1), D(-1))])
def test_a_fill_moves_something_for_something(qty: Decimal, value: Decimal) -> None:
    with pytest.raises(ValueError, match="non-zero"):
        apply_fill(Holding(), qty=qty, value=value)


def test_large_values_keep_every_digit() -> None:
    held = replay([(D("12345678.1234567891"), D("999999999999.99"))])
    after = apply_fill(held, qty=D("-0.0000000001"), value=D("0.01"))
    assert after.qty == D("12345678.1234567890")
    removed = held.cost_basis - after.cost_basis
    assert removed == D("0.0000081000")  # 999999999999.99 * 1e-10 / 12345678.1234567891
    assert after.realized_pnl == D("0.01") - removed
