"""Every query of the universes domain; each one is scoped to the owning user."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from quantdesk.kit.pagination import newest_first
from quantdesk.models import Asset, Universe, UniverseAsset, UniverseChange, ValidationStatus

# Stay well under SQLite's bound-parameter limit in IN lists.
_IN_CHUNK = 900


def _table(model: type[UniverseAsset | UniverseChange]) -> Table:
    return cast(Table, model.__table__)


def _chunks(values: Sequence[int], size: int = _IN_CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def get_universe(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> Universe | None:
    result = await session.execute(
        select(Universe).where(Universe.id == universe_id, Universe.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def get_universe_by_name(
    session: AsyncSession, *, owner_id: uuid.UUID, name: str
) -> Universe | None:
    result = await session.execute(
        select(Universe).where(Universe.owner_id == owner_id, Universe.name == name)
    )
    return result.scalar_one_or_none()


async def touch_universe(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, now: datetime
) -> bool:
    """Bump ``updated_at``; the write lock it takes serialises concurrent membership changes."""
    result = await session.execute(
        update(Universe)
        .where(Universe.id == universe_id, Universe.owner_id == owner_id)
        .values(updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _member_count(owner_id: uuid.UUID) -> Any:
    return (
        select(func.count())
        .where(UniverseAsset.universe_id == Universe.id, UniverseAsset.owner_id == owner_id)
        .correlate(Universe)
        .scalar_subquery()
    )


async def list_universes(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[tuple[Universe, int]]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the previous page."""
    stmt = select(Universe, _member_count(owner_id)).where(Universe.owner_id == owner_id)
    stmt = newest_first(stmt, Universe, before=before, limit=limit)
    result = await session.execute(stmt)
    return [(universe, int(count)) for universe, count in result.all()]


