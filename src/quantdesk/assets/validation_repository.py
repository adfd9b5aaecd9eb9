"""Every write to the validation state of asset rows, and the rows of symbols the catalog lacks.

The assets domain is the one writer of the ``assets`` table: the catalog loader writes through
``catalog_repository``, market data's validation through this module (called by
``assets.service``). Writes are upserts: two requests validating the same new symbol at once must
both succeed.

A *pending* row (a symbol no provider could confirm yet) is private: it is visible only to the
users who asked for it (``pending_asset_owners``, owner-scoped by row-level security), until a
provider confirms it and it becomes a catalog asset like any other.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.kit.db import upsert_into
from quantdesk.models import Asset, PendingAssetOwner, ValidationStatus

_assets = cast(Table, Asset.__table__)
_owners = cast(Table, PendingAssetOwner.__table__)


async def upsert_validated(
    session: AsyncSession,
    *,
    symbol: str,
    lookup_key: str,
    name: str,
    asset_class: str,
    exchange: str | None,
    country: str | None,
    metadata: dict[str, Any],
    source: str,
    now: datetime,
) -> int:
    """Create the asset a provider vouched for, or mark the existing row valid; its id."""
    stmt = upsert_into(session, _assets).values(
        symbol=symbol,
        lookup_key=lookup_key,
        name=name,
        asset_class=asset_class,
        exchange=exchange,
        country=country,
        is_validated=True,
        last_validated_at=now,
        validation_source=source,
        validation_status=ValidationStatus.VALID.value,
        metadata=metadata,
        created_at=now,
        updated_at=now,
    )
    new = stmt.excluded
    c = _assets.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.symbol],
        set_={
            # A placeholder name (the symbol itself, given to pending rows) yields to the real one.
            "name": func.coalesce(func.nullif(c.name, c.symbol), new.name),
            "exchange": func.coalesce(c.exchange, new.exchange),
            "country": func.coalesce(c.country, new.country),
            "is_validated": True,
            "last_validated_at": now,
            "validation_source": source,
            "validation_status": ValidationStatus.VALID.value,
            "updated_at": now,
        },
    ).returning(c.id)
    return int((await session.execute(stmt)).scalar_one())


async def insert_pending(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rows for symbols no provider could validate yet; an existing row is left as it is."""
    if rows:
        stmt = upsert_into(session, _assets).on_conflict_do_nothing(
            index_elements=[_assets.c.symbol]
        )
        await session.execute(stmt, list(rows))


async def add_pending_owners(
    session: AsyncSession, *, owner_id: uuid.UUID, symbols: Sequence[str], now: datetime
) -> None:
    """Let ``owner_id`` see these symbols' rows while they are pending."""
    if not symbols:
        return
    ids = (await session.execute(select(Asset.id).where(Asset.symbol.in_(list(symbols))))).scalars()
    rows = [{"asset_id": i, "owner_id": owner_id, "created_at": now} for i in ids]
    if rows:
        stmt = upsert_into(session, _owners).on_conflict_do_nothing(
            index_elements=[_owners.c.asset_id, _owners.c.owner_id]
        )
        await session.execute(stmt, rows)


def visible_to(owner_id: uuid.UUID | None) -> ColumnElement[bool]:
    """Rows ``owner_id`` may see: every non-pending row, and pending rows they asked for."""
    settled = Asset.validation_status != ValidationStatus.PENDING.value
    if owner_id is None:
        return settled
    mine = exists().where(
        PendingAssetOwner.asset_id == Asset.id, PendingAssetOwner.owner_id == owner_id
    )
    return or_(settled, mine)


async def is_visible(session: AsyncSession, *, asset_id: int, owner_id: uuid.UUID | None) -> bool:
    found = await session.execute(
        select(Asset.id).where(Asset.id == asset_id, visible_to(owner_id))
    )
    return found.first() is not None


async def mark_invalid(
    session: AsyncSession, *, symbols: Sequence[str], source: str, now: datetime,
    only_pending: bool = True,
) -> None:  # fmt: skip
    """A provider said these do not exist: rows still pending become invalid (others stay,
    unless ``only_pending`` is False: a re-check refutes a row it validated before)."""
    if not symbols:
        return
    stmt = update(Asset).where(Asset.symbol.in_(list(symbols)))
    if only_pending:
        stmt = stmt.where(Asset.validation_status == ValidationStatus.PENDING.value)
    await session.execute(
        stmt.values(
            validation_status=ValidationStatus.INVALID.value,
            is_validated=False,
            last_validated_at=now,
            validation_source=source,
            updated_at=now,
        ).execution_options(synchronize_session=False)
    )


async def stale_validated(
    session: AsyncSession, *, before: datetime, exclude_source: str, limit: int
) -> list[str]:
    """Symbols of valid assets a provider (not ``exclude_source``) vouched for before ``before``,
    oldest first."""
    rows = await session.execute(
        select(Asset.symbol)
        .where(
            Asset.validation_status == ValidationStatus.VALID.value,
            Asset.validation_source.is_not(None),
            Asset.validation_source != exclude_source,
            Asset.last_validated_at < before,
        )
        .order_by(Asset.last_validated_at, Asset.id)
        .limit(limit)
    )
    return list(rows.scalars())


async def update_facts(
    session: AsyncSession,
    *,
    asset_id: int,
    facts: dict[str, Any],
    fill: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """A live provider's facts onto the asset row: ``facts`` win where given, ``fill`` only
    fills columns that are empty. Returns the fact columns written, as the row now holds them
    (empty when nothing was written)."""
    written: dict[str, Any] = {k: v for k, v in facts.items() if v is not None}
    filled = [column for column, value in fill.items() if value is not None]
    values: dict[str, Any] = dict(written)
    for column in filled:
        values[column] = func.coalesce(getattr(_assets.c, column), fill[column])
    if not values:
        return {}
    row = (
        await session.execute(
            update(Asset)
            .where(Asset.id == asset_id)
            .values(**values, updated_at=now)
            .returning(_assets.c.id, *(getattr(_assets.c, column) for column in filled))
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return {}
    # A filled column holds what the row had, or the fill: the row says which.
    return {**written, **dict(zip(filled, row[1:], strict=True))}
