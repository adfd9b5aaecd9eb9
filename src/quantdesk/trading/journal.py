"""The double-entry journal: the one way money and shares move in a paper account.

``post_transaction`` writes a transaction whose entries sum to zero per instrument and, in the
same database transaction, moves the balances they touch (the account's cash, a position's
quantity, cost basis and realized P&L) under the account's row lock. It checks everything before
it writes anything, so a refused posting leaves the session as it found it. Entries are never
changed afterwards: ``reverse`` undoes a transaction with a correcting one.

For the orders work, a fill and its fee are posted like this (in the request's or the job's
transaction; ``entries`` builds the balanced legs, ``reservations`` holds cash for open orders)::

    await reservations.release_cash(session, owner_id=o, account_id=a, amount=held_for_order)
    await journal.post_transaction(
        session, account, TransactionKind.FILL,
        entries.fill_entries(symbol="AAPL", qty=Decimal("10"), price=Decimal("187.12")),
        price=Decimal("187.12"), reference=f"order:{order.id}", idempotency_key=f"fill:{fill.id}",
    )
    await journal.post_transaction(
        session, account, TransactionKind.FEE, entries.fee_entries(Decimal("0.35")),
        reference=f"order:{order.id}", symbol="AAPL",
    )

Release an order's own reservation before posting its fill: a posting never spends what is
reserved for other orders (cash beyond buying power, quantity beyond the unreserved).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import utcnow
from quantdesk.models import (
    Book,
    JournalEntry,
    JournalTransaction,
    PaperAccount,
    Position,
    TransactionKind,
)
from quantdesk.trading import costing, repository
from quantdesk.trading.entries import Entry, check_entries
from quantdesk.trading.errors import (
    AccountNotFound,
    AlreadyReversed,
    IdempotencyKeyReused,
    InsufficientFunds,
    InsufficientQuantity,
    NotReversible,
    TransactionNotFound,
    UnbalancedTransaction,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class Posting:
    """A written transaction; ``replayed`` when an idempotency key returned an earlier one."""

    transaction: JournalTransaction
    entries: list[JournalEntry]
    replayed: bool = False


def _same_movement(entries: Iterable[JournalEntry], wanted: Sequence[Entry]) -> bool:
    def key(e: JournalEntry | Entry) -> tuple[str, str, Decimal]:
        return (e.book, e.instrument, e.amount)

    return sorted(map(key, entries)) == sorted(map(key, wanted))


def _describe(transaction: JournalTransaction, entries: Sequence[JournalEntry]) -> str:
    cash = sum((e.amount for e in entries if e.book == Book.CASH), ZERO)
    return f"a {transaction.kind} of {format(abs(cash).normalize(), 'f')}"


# --- Posting -----------------------------------------------------------------------------------


_LOCKED_ACCOUNTS = "quantdesk.trading.locked_accounts"


async def lock_account(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> PaperAccount:
    """The account, row-locked until the transaction ends (every balance change takes this lock
    first, so they happen one at a time per account); 404 when it is not the owner's.

    Taken once per transaction: an order that reserves, fills and pays a fee asks for it four
    times, and while this transaction holds the lock nobody else can have changed the row."""
    transaction = session.get_transaction()
    held: dict[uuid.UUID, tuple[object, PaperAccount]] = session.info.setdefault(
        _LOCKED_ACCOUNTS, {}
    )
    found = held.get(account_id)
    if found is not None and found[0] is transaction and found[1].owner_id == owner_id:
        return found[1]
    account = await repository.get_account(
        session, owner_id=owner_id, account_id=account_id, lock=True
    )
    if account is None:
        raise AccountNotFound()
    held[account_id] = (transaction, account)
    return account


async def post_transaction(
    session: AsyncSession,
    account: PaperAccount,
    kind: str,
    entries: Sequence[Entry],
    *,
    reference: str | None = None,
    memo: str | None = None,
    symbol: str | None = None,
    price: Decimal | None = None,
    idempotency_key: str | None = None,
    key_is_new: bool = False,
) -> Posting:
    """Write one balanced transaction and move the balances it touches; flushes, never commits.

    - ``entries`` must sum to zero per instrument and fit ``kind`` (see the ``*_entries``
      builders), else ``UnbalancedTransaction`` and nothing is written.
    - Cash never goes below zero, and a posting that lowers cash or a position may not dip into
      what is reserved for open orders: ``InsufficientFunds`` / ``InsufficientQuantity`` (422).
    - ``idempotency_key`` (unique per account): the same key with the same kind and entries
      returns the first posting (``replayed=True``); with others it is ``IdempotencyKeyReused``.
    - ``key_is_new``: the key was just made (a new fill's id), so no earlier posting can hold it:
      the look for one is skipped.
    - ``symbol`` defaults to the fill's symbol; ``price`` is a fill's execution price.
    """
    check_entries(kind, entries, account.currency)
    _check_texts(reference=reference, memo=memo, symbol=symbol, idempotency_key=idempotency_key)
    return await _post(
        session,
        account,
        kind,
        entries,
        reference=reference,
        memo=memo,
        symbol=symbol,
        price=price,
        idempotency_key=idempotency_key,
        key_is_new=key_is_new,
    )


# The columns' lengths: a longer value is the caller's bug, refused before anything is written.
_TEXT_LIMITS = {"reference": 200, "memo": 500, "symbol": 32, "idempotency_key": 128}


def _check_texts(**values: str | None) -> None:
    for name, value in values.items():
        if value is not None and not 0 < len(value) <= _TEXT_LIMITS[name]:
            raise UnbalancedTransaction(f"{name} has 1 to {_TEXT_LIMITS[name]} characters")


@dataclass
class _PositionChange:
    position: Position
    holding: costing.Holding
    last_price: Decimal | None
    is_new: bool


async def _post(
    session: AsyncSession,
    account: PaperAccount,
    kind: str,
    entries: Sequence[Entry],
    *,
    reverses: JournalTransaction | None = None,
    reference: str | None = None,
    memo: str | None = None,
    symbol: str | None = None,
    price: Decimal | None = None,
    idempotency_key: str | None = None,
    key_is_new: bool = False,
) -> Posting:
    account = await lock_account(session, owner_id=account.owner_id, account_id=account.id)
    if idempotency_key is not None and not key_is_new:
        earlier = await _replay(session, account, kind, entries, idempotency_key)
        if earlier is not None:
            return earlier
    # Every check before the first write: a refusal leaves the session untouched.
    new_cash = _checked_cash(account, entries)
    changes = await _checked_positions(session, account, entries, price=price, reverses=reverses)
    moved = [e.instrument for e in entries if e.book == Book.POSITION]
    transaction = JournalTransaction(
        id=uuid.uuid4(),
        account_id=account.id,
        owner_id=account.owner_id,
        kind=kind,
        symbol=symbol or (moved[0] if moved else None),
        price=price,
        reference=reference,
        memo=memo,
        idempotency_key=idempotency_key,
        reverses_id=reverses.id if reverses else None,
        created_at=_next_moment(account),
    )
    rows = [
        JournalEntry(
            transaction_id=transaction.id,
            account_id=account.id,
            owner_id=account.owner_id,
            book=e.book,
            instrument=e.instrument,
            amount=e.amount,
        )
        for e in entries
    ]
    if idempotency_key is None or key_is_new:  # no key another posting could hold
        session.add(transaction)
        await session.flush()
        session.add_all(rows)
        await session.flush()
        return await _applied(session, account, transaction, rows, changes, new_cash)
    try:
        async with session.begin_nested():
            session.add(transaction)
            await session.flush()
            session.add_all(rows)
            await session.flush()
    except IntegrityError:
        # Only a writer that skipped the account lock could have taken the key meanwhile:
        # answer with what it stored, exactly as if it had been found above.
        earlier = None
        if idempotency_key is not None:
            earlier = await _replay(session, account, kind, entries, idempotency_key)
        if earlier is None:
            raise
        return earlier
    return await _applied(session, account, transaction, rows, changes, new_cash)


async def _applied(
    session: AsyncSession,
    account: PaperAccount,
    transaction: JournalTransaction,
    rows: list[JournalEntry],
    changes: list[_PositionChange],
    new_cash: Decimal,
) -> Posting:
    """Move the balances of a written transaction (flushed: a CHECK speaks here)."""
    account.cash = new_cash
    account.updated_at = transaction.created_at
    for change in changes:
        _store(session, change, now=transaction.created_at)
    await session.flush()
    return Posting(transaction, rows)


def _next_moment(account: PaperAccount) -> datetime:
    """Now, but strictly after the account's last change: under the account lock this keeps an
    account's transactions in posting order by time (activities order by it), whatever the
    clock's resolution or a step back of the clock."""
    return max(utcnow(), account.updated_at + timedelta(microseconds=1))


async def _replay(
    session: AsyncSession,
    account: PaperAccount,
    kind: str,
    entries: Sequence[Entry],
    key: str,
) -> Posting | None:
    """The earlier posting of ``key`` if it is this same movement; 409 if it is another."""
    earlier = await repository.get_transaction_by_key(
        session, owner_id=account.owner_id, account_id=account.id, key=key
    )
    if earlier is None:
        return None
    found = await repository.entries_of(
        session, owner_id=account.owner_id, transaction_ids=[earlier.id]
    )
    if earlier.kind != kind or not _same_movement(found[earlier.id], entries):
        was = _describe(earlier, found[earlier.id])
        raise IdempotencyKeyReused(key, was=was, transaction_id=earlier.id)
    return Posting(earlier, found[earlier.id], replayed=True)


def _checked_cash(account: PaperAccount, entries: Sequence[Entry]) -> Decimal:
    """Cash after ``entries``; refused below what is reserved (so below zero) when it falls."""
    change = sum((e.amount for e in entries if e.book == Book.CASH), ZERO)
    new_cash = account.cash + change
    if change < 0 and new_cash < account.reserved:
        available = max(account.cash - account.reserved, ZERO)
        raise InsufficientFunds(wanted=-change, available=available)
    return new_cash


async def _checked_positions(
    session: AsyncSession,
    account: PaperAccount,
    entries: Sequence[Entry],
    *,
    price: Decimal | None,
    reverses: JournalTransaction | None,
) -> list[_PositionChange]:
    """What each touched position becomes, checked, not yet stored."""
    changes: list[_PositionChange] = []
    for move in (e for e in entries if e.book == Book.POSITION):
        symbol = move.instrument
        position = await repository.get_position(
            session, owner_id=account.owner_id, account_id=account.id, symbol=symbol
        )
        is_new = position is None
        last_price: Decimal | None
        if position is None:
            position = _empty_position(account, symbol)
        if reverses is None:
            cash = next(e.amount for e in entries if e.book == Book.CASH)
            holding = _after_fill(position, move, abs(cash))
            last_price = price if price is not None else _unit_price(cash, move.amount)
        else:
            holding, last_price = await _without_fill(session, account, symbol, reverses)
        if move.amount < 0 and holding.qty < position.reserved_qty:
            available = max(position.qty - position.reserved_qty, ZERO)
            raise InsufficientQuantity(symbol=symbol, wanted=-move.amount, available=available)
        changes.append(_PositionChange(position, holding, last_price, is_new))
    return changes


def _empty_position(account: PaperAccount, symbol: str) -> Position:
    return Position(
        account_id=account.id,
        symbol=symbol,
        owner_id=account.owner_id,
        qty=ZERO,
        cost_basis=ZERO,
        realized_pnl=ZERO,
        reserved_qty=ZERO,
        last_fill_price=None,
    )


def _unit_price(cash: Decimal, qty: Decimal) -> Decimal:
    return (abs(cash) / abs(qty)).quantize(costing.STORED_PLACES, ROUND_HALF_EVEN)


def _after_fill(position: Position, move: Entry, value: Decimal) -> costing.Holding:
    current = costing.Holding(position.qty, position.cost_basis, position.realized_pnl)
    try:
        return costing.apply_fill(current, qty=move.amount, value=value)
    except costing.Oversold as exc:
        raise InsufficientQuantity(
            symbol=move.instrument, wanted=exc.sold, available=exc.held
        ) from exc


async def _without_fill(
    session: AsyncSession, account: PaperAccount, symbol: str, reversed_fill: JournalTransaction
) -> tuple[costing.Holding, Decimal | None]:
    """The position rebuilt from its fills but ``reversed_fill``, and the last one's price:
    average cost depends on the order of fills, so undoing one replays the others."""
    fills = await repository.effective_fills(
        session, owner_id=account.owner_id, account_id=account.id, symbol=symbol
    )
    remaining = [f for f in fills if f.transaction_id != reversed_fill.id]
    try:
        holding = costing.replay((f.qty, abs(f.cash)) for f in remaining)
    except costing.Oversold as exc:
        raise InsufficientQuantity(symbol=symbol, wanted=exc.sold, available=exc.held) from exc
    if not remaining:
        return holding, None
    last = remaining[-1]
    return holding, last.price if last.price is not None else _unit_price(last.cash, last.qty)


def _store(session: AsyncSession, change: _PositionChange, *, now: datetime) -> None:
    position, holding = change.position, change.holding
    position.qty = holding.qty
    position.cost_basis = holding.cost_basis
    position.realized_pnl = holding.realized_pnl
    position.last_fill_price = change.last_price
    position.updated_at = now
    if change.is_new:
        session.add(position)


# --- Reversal ----------------------------------------------------------------------------------


async def reverse(
    session: AsyncSession, *, owner_id: uuid.UUID, transaction_id: uuid.UUID, reason: str
) -> Posting:
    """Undo a transaction with a correcting one (every entry mirrored, ``reverses_id`` set):
    the journal keeps both, so the mistake and its correction stay on record.

    A transaction is reversed at most once (409), a correction that reverses is not itself
    reversible (post the original movement again instead), and the reversal must still be
    payable (reversing a deposit that was since withdrawn is ``InsufficientFunds``).
    """
    if not reason.strip():
        raise InvalidInput("Say why the transaction is reversed", field="reason")
    original = await repository.get_transaction(
        session, owner_id=owner_id, transaction_id=transaction_id
    )
    if original is None:
        raise TransactionNotFound()
    if original.reverses_id is not None:
        raise NotReversible()
    account = await lock_account(session, owner_id=owner_id, account_id=original.account_id)
    if await repository.get_reversal(session, owner_id=owner_id, transaction_id=original.id):
        raise AlreadyReversed()
    found = await repository.entries_of(session, owner_id=owner_id, transaction_ids=[original.id])
    mirrored = [Entry(e.book, e.instrument, -e.amount) for e in found[original.id]]
    # The original's kind says which books the mirror may move (a fill's position, say).
    check_entries(original.kind, mirrored, account.currency, mirrored=True)
    return await _post(
        session,
        account,
        TransactionKind.CORRECTION,
        mirrored,
        reverses=original,
        reference=f"reverses:{original.id}",
        memo=reason,
        symbol=original.symbol,
        price=original.price,
    )
