"""Business rules of paper accounts: open, read and rename them, move cash in and out, value
them, reconcile them with their journal, and list their activities.

Every balance change goes through ``trading.journal`` (double entry, under the account's lock);
this module only decides which movement a request is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import as_utc, utcnow
from quantdesk.kit.pagination import Page, decode_time_id, newest_first_page
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import StoredValue
from quantdesk.models import (
    Book,
    JournalEntry,
    JournalTransaction,
    PaperAccount,
    Position,
    TransactionKind,
)
from quantdesk.trading import costing, entries, journal, repository
from quantdesk.trading.errors import AccountNotFound
from quantdesk.trading.prices import from_stored
from quantdesk.trading.repository import Direction
from quantdesk.trading.schemas import (
    ACTIVITY_TYPES,
    KINDS_BY_ACTIVITY_TYPE,
    AccountCreate,
    AccountDetail,
    AccountOut,
    ActivityOut,
    EntryOut,
    Movement,
    MovementOut,
    PositionOut,
)

ZERO = Decimal(0)
BASE_CURRENCY = "USD"
STARTING_CASH_REFERENCE = "starting_cash"


# --- Accounts ----------------------------------------------------------------------------------


def account_out(account: PaperAccount) -> AccountOut:
    return AccountOut(
        id=account.id,
        name=account.name,
        currency=account.currency,
        cash=account.cash,
        reserved=account.reserved,
        buying_power=account.cash - account.reserved,
        created_at=account.created_at,
        updated_at=account.updated_at,
    )


async def get_account(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID
) -> PaperAccount:
    """The owner's account; another user's is as absent as a missing one (404)."""
    account = await repository.get_account(session, owner_id=owner_id, account_id=account_id)
    if account is None:
        raise AccountNotFound()
    return account


async def create_account(
    session: AsyncSession, *, owner_id: uuid.UUID, data: AccountCreate
) -> PaperAccount:
    """A new USD account; ``starting_cash`` goes in through the journal as its first deposit,
    so even the opening balance reconciles."""
    now = utcnow()
    account = PaperAccount(
        owner_id=owner_id,
        name=data.name,
        currency=BASE_CURRENCY,
        cash=ZERO,
        reserved=ZERO,
        created_at=now,
        updated_at=now,
    )
    session.add(account)
    await session.flush()
    if data.starting_cash > 0:
        amount = entries.to_cents(data.starting_cash)
        await journal.post_transaction(
            session,
            account,
            TransactionKind.DEPOSIT,
            entries.deposit_entries(amount, account.currency),
            reference=STARTING_CASH_REFERENCE,
        )
    return account


async def list_accounts(
    session: AsyncSession, *, owner_id: uuid.UUID, limit: int, cursor: str | None = None
) -> Page[AccountOut]:
    """The owner's accounts, newest first."""
    rows = await repository.list_accounts(
        session, owner_id=owner_id, limit=limit + 1, before=decode_time_id(cursor)
    )
    page, next_cursor = newest_first_page(rows, limit)
    return Page[AccountOut](items=[account_out(a) for a in page], next_cursor=next_cursor)


async def rename_account(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, name: str
) -> PaperAccount:
    account = await get_account(session, owner_id=owner_id, account_id=account_id)
    if name != account.name:
        account.name = name
        account.updated_at = utcnow()
        await session.flush()
    return account


# --- Valuation ---------------------------------------------------------------------------------


async def account_summary(
    session: AsyncSession,
    account: PaperAccount,
    prices: Mapping[str, Decimal],
    quotes: Mapping[str, StoredValue] | None = None,
) -> AccountDetail:
    """The account valued at ``prices`` (symbol -> current price, e.g. quotes from the orders
    work); a held symbol missing from ``prices`` is valued at its last fill price and says so
    (``price_source``). Equity is cash plus the open positions at those prices, never at cost."""
    rows = await repository.list_positions(
        session, owner_id=account.owner_id, account_id=account.id
    )
    positions = [_position_out(p, prices, quotes or {}) for p in rows if p.qty > 0]
    long_value = sum((p.market_value for p in positions), ZERO)
    return AccountDetail(
        **account_out(account).model_dump(),
        long_market_value=long_value,
        equity=account.cash + long_value,
        positions=positions,
    )


def _position_out(
    position: Position, prices: Mapping[str, Decimal], quotes: Mapping[str, StoredValue]
) -> PositionOut:
    price, source = prices.get(position.symbol), "quote"
    if price is None:
        price, source = position.last_fill_price, "last_fill"
    quote = quotes.get(position.symbol) if source == "quote" else None
    value = entries.to_cents(position.qty * price) if price is not None else position.cost_basis
    holding = costing.Holding(position.qty, position.cost_basis, position.realized_pnl)
    return PositionOut(
        symbol=position.symbol,
        qty=position.qty,
        reserved_qty=position.reserved_qty,
        cost_basis=position.cost_basis,
        avg_entry_price=holding.average_price,
        realized_pnl=position.realized_pnl,
        price=price,
        price_source=source if price is not None else None,
        price_as_of=quote.as_of if quote is not None else None,
        price_stale=quote.stale if quote is not None else None,
        quote_source=quote.source if quote is not None else None,
        market_value=value,
        unrealized_pnl=value - position.cost_basis,
    )