async def count_members(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> int:
    result = await session.execute(
        select(func.count()).where(
            UniverseAsset.universe_id == universe_id, UniverseAsset.owner_id == owner_id
        )
    )
    return int(result.scalar_one())


async def member_counts(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> list[tuple[str, str, int]]:
    """(validation_status, asset_class, members) of the universe, in one grouped query."""
    result = await session.execute(
        select(Asset.validation_status, Asset.asset_class, func.count())
        .select_from(UniverseAsset)
        .join(Asset, Asset.id == UniverseAsset.asset_id)
        .where(UniverseAsset.universe_id == universe_id, UniverseAsset.owner_id == owner_id)
        .group_by(Asset.validation_status, Asset.asset_class)
    )
    return [(status, asset_class, int(count)) for status, asset_class, count in result.all()]


# The universe's order: position, then asset id, so that the order is total (keyset pages).
_MEMBER_ORDER = (UniverseAsset.position, UniverseAsset.asset_id)


async def list_members(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> list[tuple[UniverseAsset, Asset]]:
    """Members with their catalog rows, in the universe's order."""
    result = await session.execute(
        select(UniverseAsset, Asset)
        .join(Asset, Asset.id == UniverseAsset.asset_id)
        .where(UniverseAsset.universe_id == universe_id, UniverseAsset.owner_id == owner_id)
        .order_by(*_MEMBER_ORDER)
    )
    return [(member, asset) for member, asset in result.all()]


async def list_members_after(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    limit: int,
    after: tuple[int, int] | None = None,
) -> tuple[list[tuple[UniverseAsset, Asset]], int]:
    """Up to ``limit`` members in the universe's order after the (position, asset_id) ``after``,
    and how many members come before the first of them (its 0-based rank)."""
    keyset: list[ColumnElement[bool]] = []
    earlier: ColumnElement[int] = literal(0)
    if after is not None:
        position, asset_id = after
        # `position >= p` first: the part of the keyset the (universe_id, position) index can
        # range over; the rest only settles ties.
        keyset.append(UniverseAsset.position >= position)
        keyset.append((UniverseAsset.position > position) | (UniverseAsset.asset_id > asset_id))
        before = aliased(UniverseAsset)  # not correlated with the outer rows: a single count
        earlier = (
            select(func.count())
            .select_from(before)
            .where(before.universe_id == universe_id, before.owner_id == owner_id)
            .where(before.position <= position)
            .where((before.position < position) | (before.asset_id <= asset_id))
            .scalar_subquery()
        )
    # One statement (one snapshot, one round trip): the rank comes as a column.
    result = await session.execute(
        select(UniverseAsset, Asset, earlier)
        .join(Asset, Asset.id == UniverseAsset.asset_id)
        .where(UniverseAsset.universe_id == universe_id, UniverseAsset.owner_id == owner_id)
        .where(*keyset)
        .order_by(*_MEMBER_ORDER)
        .limit(limit)
    )
    rows = result.all()
    rank = int(rows[0][2]) if rows else 0
    return [(member, asset) for member, asset, _ in rows], rank


async def member_positions(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> dict[int, int]:
    """asset_id -> position of every member (ids only: cheap even for large universes)."""
    result = await session.execute(
        select(UniverseAsset.asset_id, UniverseAsset.position).where(
            UniverseAsset.universe_id == universe_id, UniverseAsset.owner_id == owner_id
        )
    )
    return {asset_id: position for asset_id, position in result.all()}


async def insert_members(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """One Core executemany (no ORM bookkeeping per row); keys are column names."""
    if rows:
        await session.execute(insert(_table(UniverseAsset)), rows)


async def insert_changes(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_table(UniverseChange)), rows)


async def delete_members(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    asset_ids: Sequence[int],
) -> None:
    for chunk in _chunks(asset_ids):
        await session.execute(
            delete(UniverseAsset)
            .where(
                UniverseAsset.universe_id == universe_id,
                UniverseAsset.owner_id == owner_id,
                UniverseAsset.asset_id.in_(chunk),
            )
            .execution_options(synchronize_session=False)
        )


async def set_positions(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    positions: Sequence[tuple[int, int]],
) -> None:
    """Write (asset_id, position) pairs in one executemany."""
    if not positions:
        return
    table = _table(UniverseAsset)
    stmt = (
        update(table)
        .where(
            table.c.universe_id == universe_id,
            table.c.owner_id == owner_id,
            table.c.asset_id == bindparam("b_asset_id"),
        )
        .values(position=bindparam("b_position"))
    )
    await session.execute(
        stmt, [{"b_asset_id": asset_id, "b_position": pos} for asset_id, pos in positions]
    )


async def delete_universe(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> None:
    """The universe, its memberships and its change log; catalog assets are never touched."""
    await session.execute(
        delete(UniverseChange)
        .where(UniverseChange.universe_id == universe_id, UniverseChange.owner_id == owner_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(UniverseAsset)
        .where(UniverseAsset.universe_id == universe_id, UniverseAsset.owner_id == owner_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(Universe)
        .where(Universe.id == universe_id, Universe.owner_id == owner_id)
        .execution_options(synchronize_session="fetch")
    )


async def size_at(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, at: datetime
) -> int:
    """Members at an instant, replayed from the change log (additions minus removals)."""
    delta = case((UniverseChange.action == "added", 1), else_=-1)
    result = await session.execute(
        select(func.coalesce(func.sum(delta), 0)).where(
            UniverseChange.universe_id == universe_id,
            UniverseChange.owner_id == owner_id,
            UniverseChange.occurred_at <= at,
        )
    )
    return int(result.scalar_one())


async def changes_between(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    start: datetime,
    end: datetime,
) -> Sequence[UniverseChange]:
    """Changes with start < occurred_at <= end, oldest first."""
    result = await session.execute(
        select(UniverseChange)
        .where(
            UniverseChange.universe_id == universe_id,
            UniverseChange.owner_id == owner_id,
            UniverseChange.occurred_at > start,
            UniverseChange.occurred_at <= end,
        )
        .order_by(UniverseChange.occurred_at, UniverseChange.id)
    )
    return result.scalars().all()


async def member_symbols(session: AsyncSession, owner_id: uuid.UUID) -> list[str]:
    """Every symbol in the owner's universes, once, leaving out those a provider said do not
    exist (the transaction bound to the owner: universe rows obey row-level security)."""
    found = await session.execute(
        select(Asset.symbol)
        .join(UniverseAsset, UniverseAsset.asset_id == Asset.id)
        .where(
            UniverseAsset.owner_id == owner_id,
            Asset.validation_status != ValidationStatus.INVALID,
        )
        .distinct()
        .order_by(Asset.symbol)
    )
    return list(found.scalars())
