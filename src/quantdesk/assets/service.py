"""Business rules of the asset catalog. Other domains call this module, never the repository."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import reference, repository, typos, venues
from quantdesk.assets import search_repository as search_repo
from quantdesk.assets import validation_repository as validation_repo
from quantdesk.assets.names import fold, query_words
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
_NOT_KEY = re.compile(r"[^a-z0-9]")


class AssetNotFound(NotFound):
    code = "asset_not_found"
    message = "No asset with that symbol in the catalog"


class UnknownIndex(InvalidInput):
    """A 422 naming the field and listing the index names that exist."""

    def __init__(self, name: str, *, field: str, valid: Sequence[str]) -> None:
        reason = f"there is no index named {name!r}; valid names: {', '.join(valid)}"
        super().__init__("Unknown index", field=field, reason=reason, next_actions=["list_indices"])
        self.details[0]["valid"] = list(valid)


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


def index_key(name: str) -> str:
    """An index name as compared: case, spaces, punctuation and a trailing "index" ignored, so
    "S&P 500", "sp500", "S&P-500 Index" are one name ("^GSPC": see reference.INDEX_ALIASES)."""
    key = fold(name).replace(" ", "")
    return key.removesuffix("index") or key


async def find_index(session: AsyncSession, name: str) -> MarketIndex | None:
    """An index by its name (exact, any case, or a common spelling), or None."""
    index = await repository.get_index_by_name(session, name)
    if index is not None:
        return index
    wanted = index_key(name)
    if not wanted:
        return None
    for candidate, _ in await repository.list_indices_with_counts(session):
        spellings = (candidate.name, *reference.INDEX_ALIASES.get(candidate.name, ()))
        if wanted in {index_key(s) for s in spellings}:
            return candidate
    return None


async def unknown_index(session: AsyncSession, name: str, *, field: str) -> UnknownIndex:
    """The error for an index name that finds nothing, listing the names that do."""
    names = [index.name for index, _ in await repository.list_indices_with_counts(session)]
    return UnknownIndex(name, field=field, valid=names)


async def get_index_with_assets(
    session: AsyncSession, name: str
) -> tuple[MarketIndex, Sequence[Asset]] | None:
    """An index (see ``find_index``) and its members, or None when there is none."""
    index = await find_index(session, name)
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
    asset = await get_visible_asset(session, symbol=symbol, viewer_id=viewer_id)
    return asset, await repository.get_asset_index_names(session, asset.id)


async def get_visible_asset(
    session: AsyncSession, *, symbol: str, viewer_id: uuid.UUID | None
) -> Asset:
    """An asset by symbol (any class separator), without its indices (what an order needs);
    a pending one exists only for those who asked for it."""
    try:
        canonical = canonical_symbol(symbol)
    except InvalidSymbol as exc:
        raise InvalidInput(str(exc), field="symbol") from exc
    asset = (await resolve_symbols(session, [canonical]))[canonical]
    if asset is None or not await _visible(session, asset, viewer_id):
        raise AssetNotFound(f"No asset {canonical} in the catalog", next_actions=["search_assets"])
    return asset


async def _visible(session: AsyncSession, asset: Asset, viewer_id: uuid.UUID | None) -> bool:
    if asset.validation_status != ValidationStatus.PENDING.value:
        return True
    return await validation_repo.is_visible(session, asset_id=asset.id, owner_id=viewer_id)


async def list_valid_assets(
    session: AsyncSession, *, asset_class: str | None, after: str | None, limit: int
) -> list[Asset]:
    """A page of the catalog's valid assets by symbol (what can be traded)."""
    return await repository.list_valid(session, asset_class=asset_class, after=after, limit=limit)


async def list_sectors(session: AsyncSession) -> list[tuple[str, int]]:
    return await repository.count_sectors(session)


async def list_indices(session: AsyncSession) -> list[tuple[MarketIndex, int]]:
    return await repository.list_indices_with_counts(session)


