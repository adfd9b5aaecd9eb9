"""Catalog search queries: one indexed query per ranking tier, on SQLite and PostgreSQL.

- exact: ``lookup_key = :key`` (btree index), so BRK.B, BRK-B and BRK/B all hit BRK-B;
- prefix (one statement with exact): ``symbol GLOB 'PFX*'`` on SQLite / ``symbol LIKE 'PFX%'``
  on PostgreSQL, both served by an index on symbol (symbols hold no wildcard characters);
- name: word-prefix full-text match, FTS5 (``assets_fts``) on SQLite and
  ``to_tsvector('simple', name) @@ to_tsquery(...)`` (GIN index) on PostgreSQL.
Each tier excludes what an earlier tier matched, so results never repeat across tiers.

Statements are built once per shape (dialect, filters used, number of prefixes) with bound
parameters and reused: building SQLAlchemy constructs costs more than running these queries.
Rows come back as plain column tuples (``AssetRow``), not ORM objects, for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    case,
    func,
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

    @property
    def shape(self) -> tuple[bool, bool, bool]:
        return bool(self.sector), bool(self.asset_class), bool(self.exchange)

    def params(self) -> dict[str, str]:
        values = {"f_sector": self.sector, "f_class": self.asset_class, "f_exchange": self.exchange}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class SearchTerms:
    """The query text, already made safe: canonical symbol forms and plain word tokens."""

    symbol: str | None  # canonical symbol, when the text can be one
    key: str | None  # its lookup key
    prefixes: tuple[str, ...]  # symbol prefixes to match (canonical and lookup-key spellings)
    words: tuple[str, ...]  # lower-case letter/digit tokens for the name match


@dataclass(frozen=True)
class AssetRow:
    """What a search result shows of an asset."""

    id: int
    symbol: str
    name: str
    asset_class: str
    exchange: str | None
    country: str | None
    sector: str | None


Hit = tuple[AssetRow, str]  # the asset and how it matched: exact, prefix, name or filter
Shape = tuple[bool, bool, bool]

_COLUMNS = (
    Asset.id,
    Asset.symbol,
    Asset.name,
    Asset.asset_class,
    Asset.exchange,
    Asset.country,
    Asset.sector,
)
_ZERO: ColumnElement[int] = literal_column("0")
_ONE: ColumnElement[int] = literal_column("1")


def _filtered(stmt: Any, shape: Shape, *, use_indexes: bool = True) -> Any:
    """Apply the filters in use; ``use_indexes=False`` keeps SQLite on the symbol index for
    prefixes (its planner would otherwise walk every equity through ix_assets_asset_class)."""

    def column(col: Any) -> Any:
        return col if use_indexes else col.concat("")

    sector, asset_class, exchange = shape
    if sector:
        stmt = stmt.where(column(Asset.sector) == bindparam("f_sector"))
    if asset_class:
        stmt = stmt.where(column(Asset.asset_class) == bindparam("f_class"))
    if exchange:
        stmt = stmt.where(column(Asset.exchange) == bindparam("f_exchange"))
    return stmt


def _symbol_prefix(dialect: str, prefixes: int) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return or_(*(Asset.symbol.like(bindparam(f"pattern{i}")) for i in range(prefixes)))
    return or_(*(Asset.symbol.bool_op("GLOB")(bindparam(f"pattern{i}")) for i in range(prefixes)))


def _patterns(dialect: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    wildcard = "%" if dialect == "postgresql" else "*"
    return {f"pattern{i}": f"{p}{wildcard}" for i, p in enumerate(prefixes)}


def _name_match(dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return sql_text(  # type: ignore[return-value]
            "to_tsvector('simple', assets.name) @@ to_tsquery('simple', :words)"
        )
    fts: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(sql_text("assets_fts"))
        .where(sql_text("assets_fts MATCH :words"))
    )
    return Asset.id.in_(fts)


def _words_query(dialect: str, words: tuple[str, ...]) -> str:
    # A one-letter prefix would expand to thousands of terms: single letters match whole words.
    if dialect == "postgresql":
        return " & ".join(f"{w}:*" if len(w) > 1 else w for w in words)
    return " ".join(f'"{w}"*' if len(w) > 1 else f'"{w}"' for w in words)


def _paged(stmt: Any) -> Any:
    return stmt.offset(bindparam("offset")).limit(bindparam("limit"))


@cache
def _symbol_statement(dialect: str, shape: Shape, prefixes: int) -> Any:
    exact = _filtered(
        select(
            _ZERO.label("tier"),
            Asset.id.label("id"),
            case((Asset.symbol == bindparam("symbol"), _ZERO), else_=_ONE).label("k1"),
            Asset.symbol.label("k2"),
        ).where(Asset.lookup_key == bindparam("key")),
        shape,
    )
    # The prefix spellings themselves are exactly the exact tier's prefix-matching symbols.
    prefix = _filtered(
        select(
            _ONE.label("tier"),
            Asset.id.label("id"),
            func.length(Asset.symbol).label("k1"),
            Asset.symbol.label("k2"),
        ).where(
            _symbol_prefix(dialect, prefixes),
            Asset.symbol.not_in(bindparam("prefixes", expanding=True)),
        ),
        shape,
        use_indexes=dialect == "postgresql",
    )
    both = union_all(exact, prefix).subquery("symbol_hits")
    # Ids are ranked on the indexes alone; only the page's rows are read.
    ranked = _paged(
        select(both.c.tier, both.c.id, both.c.k1, both.c.k2).order_by(
            both.c.tier, both.c.k1, both.c.k2
        )
    ).subquery("ranked")
    return (
        select(*_COLUMNS, ranked.c.tier)
        .join(ranked, ranked.c.id == Asset.id)
        .order_by(ranked.c.tier, ranked.c.k1, ranked.c.k2)
    )


@cache
def _name_statement(dialect: str, shape: Shape, prefixes: int, has_key: bool) -> Any:
    stmt = select(*_COLUMNS).where(_name_match(dialect))
    if has_key:
        stmt = stmt.where(Asset.lookup_key != bindparam("key"))
    if prefixes:
        stmt = stmt.where(not_(_symbol_prefix(dialect, prefixes)))
    phrase: ColumnElement[str] = bindparam("phrase")
    starts = Asset.name.ilike(phrase) if dialect == "postgresql" else Asset.name.like(phrase)
    # Names starting with the words first; then classified (sector-known, mostly primary)
    # listings before regional duplicates; then the shortest, i.e. closest, names.
    return _paged(
        _filtered(stmt, shape).order_by(
            case((starts, _ZERO), else_=_ONE),
            case((Asset.sector.is_(None), _ONE), else_=_ZERO),
            func.length(Asset.name),
            func.length(Asset.symbol),
            Asset.symbol,
        )
    )


@cache
def _filter_statement(shape: Shape) -> Any:
    return _paged(_filtered(select(*_COLUMNS), shape).order_by(Asset.symbol))


def _row(values: Any) -> AssetRow:
    return AssetRow(*values[:7])


async def symbol_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[Hit]:
    """The exact symbol (any class separator; the typed spelling first), then symbols starting
    with the query, shortest first."""
    if terms.key is None or terms.symbol is None:
        return []
    dialect = dialect_name(session)
    stmt = _symbol_statement(dialect, filters.shape, len(terms.prefixes))
    params = {
        "symbol": terms.symbol,
        "key": terms.key,
        "prefixes": list(terms.prefixes),
        "offset": offset,
        "limit": limit,
        **_patterns(dialect, terms.prefixes),
        **filters.params(),
    }
    result = await session.execute(stmt, params)
    return [(_row(row), "exact" if row[7] == 0 else "prefix") for row in result.all()]


async def name_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[Hit]:
    """Names whose words start with the query's words (all of them), minus symbol matches."""
    if not terms.words:
        return []
    dialect = dialect_name(session)
    stmt = _name_statement(dialect, filters.shape, len(terms.prefixes), terms.key is not None)
    params: dict[str, Any] = {
        "words": _words_query(dialect, terms.words),
        "phrase": " ".join(terms.words) + "%",
        "offset": offset,
        "limit": limit,
        **_patterns(dialect, terms.prefixes),
        **filters.params(),
    }
    if terms.key is not None:
        params["key"] = terms.key
    result = await session.execute(stmt, params)
    return [(_row(row), "name") for row in result.all()]


async def filter_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[Hit]:
    """No query text: every asset the filters allow, by symbol."""
    stmt = _filter_statement(filters.shape)
    params = {"offset": offset, "limit": limit, **filters.params()}
    result = await session.execute(stmt, params)
    return [(_row(row), "filter") for row in result.all()]
