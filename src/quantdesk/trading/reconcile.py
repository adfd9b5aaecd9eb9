"""Reconcile: the ledger's invariants written once, checked by the API, the CLI and the tests.

From the journal alone it rebuilds cash, each position's quantity and (replaying the fills not
reversed at average cost) its cost basis and realized P&L, compares them with the stored
balances, and lists every transaction whose entries do not sum to zero per instrument. Any
difference is a bug: ``balanced`` is the only outcome the ledger allows.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.models import Position
from quantdesk.trading import costing, repository
from quantdesk.trading.repository import FillRow
from quantdesk.trading.schemas import PositionCheck, ReconcileReport
from quantdesk.trading.service import get_account

ZERO = Decimal(0)


async def reconcile(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> ReconcileReport:
    """The account's stored balances against its journal (see the module's docstring)."""
    account = await get_account(session, owner_id=owner_id, account_id=account_id)
    totals = await repository.ledger_totals(session, owner_id=owner_id, account_id=account_id)
    stored = {
        p.symbol: p
        for p in await repository.list_positions(session, owner_id=owner_id, account_id=account_id)
    }
    fills: dict[str, list[FillRow]] = defaultdict(list)
    for fill in await repository.effective_fills(session, owner_id=owner_id, account_id=account_id):
        fills[fill.symbol].append(fill)
    checks = [
        _check(symbol, totals.positions.get(symbol, ZERO), stored.get(symbol), fills[symbol])
        for symbol in sorted(set(stored) | set(totals.positions))
    ]
    cash_ledger = totals.cash.get(account.currency, ZERO)
    foreign_cash = any(c != account.currency and v != 0 for c, v in totals.cash.items())
    balanced = (
        cash_ledger == account.cash
        and not foreign_cash
        and all(_agrees(c) for c in checks)
        and not totals.unbalanced
    )
    return ReconcileReport(
        account_id=account.id,
        currency=account.currency,
        cash_ledger=cash_ledger,
        cash_balance=account.cash,
        cash_difference=account.cash - cash_ledger,
        positions=checks,
        unbalanced_transactions=totals.unbalanced,
        balanced=balanced,
    )


def _check(
    symbol: str, ledger_qty: Decimal, position: Position | None, fills: list[FillRow]
) -> PositionCheck:
    try:
        replayed: costing.Holding | None = costing.replay((f.qty, abs(f.cash)) for f in fills)
    except costing.Oversold:
        replayed = None  # fills that sell more than was bought: the journal itself is wrong
    stored = (
        costing.Holding(position.qty, position.cost_basis, position.realized_pnl)
        if position
        else costing.Holding()
    )
    return PositionCheck(
        symbol=symbol,
        ledger_qty=ledger_qty,
        stored_qty=stored.qty,
        difference=stored.qty - ledger_qty,
        ledger_cost_basis=replayed.cost_basis if replayed else None,
        stored_cost_basis=stored.cost_basis,
        ledger_realized_pnl=replayed.realized_pnl if replayed else None,
        stored_realized_pnl=stored.realized_pnl,
    )


def _agrees(check: PositionCheck) -> bool:
    return (
        check.difference == 0
        and check.ledger_cost_basis == check.stored_cost_basis
        and check.ledger_realized_pnl == check.stored_realized_pnl
    )
