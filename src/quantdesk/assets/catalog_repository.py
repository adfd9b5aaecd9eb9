"""Bulk writes of the catalog loader: chunked upserts of assets, indices and memberships."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, delete, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import dialect_name
from quantdesk.models import Asset, IndexMember, MarketIndex

_assets = cast(Table, Asset.__table__)
# Rows per statement; executemany batches them into multi-row VALUES under the parameter limit.
UPSERT_CHUNK = 2000


@dataclass(frozen=True)
class AssetState:
    """The columns of an existing asset that the loader compares and merges."""

    id: int
    symbol: str
    lookup_key: str
    name: str
    asset_class: str
    exchange: str | None
    country: str | None
    sector: str | None
    industry: str | None
    is_validated: bool
    last_validated_at: datetime | None
    validation_source: str | None
    metadata: dict[str, Any]


_STATE_COLUMNS = tuple(f for f in AssetState.__dataclass_fields__ if f != "metadata")


async def fetch_asset_states(session: AsyncSession) -> dict[str, AssetState]:
    """Every asset's catalog columns, read through Core: no ORM objects for 100k rows."""
    c = _assets.c
    connection = await session.connection()
    result = await connection.execute(select(*(c[name] for name in _STATE_COLUMNS), c["metadata"]))
    states = {}
    for row in result.all():
        values = row._mapping
        states[values["symbol"]] = AssetState(
            **{k: values[k] for k in _STATE_COLUMNS}, metadata=dict(values["metadata"] or {})
        )
    return states


def _insert(session: AsyncSession) -> Any:
    if dialect_name(session) == "postgresql":
        return postgresql.insert(_assets)
    return sqlite.insert(_assets)


def _asset_upsert(session: AsyncSession) -> Any:
    stmt = _insert(session)
    new = stmt.excluded
    # A provider that validated the asset owns its validation state; the catalog leaves it be.
    catalog_owned = or_(
        _assets.c.validation_source.is_(None), _assets.c.validation_source == "catalog"
    )

    def guarded(column: str) -> Any:
        return case((catalog_owned, new[column]), else_=_assets.c[column])

    return stmt.on_conflict_do_update(
        index_elements=[_assets.c.symbol],
        set_={
            "lookup_key": new.lookup_key,
            "name": new.name,
            "asset_class": new.asset_class,
            "exchange": new.exchange,
            "country": new.country,
            "sector": new.sector,
            "industry": new.industry,
            "metadata": new["metadata"],
            "is_validated": guarded("is_validated"),
            "last_validated_at": guarded("last_validated_at"),
            "validation_source": guarded("validation_source"),
            "updated_at": new.updated_at,
        },
    )


async def upsert_assets(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update assets by symbol; market data columns are never part of the update."""
    if rows:
        await session.execute(_asset_upsert(session), list(rows))


async def asset_ids(session: AsyncSession, symbols: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(symbols), 900):
        chunk = symbols[start : start + 900]
        result = await session.execute(
            select(Asset.symbol, Asset.id).where(Asset.symbol.in_(chunk))
        )
        found.update({symbol: asset_id for symbol, asset_id in result.all()})
    return found


async def upsert_index(session: AsyncSession, name: str, country: str | None) -> tuple[int, bool]:
    """The index's id, and whether it was created."""
    existing = (
        await session.execute(select(MarketIndex).where(MarketIndex.name == name))
    ).scalar_one_or_none()
    if existing is not None:
        if country and existing.country != country:
            existing.country = country
        return existing.id, False
    index = MarketIndex(name=name, country=country or None)
    session.add(index)
    await session.flush()
    return index.id, True


async def sync_index_members(
    session: AsyncSession, index_id: int, asset_ids_wanted: set[int]
) -> tuple[int, int]:
    """Make the index's members exactly these assets: (added, removed)."""
    current = set(
        (
            await session.execute(
                select(IndexMember.asset_id).where(IndexMember.index_id == index_id)
            )
        ).scalars()
    )
    stale = current - asset_ids_wanted
    fresh = sorted(asset_ids_wanted - current)
    if stale:
        await session.execute(
            delete(IndexMember).where(
                IndexMember.index_id == index_id, IndexMember.asset_id.in_(sorted(stale))
            )
        )
    if fresh:
        await session.execute(
            insert(IndexMember),
            [{"index_id": index_id, "asset_id": asset_id} for asset_id in fresh],
        )
    return len(fresh), len(stale)
