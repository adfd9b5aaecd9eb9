"""Every query of the asset catalog (global data: not owner-scoped).

Searching lives in ``search_repository``, bulk catalog writes in ``catalog_repository``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.models import Asset, IndexMember, MarketIndex

# Stay well under SQLite's bound-parameter limit.
_IN_CHUNK = 900


def _chunks(values: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def get_by_symbols(session: AsyncSession, symbols: Sequence[str]) -> list[Asset]:
    found: list[Asset] = []
    for chunk in _chunks(symbols):
        result = await session.execute(select(Asset).where(Asset.symbol.in_(chunk)))
        found.extend(result.scalars().all())
    return found


async def get_by_lookup_keys(session: AsyncSession, keys: Sequence[str]) -> list[Asset]:
    found: list[Asset] = []
    for chunk in _chunks(keys):
        result = await session.execute(
            select(Asset).where(Asset.lookup_key.in_(chunk)).order_by(Asset.id)
        )
        found.extend(result.scalars().all())
    return found


async def get_index_by_name(session: AsyncSession, name: str) -> MarketIndex | None:
    """The index of that exact name, else the one whose name matches ignoring case."""
    result = await session.execute(select(MarketIndex).where(MarketIndex.name == name))
    index = result.scalar_one_or_none()
    if index is not None:
        return index
    result = await session.execute(
        select(MarketIndex)
        .where(func.lower(MarketIndex.name) == name.lower())
        .order_by(MarketIndex.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def get_index_assets(session: AsyncSession, index_id: int) -> Sequence[Asset]:
    result = await session.execute(
        select(Asset)
        .join(IndexMember, IndexMember.asset_id == Asset.id)
        .where(IndexMember.index_id == index_id)
        .order_by(Asset.symbol)
    )
    return result.scalars().all()


async def list_indices_with_counts(session: AsyncSession) -> list[tuple[MarketIndex, int]]:
    result = await session.execute(
        select(MarketIndex, func.count(IndexMember.asset_id))
        .outerjoin(IndexMember, IndexMember.index_id == MarketIndex.id)
        .group_by(MarketIndex.id)
        .order_by(MarketIndex.name)
    )
    return [(index, int(count)) for index, count in result.all()]


async def get_asset_index_names(session: AsyncSession, asset_id: int) -> list[str]:
    result = await session.execute(
        select(MarketIndex.name)
        .join(IndexMember, IndexMember.index_id == MarketIndex.id)
        .where(IndexMember.asset_id == asset_id)
        .order_by(MarketIndex.name)
    )
    return list(result.scalars().all())


async def count_sectors(session: AsyncSession) -> list[tuple[str, int]]:
    count = func.count(Asset.id)
    result = await session.execute(
        select(Asset.sector, count)
        .where(Asset.sector.is_not(None))
        .group_by(Asset.sector)
        .order_by(count.desc(), Asset.sector)
    )
    return [(str(sector), int(n)) for sector, n in result.all()]


async def count_by_asset_class(session: AsyncSession) -> dict[str, int]:
    result = await session.execute(
        select(Asset.asset_class, func.count(Asset.id)).group_by(Asset.asset_class)
    )
    return {str(asset_class): int(n) for asset_class, n in result.all()}


async def count_assets(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count(Asset.id)))).scalar_one())


async def any_ranked_asset(session: AsyncSession) -> bool:
    result = await session.execute(select(Asset.id).where(Asset.search_text.is_not(None)).limit(1))
    return result.first() is not None


async def list_valid(
    session: AsyncSession, *, asset_class: str | None, after: str | None, limit: int
) -> list[Asset]:
    """Valid assets (of one class), by symbol, those after ``after`` (keyset paging)."""
    stmt = select(Asset).where(Asset.validation_status == "valid")
    if asset_class is not None:
        stmt = stmt.where(Asset.asset_class == asset_class)
    if after is not None:
        stmt = stmt.where(Asset.symbol > after)
    found = await session.execute(stmt.order_by(Asset.symbol).limit(limit))
    return list(found.scalars().all())