async def get_index(session: AsyncSession, *, name: str) -> tuple[MarketIndex, Sequence[Asset]]:
    found = await get_index_with_assets(session, name)
    if found is None:
        raise await unknown_index(session, name, field="name")
    return found


async def count_assets_by_class(session: AsyncSession) -> dict[str, int]:
    return await repository.count_by_asset_class(session)


async def count_assets(session: AsyncSession) -> int:
    return await repository.count_assets(session)


async def catalog_needs_load(session: AsyncSession) -> bool:
    """No assets yet, or none ranked for search: a catalog loaded before search_text existed
    (the migration adds the columns; only the loader fills them)."""
    return not await repository.any_ranked_asset(session)


# --- Search -------------------------------------------------------------------------------

# The first rows of the match tier are re-ordered by how fully they match (see _ranked_slice).
RERANKED_HEAD = 40


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
    crypto_key = f"{key}-USD" if key and "-" not in key else None
    symbol_key = _NOT_KEY.sub("", key.lower()) if key else None
    return SearchTerms(
        symbol=symbol,
        key=key,
        crypto_key=crypto_key,
        symbol_key=symbol_key or None,
        words=query_words(text)[:MAX_QUERY_WORDS],
    )


def _fingerprint(text: str, filters: SearchFilters) -> str:
    raw = "\x1f".join((text.upper(), *(v or "" for v in vars(filters).values())))
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _position(cursor: str | None, fingerprint: str, tiers: int) -> tuple[int, int, bool]:
    """(tier, offset, typo tier on) of the page a cursor points to."""
    position = decode_cursor(cursor)
    if not position:
        return 0, 0, False
    tier, offset, typo = position.get("t"), position.get("o"), position.get("x", 0)
    valid = (
        position.get("f") == fingerprint
        and isinstance(tier, int)
        and isinstance(offset, int)
        and typo in (0, 1)
        and 0 <= tier < tiers
        and 0 <= offset <= MAX_CURSOR_OFFSET
    )
    if not valid:
        raise InvalidInput(
            "The cursor does not belong to this search", field="cursor", reason="stale cursor"
        )
    return int(tier), int(offset), bool(typo)  # type: ignore[arg-type]


async def _with_alternatives(session: AsyncSession, terms: SearchTerms) -> SearchTerms | None:
    """The terms with close catalog words for the words nothing matched, or None if none."""
    database = str(session.sync_session.get_bind().engine.url)
    vocabulary = await typos.vocabulary(database, lambda: search_repo.search_vocabulary(session))
    alternatives = tuple(vocabulary.alternatives(word) for word in terms.words)
    if not any(alternatives):
        return None
    # A symbol prefix found nothing either: the corrected words alone make the query.
    return replace(terms, symbol_key=None, alternatives=alternatives)


def _match_kind(row: AssetRow, tier: int, terms: SearchTerms, typo: bool) -> MatchKind:
    if tier == 0:
        return MatchKind.EXACT
    if terms.symbol_key and _NOT_KEY.sub("", row.symbol.lower()).startswith(terms.symbol_key):
        return MatchKind.PREFIX
    return MatchKind.FUZZY if typo else MatchKind.NAME


def _match_quality(row: AssetRow, terms: SearchTerms) -> int:
    """0 when the symbol starts with the query or every word is a whole word of the name
    ("bayer" in "Bayer AG"), 1 when a word only begins one ("bayer" in "Bayerische...")."""
    if terms.symbol_key and _NOT_KEY.sub("", row.symbol.lower()).startswith(terms.symbol_key):
        return 0
    words = set((row.search_text or fold(row.name)).split())
    whole = all(word in words for word in terms.words) or "".join(terms.words) in words
    return 0 if whole else 1


