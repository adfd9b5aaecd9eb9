"""Average-cost arithmetic, pure and in one place: fills in, quantity, cost basis and realized
P&L out.

A buy adds its quantity and what it cost. A sale removes its share of the cost basis
(``cost_basis * sold / held``, rounded to the database's 10 places, half to even) and realizes
``proceeds - removed cost``; selling everything removes the whole cost basis, so no rounding
residue is ever left on a closed position. The same fold rebuilds a position from its fills
(``replay``), which is how a reversed fill is undone exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

ZERO = Decimal(0)
# The scale of every stored decimal (NUMERIC(38, 10)).
STORED_DECIMALS = 10
STORED_PLACES = Decimal(1).scaleb(-STORED_DECIMALS)
# Enough digits for 38-digit operands: no silent rounding in the default 28-digit context.
_PRECISION = 80


class Oversold(ValueError):
    """A sale of more than is held (positions are long only)."""

    def __init__(self, *, held: Decimal, sold: Decimal) -> None:
        self.held = held
        self.sold = sold
        super().__init__(f"cannot sell {sold}: only {held} held")


@dataclass(frozen=True)
class Holding:
    qty: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def average_price(self) -> Decimal | None:
        """Cost per unit held; None when nothing is held."""
        if self.qty == 0:
            return None
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return (self.cost_basis / self.qty).quantize(STORED_PLACES, ROUND_HALF_EVEN)


def apply_fill(holding: Holding, *, qty: Decimal, value: Decimal) -> Holding:
    """The holding after one fill: ``qty`` > 0 buys that cost ``value``, ``qty`` < 0 sells for
    proceeds ``value`` (``value`` is the fill's cash amount, never negative)."""
    if qty == 0 or value < 0:
        raise ValueError("a fill moves a non-zero quantity for a non-negative value")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if qty > 0:
            return Holding(holding.qty + qty, holding.cost_basis + value, holding.realized_pnl)
        sold = -qty
        if sold > holding.qty:
            raise Oversold(held=holding.qty, sold=sold)
        if sold == holding.qty:
            removed = holding.cost_basis
        else:
            removed = (holding.cost_basis * sold / holding.qty).quantize(
                STORED_PLACES, ROUND_HALF_EVEN
            )
        return Holding(
            holding.qty - sold,
            holding.cost_basis - removed,
            holding.realized_pnl + value - removed,
        )


def replay(fills: Iterable[tuple[Decimal, Decimal]]) -> Holding:
    """The holding that ``(qty, value)`` fills produce in order, from nothing."""
    holding = Holding()
    for qty, value in fills:
        holding = apply_fill(holding, qty=qty, value=value)
    return holding
