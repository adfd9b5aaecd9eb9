"""Catalog search queries: one indexed query per ranking tier, on SQLite and PostgreSQL.

- exact: ``lookup_key = :key`` (btree index), so BRK.B, BRK-B and BRK/B all hit BRK-B;
- prefix (one statement with exact): ``symbol GLOB 'PFX*'`` on SQLite / ``symbol LIKE 'PFX%'``
  on PostgreSQL, both served by an index on symbol (symbols hold no wildcard characters);
- name: word-prefix full-text match, FTS5 (``assets_fts``) on SQLite and
  ``to_tsvector('simple', name) @@ to_tsquery(...)`` (GIN index) on PostgreSQL.
Each tier excludes what an earlier tier matched, so results never repeat across tiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import dialect_name
from quantdesk.models import Asset


@dataclass(frozen=True)
class SearchFilters:
    sector: str | None = None
    asset_class: str | None = None
    exchange: str | None = None

    @property
    def any(self) -> bool:
        return any((self.sector, self.asset_class, self.exchange))


@dataclass(frozen=True)
class SearchTerms:
    """The query text, already made safe: canonical symbol forms and plain word tokens."""

    symbol: str | None  # canonical symbol, when the text can be one
    key: str | None  # its lookup key
    prefixes: tuple[str, ...]  # symbol prefixes to match (canonical and lookup-key spellings)
    words: tuple[str, ...]  # lower-case letter/digit tokens for the name match


def _filtered(stmt: Any, filters: SearchFilters, *, use_indexes: bool = True) -> Any:
    """Apply the filters; ``use_indexes=False`` keeps SQLite on the symbol index for prefixes
    (its planner would otherwise walk every equity through ix_assets_asset_class)."""

    def column(col: Any) -> Any:
        return col if use_indexes else col.concat("")

    if filters.sector:
        stmt = stmt.where(column(Asset.sector) == filters.sector)
    if filters.asset_class:
        stmt = stmt.where(column(Asset.asset_class) == filters.asset_class)
    if filters.exchange:
        stmt = stmt.where(column(Asset.exchange) == filters.exchange)
    return stmt


def _symbol_prefix(session: AsyncSession, prefixes: Sequence[str]) -> ColumnElement[bool]:
    if dialect_name(session) == "postgresql":
        return or_(*(Asset.symbol.like(f"{p}%") for p in prefixes))
    return or_(*(Asset.symbol.bool_op("GLOB")(f"{p}*") for p in prefixes))


def _name_match(session: AsyncSession, words: Sequence[str]) -> ColumnElement[bool]:
    # A one-letter prefix would expand to thousands of terms: single letters match whole words.
    if dialect_name(session) == "postgresql":
        query = " & ".join(f"{w}:*" if len(w) > 1 else w for w in words)
        return sql_text(
            "to_tsvector('simple', assets.name) @@ to_tsquery('simple', :tsquery)"
        ).bindparams(tsquery=query)  # type: ignore[return-value]
    query = " ".join(f'"{w}"*' if len(w) > 1 else f'"{w}"' for w in words)
    fts: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(sql_text("assets_fts"))
        .where(sql_text("assets_fts MATCH :fts_query").bindparams(fts_query=query))
    )
    return Asset.id.in_(fts)


Hit = tuple[Asset, str]  # the asset and how it matched: exact, prefix, name or filter


async def _page(
    session: AsyncSession, stmt: Select[Asset], offset: int, limit: int, kind: str
) -> list[Hit]:
    result = await session.execute(stmt.offset(offset).limit(limit))
    return [(asset, kind) for asset in result.scalars().all()]


async def symbol_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[Hit]:
    """The exact symbol (any class separator; the typed spelling first), then symbols starting
    with the query, shortest first. One statement: ids are ranked on the indexes alone and
    only the page's rows are read."""
    if terms.key is None or terms.symbol is None:
        return []
    exact = _filtered(
        select(
            literal(0).label("tier"),
            Asset.id.label("id"),
            case((Asset.symbol == terms.symbol, 0), else_=1).label("k1"),
            Asset.symbol.label("k2"),
        ).where(Asset.lookup_key == terms.key),
        filters,
    )
    # The prefix spellings themselves are exactly the exact tier's prefix-matching symbols.
    prefix = _filtered(
        select(
            literal(1).label("tier"),
            Asset.id.label("id"),
            func.length(Asset.symbol).label("k1"),
            Asset.symbol.label("k2"),
        ).where(_symbol_prefix(session, terms.prefixes), Asset.symbol.not_in(terms.prefixes)),
        filters,
        use_indexes=dialect_name(session) == "postgresql",
    )
    both = union_all(exact, prefix).subquery("symbol_hits")
    ranked = (
        select(both.c.tier, both.c.id, both.c.k1, both.c.k2)
        .order_by(both.c.tier, both.c.k1, both.c.k2)
        .offset(offset)
        .limit(limit)
        .subquery("ranked")
    )
    stmt = (
        select(Asset, ranked.c.tier)
        .join(ranked, ranked.c.id == Asset.id)
        .order_by(ranked.c.tier, ranked.c.k1, ranked.c.k2)
    )
    result = await session.execute(stmt)
    return [(asset, "exact" if tier == 0 else "prefix") for asset, tier in result.all()]


async def name_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[Hit]:
    if not terms.words:
        return []
    stmt = select(Asset).where(_name_match(session, terms.words))
    if terms.key is not None:
        stmt = stmt.where(Asset.lookup_key != terms.key)
    if terms.prefixes:
        stmt = stmt.where(not_(_symbol_prefix(session, terms.prefixes)))
    phrase = " ".join(terms.words) + "%"
    starts = (
        Asset.name.ilike(phrase)
        if dialect_name(session) == "postgresql"
        else Asset.name.like(phrase)
    )
    # Names starting with the words first; then classified (sector-known, mostly primary)
    # listings before regional duplicates; then the shortest, i.e. closest, names.
    stmt = _filtered(stmt, filters).order_by(
        case((starts, 0), else_=1),
        case((Asset.sector.is_(None), 1), else_=0),
        func.length(Asset.name),
        func.length(Asset.symbol),
        Asset.symbol,
    )
    return await _page(session, stmt, offset, limit, "name")


async def filter_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[Hit]:
    """No query text: every asset the filters allow, by symbol."""
    stmt = _filtered(select(Asset), filters).order_by(Asset.symbol)
    return await _page(session, stmt, offset, limit, "filter")
