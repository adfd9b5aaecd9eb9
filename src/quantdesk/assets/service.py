"""Business rules of the asset catalog. Other domains call this module, never the repository."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import repository
from quantdesk.assets.symbols import lookup_key
from quantdesk.models import Asset, MarketIndex


async def resolve_symbols(session: AsyncSession, symbols: Sequence[str]) -> dict[str, Asset | None]:
    """Map canonical symbols to catalog assets: exact symbol first, then the separator-free key.

    ``symbols`` must already be canonical (see ``assets.symbols.canonical_symbol``).
    """
    unique = list(dict.fromkeys(symbols))
    resolved: dict[str, Asset | None] = {s: None for s in unique}
    for asset in await repository.get_by_symbols(session, unique):
        resolved[asset.symbol] = asset
    missing = {lookup_key(s): s for s, a in resolved.items() if a is None}
    if missing:
        for asset in await repository.get_by_lookup_keys(session, list(missing)):
            symbol = missing.get(asset.lookup_key)
            if symbol is not None and resolved[symbol] is None:
                resolved[symbol] = asset
    return resolved


async def get_index_with_assets(
    session: AsyncSession, name: str
) -> tuple[MarketIndex, Sequence[Asset]] | None:
    """An index by exact name and its member assets, or None when there is no such index."""
    index = await repository.get_index_by_name(session, name)
    if index is None:
        return None
    return index, await repository.get_index_assets(session, index.id)
