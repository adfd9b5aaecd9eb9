"""Cash dividends for paper positions, from the market-data engine's ``dividend-history``.

A dividend is owed to the shares the journal shows held before its ex-date (bought on the
ex-date or later: none) and is paid on its payment date (its ex-date when the provider gives
none), as a ``DIV`` transaction (cash +, dividends book -) keyed by symbol and ex-date: run the
credit as often as you like, each dividend is paid once. A position sold out since the ex-date
is still paid. Amounts round to the cent, half to even, like every cash movement.

Provider I/O (a dividend history older than a day is fetched again) happens with no transaction
open; each payment is its own short transaction under the account's lock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.logging import get_logger
from quantdesk.market.engine.reads import fresh_value
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import TransactionKind
from quantdesk.trading import entries, journal, repository

_log = get_logger("quantdesk.trading")

DIVIDENDS = "dividend-history"
HISTORY_MAX_AGE_SECONDS = 86_400.0


@dataclass(frozen=True)
class Declared:
    symbol: str
    ex_date: dt.date
    pay_date: dt.date
    per_share: Decimal


@dataclass
class DividendRun:
    symbols: int = 0
    paid: int = 0
    already_paid: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)


def declared(symbol: str, value: object) -> list[Declared]:
    """The dividends of a stored ``dividend-history`` value (JSON), the unreadable ones left
    out."""
    found = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            ex_date = dt.date.fromisoformat(str(item["ex_date"]))
            paid_on = item.get("payment_date")
            pay_date = dt.date.fromisoformat(str(paid_on)) if paid_on else ex_date
            per_share = Decimal(str(item.get("adjusted_amount") or item["amount"]))
        except (KeyError, ValueError, InvalidOperation):
            continue
        if per_share.is_finite() and per_share > 0:
            found.append(Declared(symbol, ex_date, pay_date, per_share))
    return found


async def credit(
    db: Database, runtime: MarketRuntime, settings: Settings, *, today: dt.date
) -> DividendRun:
    """Pay every dividend due by ``today`` to the positions held before its ex-date."""
    run = DividendRun()
    async with db.transaction(system=True, readonly=True) as session:
        holdings = await repository.holdings_ever(session)
    by_symbol: dict[str, list[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(list)
    for owner_id, account_id, symbol in holdings:
        by_symbol[symbol].append((owner_id, account_id))
    run.symbols = len(by_symbol)
    for symbol, holders in by_symbol.items():
        history = await fresh_value(
            db, runtime=runtime, symbol=symbol, data_type=DIVIDENDS,
            max_age_seconds=HISTORY_MAX_AGE_SECONDS,
            budget_seconds=settings.market_read_budget_seconds,
        )  # fmt: skip
        for dividend in declared(symbol, history.value):
            if dividend.pay_date > today:
                continue
            for owner_id, account_id in holders:
                await _pay(db, run, owner_id, account_id, dividend)
    return run


async def _pay(
    db: Database, run: DividendRun, owner_id: uuid.UUID, account_id: uuid.UUID, dividend: Declared
) -> None:
    ex_start = dt.datetime.combine(dividend.ex_date, dt.time(0), dt.UTC)
    async with db.transaction(user_id=owner_id) as session:
        held = await repository.qty_held_before(
            session, owner_id=owner_id, account_id=account_id, symbol=dividend.symbol,
            before=ex_start,
        )  # fmt: skip
        amount = entries.to_cents(held * dividend.per_share)
        if amount <= 0:
            return
        account = await journal.lock_account(session, owner_id=owner_id, account_id=account_id)
        posting = await journal.post_transaction(
            session, account, TransactionKind.DIVIDEND,
            entries.dividend_entries(amount, account.currency), symbol=dividend.symbol,
            reference=f"dividend:{dividend.symbol}:{dividend.ex_date.isoformat()}",
            memo=f"{format(held.normalize(), 'f')} x {format(dividend.per_share, 'f')}",
            idempotency_key=f"div:{dividend.symbol}:{dividend.ex_date.isoformat()}",
        )  # fmt: skip
    if posting.replayed:
        run.already_paid += 1
        return
    run.paid += 1
    run.amounts[dividend.symbol] = run.amounts.get(dividend.symbol, Decimal(0)) + amount
