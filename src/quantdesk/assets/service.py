"""Business rules of the asset catalog. Other domains call this module, never the repository."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import repository
from quantdesk.assets import search_repository as search_repo
from quantdesk.assets import validation_repository as validation_repo
from quantdesk.assets.schemas import MatchKind
from quantdesk.assets.search_repository import AssetRow, SearchFilters, SearchTerms
from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol, lookup_key
from quantdesk.kit.errors import InvalidInput, NotFound
from quantdesk.kit.pagination import decode_cursor, encode_cursor
from quantdesk.models import Asset, AssetClass, MarketIndex, ValidationStatus

MAX_QUERY_LENGTH = 64
MAX_QUERY_WORDS = 8
MAX_PAGE_SIZE = 100
# Far past any catalog, yet inside every database's integer range (a larger OFFSET is a 500).
MAX_CURSOR_OFFSET = 2**31 - 1
_WORD = re.compile(r"[^\W_]+")  # letters and digits only: nothing that FTS syntax could parse


class AssetNotFound(NotFound):
    code = "asset_not_found"
    message = "No asset with that symbol in the catalog"


class IndexNotFound(NotFound):
    code = "index_not_found"
    message = "No index with that name"


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
    """An index by name (exact, else ignoring case) and its members, or None when there is none."""
    index = await repository.get_index_by_name(session, name)
    if index is None:
        return None
    return index, await repository.get_index_assets(session, index.id)


# --- Lookup -------------------------------------------------------------------------------


async def get_asset(
    session: AsyncSession, *, symbol: str, viewer_id: uuid.UUID | None
) -> tuple[Asset, list[str]]:
    """An asset by symbol (any class separator) and the names of the indices it belongs to.

    A pending asset (no provider has confirmed it yet) exists only for those who asked for it.
    """
    try:
        canonical = canonical_symbol(symbol)
    except InvalidSymbol as exc:
        raise InvalidInput(str(exc), field="symbol") from exc
    asset = (await resolve_symbols(session, [canonical]))[canonical]
    if asset is None or not await _visible(session, asset, viewer_id):
        raise AssetNotFound(f"No asset {canonical} in the catalog", next_actions=["search_assets"])
    return asset, await repository.get_asset_index_names(session, asset.id)


async def _visible(session: AsyncSession, asset: Asset, viewer_id: uuid.UUID | None) -> bool:
    if asset.validation_status != ValidationStatus.PENDING.value:
        return True
    return await validation_repo.is_visible(session, asset_id=asset.id, owner_id=viewer_id)


async def list_sectors(session: AsyncSession) -> list[tuple[str, int]]:
    return await repository.count_sectors(session)


async def list_indices(session: AsyncSession) -> list[tuple[MarketIndex, int]]:
    return await repository.list_indices_with_counts(session)


async def get_index(session: AsyncSession, *, name: str) -> tuple[MarketIndex, Sequence[Asset]]:
    found = await get_index_with_assets(session, name)
    if found is None:
        raise IndexNotFound(f"No index named {name!r}", next_actions=["list_indices"])
    return found


async def count_assets_by_class(session: AsyncSession) -> dict[str, int]:
    return await repository.count_by_asset_class(session)


async def count_assets(session: AsyncSession) -> int:
    return await repository.count_assets(session)


# --- Search -------------------------------------------------------------------------------

# Ranking tiers, in order; each one excludes what the tiers before it matched.
_QUERY_TIERS = (search_repo.symbol_matches, search_repo.name_matches)
_FILTER_TIERS = (search_repo.filter_matches,)


@dataclass(frozen=True)
class SearchHit:
    asset: AssetRow
    match: MatchKind


def search_terms(text: str) -> SearchTerms:
    """Split the user's text into safe parts: a canonical symbol (if it can be one) and words."""
    try:
        symbol: str | None = canonical_symbol(text)
    except InvalidSymbol:
        symbol = None
    key = lookup_key(symbol) if symbol else None
    prefixes = tuple(dict.fromkeys(p for p in (symbol, key) if p))
    words = tuple(_WORD.findall(text.lower()))[:MAX_QUERY_WORDS]
    return SearchTerms(symbol=symbol, key=key, prefixes=prefixes, words=words)


def _fingerprint(text: str, filters: SearchFilters) -> str:
    raw = "\x1f".join((text.upper(), *(v or "" for v in vars(filters).values())))
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _position(cursor: str | None, fingerprint: str, tiers: int) -> tuple[int, int]:
    position = decode_cursor(cursor)
    if not position:
        return 0, 0
    tier, offset = position.get("t"), position.get("o")
    valid = (
        position.get("f") == fingerprint
        and isinstance(tier, int)
        and isinstance(offset, int)
        and 0 <= tier < tiers
        and 0 <= offset <= MAX_CURSOR_OFFSET
    )
    if not valid:
        raise InvalidInput(
            "The cursor does not belong to this search", field="cursor", reason="stale cursor"
        )
    return int(tier), int(offset)  # type: ignore[arg-type]


