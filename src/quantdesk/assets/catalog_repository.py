"""Bulk writes of the catalog loader: chunked upserts of assets, indices and memberships."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, delete, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import Database, dialect_name, upsert_into
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
    mic: str | None
    currency: str | None
    search_text: str | None
    search_order: int | None
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


def _asset_upsert(session: AsyncSession) -> Any:
    stmt = upsert_into(session, _assets)
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
            "mic": new.mic,
            "currency": new.currency,
            "search_text": new.search_text,
            "search_order": new.search_order,
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


async def update_search_fields(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Set ``search_text``/``search_order`` of assets by id (rows outside the load's slice)."""
    if not rows:
        return
    stmt = (
        update(_assets)
        .where(_assets.c.id == bindparam("row_id"))
        .values(search_text=bindparam("new_text"), search_order=bindparam("new_order"))
    )
    connection = await session.connection()
    for start in range(0, len(rows), UPSERT_CHUNK):
        await connection.execute(stmt, list(rows[start : start + UPSERT_CHUNK]))


async def rebuild_search_index(session: AsyncSession) -> None:
    """After a load re-ranked the catalog: SQLite's FTS rows are keyed by the search order, so
    they are written afresh; PostgreSQL's tsvector follows its column, the planner gets stats."""
    if dialect_name(session) == "postgresql":
        await session.execute(text("ANALYZE assets"))
        return
    await session.execute(text("INSERT INTO assets_fts(assets_fts) VALUES ('delete-all')"))
    await session.execute(
        text(
            "INSERT INTO assets_fts(rowid, key, words) SELECT search_order, "
            "lower(replace(replace(replace(replace(replace(lookup_key, '-', ''), '^', ''), '=', "
            "''), '/', ''), '.', '')), coalesce(search_text || ' ', '') || name FROM assets"
        )
    )


async def vacuum_assets(db: Database) -> None:
    """PostgreSQL, after a load committed: mark the table's pages all-visible, so searches walk
    the order index without reading the table (see ix_assets_search_order)."""
    if db.kind != "postgresql":
        return
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM (ANALYZE) assets"))


async def fetch_memberships(session: AsyncSession) -> dict[str, set[str]]:
    """Index names by member symbol, as stored."""
    result = await session.execute(
        select(Asset.symbol, MarketIndex.name)
        .join(IndexMember, IndexMember.asset_id == Asset.id)
        .join(MarketIndex, MarketIndex.id == IndexMember.index_id)
    )
    memberships: dict[str, set[str]] = {}
    for symbol, index_name in result.all():
        memberships.setdefault(symbol, set()).add(index_name)
    return memberships


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
