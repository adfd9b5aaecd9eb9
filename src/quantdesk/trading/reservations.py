"""Reservations for open orders: cash and quantity set aside, so one order cannot spend what
another was promised.

No journal entry: reserved cash and shares are still the account's. Each call takes the
account's row lock, like every posting, so reservations and postings happen one at a time per
account. Buying power is ``cash - reserved``; a posting may not dip into either reservation.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.errors import InvalidInput
from quantdesk.models import PaperAccount, Position
from quantdesk.trading import costing, repository
from quantdesk.trading.entries import CENT_DECIMALS
from quantdesk.trading.errors import InsufficientFunds, InsufficientQuantity
from quantdesk.trading.journal import lock_account

ZERO = Decimal(0)


def _positive(value: Decimal, decimals: int, field: str) -> None:
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal(1).scaleb(-decimals)):
        raise InvalidInput(
            f"{field} must be positive with at most {decimals} decimal places", field=field
        )


async def reserve_cash(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, amount: Decimal
) -> PaperAccount:
    """Set ``amount`` of cash aside for an open buy order; more than the buying power is
    ``InsufficientFunds``. No journal entry: reserved cash is still the account's."""
    _positive(amount, CENT_DECIMALS, "amount")
    account = await lock_account(session, owner_id=owner_id, account_id=account_id)
    available = account.cash - account.reserved
    if amount > available:
        raise InsufficientFunds(wanted=amount, available=max(available, ZERO))
    account.reserved += amount
    await session.flush()
    return account


async def release_cash(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, amount: Decimal
) -> PaperAccount:
    """Give back cash reserved by ``reserve_cash`` (the order filled or was cancelled)."""
    _positive(amount, CENT_DECIMALS, "amount")
    account = await lock_account(session, owner_id=owner_id, account_id=account_id)
    if amount > account.reserved:
        raise InvalidInput(
            f"only {account.reserved} is reserved", field="amount", reason="more_than_reserved"
        )
    account.reserved -= amount
    await session.flush()
    return account


async def _held_position(
    session: AsyncSession, account: PaperAccount, symbol: str, qty: Decimal
) -> Position:
    position = await repository.get_position(
        session, owner_id=account.owner_id, account_id=account.id, symbol=symbol
    )
    if position is None:
        raise InsufficientQuantity(symbol=symbol, wanted=qty, available=ZERO)
    return position


async def reserve_qty(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    symbol: str,
    qty: Decimal,
) -> Position:
    """Set ``qty`` of a held symbol aside for an open sell order (long only: no more than is
    held and not yet reserved)."""
    _positive(qty, costing.STORED_DECIMALS, "qty")
    account = await lock_account(session, owner_id=owner_id, account_id=account_id)
    position = await _held_position(session, account, symbol, qty)
    available = position.qty - position.reserved_qty
    if qty > available:
        raise InsufficientQuantity(symbol=symbol, wanted=qty, available=max(available, ZERO))
    position.reserved_qty += qty
    await session.flush()
    return position


async def release_qty(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    symbol: str,
    qty: Decimal,
) -> Position:
    """Give back quantity reserved by ``reserve_qty``."""
    _positive(qty, costing.STORED_DECIMALS, "qty")
    account = await lock_account(session, owner_id=owner_id, account_id=account_id)
    position = await _held_position(session, account, symbol, qty)
    if qty > position.reserved_qty:
        raise InvalidInput(
            f"only {position.reserved_qty} {symbol} is reserved",
            field="qty",
            reason="more_than_reserved",
        )
    position.reserved_qty -= qty
    await session.flush()
    return position