async def search_assets(
    session: AsyncSession,
    *,
    q: str | None = None,
    sector: str | None = None,
    asset_class: str | None = None,
    exchange: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> tuple[list[SearchHit], str | None]:
    """Ranked catalog search: exact symbol, then symbol prefix (shortest first), then name words.

    An empty ``q`` is allowed only with a filter; then every asset the filters allow is listed
    by symbol. Pages are (tier, offset) positions, so they never overlap and never skip.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE_SIZE}", field="limit")
    text = (q or "").strip()
    filters = SearchFilters(sector=sector or None, asset_class=asset_class, exchange=exchange)
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            f"The query has at most {MAX_QUERY_LENGTH} characters", field="q", reason="too long"
        )
    if not text and not filters.any:
        raise InvalidInput(
            "Give a query or at least one filter (sector, asset_class, exchange)",
            field="q",
            reason="empty query without a filter",
        )
    terms = search_terms(text)
    tiers = _QUERY_TIERS if text else _FILTER_TIERS
    fingerprint = _fingerprint(text, filters)
    tier, offset = _position(cursor, fingerprint, len(tiers))

    wanted = limit + 1  # one more than a page tells whether another page exists
    found: list[tuple[SearchHit, int, int]] = []
    while tier < len(tiers) and len(found) < wanted:
        need = wanted - len(found)
        rows = await tiers[tier](session, terms, filters, offset=offset, limit=need)
        found.extend(
            (SearchHit(asset, MatchKind(kind)), tier, offset + i)
            for i, (asset, kind) in enumerate(rows)
        )
        if len(rows) < need:
            tier, offset = tier + 1, 0
    next_cursor = None
    if len(found) > limit:
        _, next_tier, next_offset = found[limit]
        next_cursor = encode_cursor({"t": next_tier, "o": next_offset, "f": fingerprint})
    return [hit for hit, _, _ in found[:limit]], next_cursor


# --- Validation state (written for market data's validation) -------------------------------


async def record_valid(
    session: AsyncSession,
    *,
    symbol: str,
    name: str,
    asset_class: str,
    exchange: str | None,
    country: str | None,
    metadata: dict[str, Any],
    source: str,
    now: datetime,
) -> int:
    """A provider vouched for ``symbol``: create its asset, or mark the existing row valid."""
    return await validation_repo.upsert_validated(
        session,
        symbol=symbol,
        lookup_key=lookup_key(symbol),
        name=name[:255],
        asset_class=asset_class,
        exchange=exchange[:32] if exchange else None,
        country=country[:64] if country else None,
        metadata=metadata,
        source=source[:32],
        now=now,
    )


async def record_invalid(
    session: AsyncSession,
    *,
    symbols: Sequence[str],
    source: str,
    now: datetime,
    only_pending: bool = True,
) -> None:
    """A provider said these do not exist (see ``validation_repository.mark_invalid``)."""
    await validation_repo.mark_invalid(
        session, symbols=symbols, source=source[:32], now=now, only_pending=only_pending
    )


async def admit_pending(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    symbols: Sequence[str],
    asset_classes: dict[str, str],
    now: datetime,
) -> None:
    """Rows for symbols no provider can check now, visible to ``owner_id`` only until one does."""
    rows: list[dict[str, Any]] = [
        {
            "symbol": symbol,
            "lookup_key": lookup_key(symbol),
            "name": symbol,  # a placeholder until a provider names it
            "asset_class": asset_classes.get(symbol, AssetClass.EQUITY.value),
            "exchange": None,
            "is_validated": False,
            "validation_status": ValidationStatus.PENDING.value,
            "metadata": {},
            "created_at": now,
            "updated_at": now,
        }
        for symbol in dict.fromkeys(symbols)
    ]
    await validation_repo.insert_pending(session, rows)
    await validation_repo.add_pending_owners(session, owner_id=owner_id, symbols=symbols, now=now)


async def stale_validated_symbols(
    session: AsyncSession, *, before: datetime, exclude_source: str, limit: int
) -> list[str]:
    """Valid assets a provider (not ``exclude_source``) last vouched for before ``before``."""
    return await validation_repo.stale_validated(
        session, before=before, exclude_source=exclude_source, limit=limit
    )


async def record_profile_facts(
    session: AsyncSession,
    *,
    asset_id: int,
    facts: dict[str, Any],
    country: str | None,
    now: datetime,
) -> None:
    """A live profile's facts onto the asset (what it says wins; gaps keep the catalog's); its
    country only where the catalog has none."""
    await validation_repo.update_facts(
        session, asset_id=asset_id, facts=facts, fill={"country": country}, now=now
    )
