"""Journal entries: the balanced shapes of each kind of movement, and the checks every
transaction passes before it is written.

Builders return entries that sum to zero per instrument; ``check_entries`` refuses anything
else (``UnbalancedTransaction``), and entries that do not fit their kind: a position moves only
in a fill, cash and fees and dividends are in the account's currency, a currency amount has at
most 2 decimal places (whole cents) and a quantity at most 10 (the stored scale).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from quantdesk.models import Book, TransactionKind
from quantdesk.trading import costing
from quantdesk.trading.errors import UnbalancedTransaction

CENT_DECIMALS = 2
CENT = Decimal(1).scaleb(-CENT_DECIMALS)
MAX_SYMBOL_LENGTH = 32
# Far past any paper balance, well inside NUMERIC(38, 10)'s 28 integer digits.
MAX_MAGNITUDE = Decimal(10) ** 20
# The sign of the cash leg each kind must have (a reversal mirrors it).
_CASH_SIGN = {
    TransactionKind.DEPOSIT: 1,
    TransactionKind.WITHDRAWAL: -1,
    TransactionKind.FEE: -1,
    TransactionKind.DIVIDEND: 1,
}
# Which books each kind may touch; a position moves only in fills (and their reversals).
_BOOKS_OF_KIND: dict[str, frozenset[str]] = {
    TransactionKind.DEPOSIT: frozenset({Book.CASH, Book.COUNTERPARTY}),
    TransactionKind.WITHDRAWAL: frozenset({Book.CASH, Book.COUNTERPARTY}),
    TransactionKind.FILL: frozenset({Book.CASH, Book.POSITION, Book.COUNTERPARTY}),
    TransactionKind.FEE: frozenset({Book.CASH, Book.FEES}),
    TransactionKind.DIVIDEND: frozenset({Book.CASH, Book.DIVIDENDS}),
    TransactionKind.CORRECTION: frozenset(
        {Book.CASH, Book.COUNTERPARTY, Book.FEES, Book.DIVIDENDS}
    ),
}


@dataclass(frozen=True)
class Entry:
    """One leg of a transaction: ``amount`` of ``instrument`` into (+) or out of (-) ``book``."""

    book: str
    instrument: str
    amount: Decimal


def to_cents(value: Decimal) -> Decimal:
    """Rounded to whole cents, half to even (and never "-0.00")."""
    return value.quantize(CENT, ROUND_HALF_EVEN) + 0


def cash_pair(amount: Decimal, other_book: str, currency: str = "USD") -> list[Entry]:
    """Cash +``amount`` and ``other_book`` -``amount`` (a negative amount goes the other way)."""
    return [Entry(Book.CASH, currency, amount), Entry(other_book, currency, -amount)]


def deposit_entries(amount: Decimal, currency: str = "USD") -> list[Entry]:
    return cash_pair(amount, Book.COUNTERPARTY, currency)


def withdrawal_entries(amount: Decimal, currency: str = "USD") -> list[Entry]:
    return cash_pair(-amount, Book.COUNTERPARTY, currency)


def fee_entries(amount: Decimal, currency: str = "USD") -> list[Entry]:
    """A fee of ``amount`` (> 0): cash -amount, fees +amount."""
    return cash_pair(-amount, Book.FEES, currency)


def dividend_entries(amount: Decimal, currency: str = "USD") -> list[Entry]:
    """A dividend of ``amount`` (> 0) paid in: cash +amount, dividends -amount. Post it with
    ``symbol=`` so activities say which holding paid it."""
    return cash_pair(amount, Book.DIVIDENDS, currency)


def fill_entries(
    *, symbol: str, qty: Decimal, price: Decimal, currency: str = "USD"
) -> list[Entry]:
    """A fill of ``qty`` (> 0 buy, < 0 sell) at ``price``: the position moves by ``qty``, cash by
    the notional (``|qty| * price`` rounded to cents, half to even) the other way, and the
    counterparty (the market) mirrors both. A fill worth less than half a cent has no cash leg
    and is refused: the orders work enforces a minimum notional."""
    notional = to_cents(abs(qty) * price)
    cash = -notional if qty > 0 else notional
    return [
        *cash_pair(cash, Book.COUNTERPARTY, currency),
        Entry(Book.POSITION, symbol, qty),
        Entry(Book.COUNTERPARTY, symbol, -qty),
    ]


# --- Checks -----------------------------------------------------------------------------------


def check_entries(
    kind: str, entries: Sequence[Entry], currency: str, *, mirrored: bool = False
) -> None:
    """Refuse (``UnbalancedTransaction``) entries that do not balance per instrument, or that do
    not fit ``kind`` (``mirrored``: the reversal of a ``kind``): a bug of the caller, never
    written."""
    if kind not in _BOOKS_OF_KIND:
        raise UnbalancedTransaction(f"unknown transaction kind {kind!r}")
    if not entries:
        raise UnbalancedTransaction("a transaction has at least one entry")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for entry in entries:
        _check_entry(kind, entry, currency)
        sums[entry.instrument] += entry.amount
    off = {instrument: total for instrument, total in sums.items() if total != 0}
    if off:
        raise UnbalancedTransaction(f"entries do not sum to zero per instrument: {off}")
    if kind == TransactionKind.FILL:
        _check_fill_shape(entries)
    sign = _CASH_SIGN.get(kind, 0) * (-1 if mirrored else 1)
    if sign and any(e.amount * sign < 0 for e in entries if e.book == Book.CASH):
        raise UnbalancedTransaction(f"a {kind} moves cash the wrong way")


def _check_entry(kind: str, entry: Entry, currency: str) -> None:
    if entry.book not in _BOOKS_OF_KIND[kind]:
        raise UnbalancedTransaction(f"a {kind} cannot move the {entry.book} book")
    amount = entry.amount
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount == 0:
        raise UnbalancedTransaction(f"entry amounts are finite, non-zero Decimals: {amount!r}")
    if abs(amount) >= MAX_MAGNITUDE:
        raise UnbalancedTransaction(f"{amount} is beyond what an account can hold")
    places = CENT if entry.instrument == currency else costing.STORED_PLACES
    if amount != amount.quantize(places):
        raise UnbalancedTransaction(f"{amount} {entry.instrument} has more places than {places}")
    if entry.book in (Book.CASH, Book.FEES, Book.DIVIDENDS) and entry.instrument != currency:
        raise UnbalancedTransaction(f"the {entry.book} book holds {currency} only")
    if entry.book == Book.POSITION and not _is_symbol(entry.instrument, currency):
        raise UnbalancedTransaction(f"{entry.instrument!r} is not a symbol")


def _is_symbol(instrument: str, currency: str) -> bool:
    return bool(instrument) and len(instrument) <= MAX_SYMBOL_LENGTH and instrument != currency


def _check_fill_shape(entries: Sequence[Entry]) -> None:
    positions = [e for e in entries if e.book == Book.POSITION]
    cash = [e for e in entries if e.book == Book.CASH]
    if len(positions) != 1 or len(cash) != 1:
        raise UnbalancedTransaction("a fill moves exactly one position and cash once")
    if (positions[0].amount > 0) == (cash[0].amount > 0):
        raise UnbalancedTransaction("a buy pays cash and a sale receives it")
