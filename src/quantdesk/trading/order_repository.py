"""Every query of paper orders and fills; user-facing ones are scoped to the owner, the
matcher's run in the system context over every owner's open orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.models import PaperFill, PaperOrder
from quantdesk.models.paper_order import OPEN_STATUSES
from quantdesk.trading.repository import Direction


async def get_order(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    order_id: uuid.UUID,
    lock: bool = False,
) -> PaperOrder | None:
    stmt = select(PaperOrder).where(
        PaperOrder.id == order_id,
        PaperOrder.account_id == account_id,
        PaperOrder.owner_id == owner_id,
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_by_client_id(
    session: AsyncSession, *, owner_id: uuid.UUID, account_id: uuid.UUID, client_order_id: str
) -> PaperOrder | None:
    found = await session.execute(
        select(PaperOrder).where(
            PaperOrder.account_id == account_id,
            PaperOrder.owner_id == owner_id,
            PaperOrder.client_order_id == client_order_id,
        )
    )
    return found.scalar_one_or_none()


async def list_orders(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    statuses: Sequence[str] | None,
    symbol: str | None,
    after: datetime | None,
    until: datetime | None,
    direction: Direction,
    limit: int,
) -> Sequence[PaperOrder]:
    stmt = select(PaperOrder).where(
        PaperOrder.account_id == account_id, PaperOrder.owner_id == owner_id
    )
    if statuses is not None:
        stmt = stmt.where(PaperOrder.status.in_(list(statuses)))
    if symbol is not None:
        stmt = stmt.where(PaperOrder.symbol == symbol)
    if after is not None:
        stmt = stmt.where(PaperOrder.created_at > after)
    if until is not None:
        stmt = stmt.where(PaperOrder.created_at <= until)
    order = PaperOrder.created_at.asc() if direction == "asc" else PaperOrder.created_at.desc()
    stmt = stmt.order_by(order, PaperOrder.id).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def fills_of(
    session: AsyncSession, *, owner_id: uuid.UUID, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PaperFill]]:
    found: dict[uuid.UUID, list[PaperFill]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    rows = await session.execute(
        select(PaperFill)
        .where(PaperFill.owner_id == owner_id, PaperFill.order_id.in_(list(order_ids)))
        .order_by(PaperFill.filled_at, PaperFill.id)
    )
    for fill in rows.scalars():
        found[fill.order_id].append(fill)
    return found


async def open_orders(session: AsyncSession, *, limit: int) -> Sequence[PaperOrder]:
    """Every owner's open orders, oldest first (system context: the matcher)."""
    found = await session.execute(
        select(PaperOrder)
        .where(PaperOrder.status.in_(OPEN_STATUSES))
        .order_by(PaperOrder.created_at, PaperOrder.id)
        .limit(limit)
    )
    return found.scalars().all()


def add_fill(session: AsyncSession, fill: PaperFill) -> None:
    session.add(fill)
