"""Every query of the asset catalog (global data: not owner-scoped)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
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
    result = await session.execute(select(MarketIndex).where(MarketIndex.name == name))
    return result.scalar_one_or_none()


async def get_index_assets(session: AsyncSession, index_id: int) -> Sequence[Asset]:
    result = await session.execute(
        select(Asset)
        .join(IndexMember, IndexMember.asset_id == Asset.id)
        .where(IndexMember.index_id == index_id)
        .order_by(Asset.symbol)
    )
    return result.scalars().all()