async def get_account_detail(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    stale_after_seconds: float = 60.0,
) -> AccountDetail:
    """``account_summary`` at the latest quotes the market-data engine holds (each marked stale
    when older than ``stale_after_seconds``; nothing is fetched here: the open positions'
    symbols are what the engine keeps fresh), a position never quoted at its last fill."""
    account = await get_account(session, owner_id=owner_id, account_id=account_id)
    held = await repository.list_positions(session, owner_id=owner_id, account_id=account.id)
    symbols = [p.symbol for p in held if p.qty > 0]
    stored = await store.read_values(
        session, [(s, "quote") for s in symbols],
        ttls={"quote": max(1, int(stale_after_seconds))}, now=utcnow(),
    )  # fmt: skip
    quotes: dict[str, StoredValue] = {}
    prices: dict[str, Decimal] = {}
    for value in stored:
        found = from_stored(value.value, value.as_of, value.source, fresh=not value.stale)
        if value.symbol is not None and found is not None:
            quotes[value.symbol], prices[value.symbol] = value, found.price
    return await account_summary(session, account, prices=prices, quotes=quotes)


# --- Deposits and withdrawals ------------------------------------------------------------------


async def move_cash(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    kind: str,
    data: Movement,
) -> MovementOut:
    """A deposit or a withdrawal, once per idempotency key (see ``journal.post_transaction``):
    the same key and amount answer the first movement again (``replayed``), another amount or
    kind under the key is a 409, a withdrawal beyond buying power a 422 that changes nothing."""
    account = await get_account(session, owner_id=owner_id, account_id=account_id)
    amount = entries.to_cents(data.amount)
    build = (
        entries.deposit_entries if kind == TransactionKind.DEPOSIT else entries.withdrawal_entries
    )
    posting = await journal.post_transaction(
        session,
        account,
        kind,
        build(amount, account.currency),
        memo=data.memo or None,  # an empty memo is no memo
        idempotency_key=data.idempotency_key,
    )
    return MovementOut(
        **activity_out(posting.transaction, posting.entries).model_dump(),
        idempotency_key=posting.transaction.idempotency_key,
        replayed=posting.replayed,
    )


# --- Activities --------------------------------------------------------------------------------


def activity_out(transaction: JournalTransaction, rows: list[JournalEntry]) -> ActivityOut:
    cash = sum((e.amount for e in rows if e.book == Book.CASH), ZERO)
    qty = next((e.amount for e in rows if e.book == Book.POSITION), None)
    return ActivityOut(
        id=transaction.id,
        account_id=transaction.account_id,
        activity_type=ACTIVITY_TYPES[transaction.kind],
        kind=transaction.kind,
        created_at=transaction.created_at,
        net_amount=cash,
        symbol=transaction.symbol,
        qty=qty,
        price=transaction.price,
        reference=transaction.reference,
        memo=transaction.memo,
        reverses_id=transaction.reverses_id,
        entries=[EntryOut(book=e.book, instrument=e.instrument, amount=e.amount) for e in rows],
    )


def client_time(moment: datetime | None, field: str) -> datetime | None:
    """A client's time in UTC (naive taken as UTC); one that leaves the range in UTC is a 422."""
    if moment is None:
        return None
    try:
        return as_utc(moment)
    except OverflowError as exc:
        raise InvalidInput(
            f"{field} is out of range", field=field, reason="outside years 1 to 9999 once in UTC"
        ) from exc


def parse_activity_types(types: str | None) -> list[str]:
    """``CSD,CSW,…`` (any case) as journal kinds; all kinds when absent; 422 naming the first
    unknown code."""
    if not types or not types.strip():
        return list(ACTIVITY_TYPES)
    kinds = []
    for code in (part.strip().upper() for part in types.split(",")):
        if not code:
            continue
        if code not in KINDS_BY_ACTIVITY_TYPE:
            known = ", ".join(KINDS_BY_ACTIVITY_TYPE)
            raise InvalidInput(
                f"Unknown activity type {code!r}; known: {known}",
                field="types",
                reason=f"unknown activity type {code!r} (known: {known})",
            )
        kinds.append(KINDS_BY_ACTIVITY_TYPE[code])
    return kinds or list(ACTIVITY_TYPES)


async def list_activities(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    types: str | None = None,
    after: datetime | None = None,
    until: datetime | None = None,
    direction: Direction = "desc",
    limit: int,
    cursor: str | None = None,
) -> Page[ActivityOut]:
    """The account's journal transactions as activities, strictly after ``after`` and before
    ``until``, newest first (``desc``) or oldest first; keyset pages on (created_at, id), so a
    movement made between two pages never shifts or repeats a row."""
    kinds = parse_activity_types(types)
    if after is not None and until is not None and after >= until:
        raise InvalidInput("`after` must be before `until`", field="after")
    await get_account(session, owner_id=owner_id, account_id=account_id)
    rows = await repository.list_transactions(
        session,
        owner_id=owner_id,
        account_id=account_id,
        kinds=kinds,
        after=after,
        until=until,
        direction=direction,
        limit=limit + 1,
        start=decode_time_id(cursor),
    )
    page, next_cursor = newest_first_page(rows, limit)
    found = await repository.entries_of(
        session, owner_id=owner_id, transaction_ids=[t.id for t in page]
    )
    return Page[ActivityOut](
        items=[activity_out(t, found[t.id]) for t in page], next_cursor=next_cursor
    )