async def _ranked_slice(
    session: AsyncSession, terms: SearchTerms, filters: SearchFilters, *, offset: int, limit: int
) -> list[AssetRow]:
    """The match tier's rows ``offset`` to ``offset + limit``. The catalog order decides, except
    in its first ``RERANKED_HEAD`` rows, where whole-word matches go first: a stable re-ordering
    of a fixed window, so pages still neither overlap nor skip."""
    if offset >= RERANKED_HEAD:
        return await search_repo.ranked_matches(session, terms, filters, offset=offset, limit=limit)
    head = await search_repo.ranked_matches(session, terms, filters, offset=0, limit=RERANKED_HEAD)
    head.sort(key=lambda row: _match_quality(row, terms))
    rows = head[offset : offset + limit]
    if len(head) == RERANKED_HEAD and offset + limit > RERANKED_HEAD:
        rows += await search_repo.ranked_matches(
            session, terms, filters, offset=RERANKED_HEAD, limit=offset + limit - RERANKED_HEAD
        )
    return rows


# Ranking tiers, in order; the match tier leaves out what the exact tier found.
_QUERY_TIERS = (search_repo.exact_matches, _ranked_slice)


async def _query_pages(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    tier: int,
    offset: int,
    wanted: int,
    typo: bool,
) -> list[tuple[SearchHit, int, int]]:
    found: list[tuple[SearchHit, int, int]] = []
    while tier < len(_QUERY_TIERS) and len(found) < wanted:
        need = wanted - len(found)
        rows = await _QUERY_TIERS[tier](session, terms, filters, offset=offset, limit=need)
        found.extend(
            (SearchHit(row, _match_kind(row, tier, terms, typo)), tier, offset + i)
            for i, row in enumerate(rows)
        )
        if len(rows) < need:
            tier, offset = tier + 1, 0
    return found


def _exchange_spelling(exchange: str | None) -> str | None:
    """The catalog's spelling of an exchange given by name, MIC or code, in any case."""
    if not exchange:
        return None
    venue = venues.find_venue(exchange)
    return venue.name if venue else exchange


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
    """Ranked catalog search: the exact symbol (a crypto pair by its short name first), then
    symbols starting with the query and names with its words, in the catalog's ranking (the
    primary listing of the most prominent company first). When nothing matches, words one or
    two typing errors away are tried ("fuzzy").

    An empty ``q`` is allowed only with a filter; then every asset the filters allow is listed
    by symbol. Pages are (tier, offset) positions, so they never overlap and never skip.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE_SIZE}", field="limit")
    text = (q or "").strip()
    filters = SearchFilters(
        sector=sector or None, asset_class=asset_class, exchange=_exchange_spelling(exchange)
    )
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
    fingerprint = _fingerprint(text, filters)
    wanted = limit + 1  # one more than a page tells whether another page exists
    await search_repo.plan_each_search(session)
    if not text:
        offset = _position(cursor, fingerprint, 1)[1]
        rows = await search_repo.filter_matches(session, filters, offset=offset, limit=wanted)
        found = [(SearchHit(row, MatchKind.FILTER), 0, offset + i) for i, row in enumerate(rows)]
        typo = False
    else:
        terms = search_terms(text)
        tier, offset, typo = _position(cursor, fingerprint, len(_QUERY_TIERS))
        corrected = await _with_alternatives(session, terms) if typo else None
        found = await _query_pages(
            session, corrected or terms, filters, tier=tier, offset=offset, wanted=wanted, typo=typo
        )
        if not found and cursor is None and terms.words:
            corrected = await _with_alternatives(session, terms)
            if corrected is not None:
                typo = True
                found = await _query_pages(
                    session, corrected, filters, tier=1, offset=0, wanted=wanted, typo=True
                )
    next_cursor = None
    if len(found) > limit:
        _, next_tier, next_offset = found[limit]
        position = {"t": next_tier, "o": next_offset, "f": fingerprint}
        if typo:
            position["x"] = 1
        next_cursor = encode_cursor(position)
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
) -> dict[str, Any]:
    """A live profile's facts onto the asset (what it says wins; gaps keep the catalog's); its
    country only where the catalog has none. Returns the fact columns written, as the row now
    holds them."""
    return await validation_repo.update_facts(
        session, asset_id=asset_id, facts=facts, fill={"country": country}, now=now
    )
