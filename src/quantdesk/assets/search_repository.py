"""Catalog search queries: two ranked tiers, each one indexed query, on SQLite and PostgreSQL.

- exact: the symbol however its class separator is typed (``lookup_key``, btree), and a crypto
  asset by its short name ("btc" is BTC-USD);
- match: symbols starting with the query and names whose words start with the query's words,
  read in the catalog's precomputed ``search_order`` (see ``ranking``) so a page stops early:
  SQLite's FTS5 table ``assets_fts`` is keyed by that order, so its MATCH comes back ranked;
  PostgreSQL walks the order index (which carries the tsvector and the filtered columns, so
  index-only) or reads the GIN index on ``search_tsv``, whichever its planner finds cheaper.
The match tier leaves out what the exact tier found, so results never repeat.

Statements are built once per shape (dialect, filters used, exact key present) with bound
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
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import dialect_name
from quantdesk.models import Asset
from quantdesk.models.asset import AssetClass, ValidationStatus


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
        exchange = self.exchange.lower() if self.exchange else None
        values = {"f_sector": self.sector, "f_class": self.asset_class, "f_exchange": exchange}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class SearchTerms:
    """The query text, already made safe: canonical symbol forms and folded word tokens."""

    symbol: str | None  # canonical symbol, when the text can be one
    key: str | None  # its lookup key
    crypto_key: str | None  # the crypto pair it may name: "BTC" -> "BTC-USD"
    symbol_key: str | None  # the key without separators, lower-case: "brkb", "vodl"
    words: tuple[str, ...]  # folded letter/digit tokens for the name match
    # Per word, other spellings to accept (the typo tier): ("microsft",) -> ("microsoft",).
    alternatives: tuple[tuple[str, ...], ...] = ()

    @property
    def matchable(self) -> bool:
        return bool(self.symbol_key or self.words)


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
    currency: str | None
    search_text: str | None  # the folded name words and aliases (see catalog.search_text)


Shape = tuple[bool, bool, bool]

_COLUMNS = (
    Asset.id,
    Asset.symbol,
    Asset.name,
    Asset.asset_class,
    Asset.exchange,
    Asset.country,
    Asset.sector,
    Asset.currency,
    Asset.__table__.c.search_text,
)
_ZERO: ColumnElement[int] = literal_column("0")
_ONE: ColumnElement[int] = literal_column("1")
_ORDER = Asset.__table__.c.search_order


def _filtered(stmt: Any, shape: Shape, *, use_indexes: bool = True) -> Any:
    """Apply the filters in use; ``use_indexes=False`` keeps SQLite reading the ranked FTS hits
    (its planner would otherwise walk every equity through ix_assets_asset_class)."""

    def column(col: Any) -> Any:
        return col if use_indexes else col.concat("")

    sector, asset_class, exchange = shape
    if sector:
        stmt = stmt.where(column(Asset.sector) == bindparam("f_sector"))
    if asset_class:
        stmt = stmt.where(column(Asset.asset_class) == bindparam("f_class"))
    if exchange:  # the service passes a known venue's own spelling; any case is accepted
        stmt = stmt.where(func.lower(Asset.exchange) == bindparam("f_exchange"))
    return stmt


def _exact_condition() -> ColumnElement[bool]:
    return or_(
        Asset.lookup_key == bindparam("key"),
        and_(
            Asset.lookup_key == bindparam("crypto_key"),
            Asset.asset_class == AssetClass.CRYPTO.value,
        ),
    )


def _paged(stmt: Any) -> Any:
    return stmt.offset(bindparam("offset")).limit(bindparam("limit"))


def _settled() -> ColumnElement[bool]:
    # Pending symbols are private to whoever asked for them, and refuted ones are not assets:
    # search shows neither (the ranked tier holds only the catalog's rows anyway).
    return Asset.validation_status == ValidationStatus.VALID.value


@cache
def _exact_statement(shape: Shape) -> Any:
    crypto = case((Asset.asset_class == AssetClass.CRYPTO.value, _ZERO), else_=_ONE)
    typed = case((Asset.symbol == bindparam("symbol"), _ZERO), else_=_ONE)
    stmt = select(*_COLUMNS).where(_exact_condition(), _settled())
    # The lookup key finds one or two rows: filters only check them, never pick an index.
    return _paged(
        _filtered(stmt, shape, use_indexes=False).order_by(crypto, typed, _ORDER, Asset.id)
    )


@cache
def _match_statement(dialect: str, shape: Shape, has_key: bool) -> Any:
    if dialect == "postgresql":
        # Only columns of the order index in the inner query (it carries the tsvector and the
        # filtered columns), so walking it in order runs index-only and stops after a page.
        ids = select(Asset.id, _ORDER.label("o")).where(
            sql_text("assets.search_tsv @@ to_tsquery('simple', :match)")
        )
        if has_key:
            ids = ids.where(Asset.id.not_in(select(Asset.id).where(_exact_condition())))
        page = _paged(_filtered(ids, shape).order_by(_ORDER, Asset.id)).subquery("hits")
        return select(*_COLUMNS).join(page, page.c.id == Asset.id).order_by(page.c.o, page.c.id)
    # SQLite: FTS5 rowids are search orders, so MATCH ... ORDER BY rowid reads ranked hits.
    hits: Select[Any] = (
        select(literal_column("rowid").label("o"))
        .select_from(sql_text("assets_fts"))
        .where(sql_text("assets_fts MATCH :match"))
    )
    if has_key:
        exact = select(_ORDER).where(_exact_condition())
        hits = hits.where(literal_column("rowid").not_in(exact))
    if not any(shape):
        page = _paged(hits.order_by(literal_column("rowid"))).subquery("hits")
        return select(*_COLUMNS).join(page, page.c.o == _ORDER).order_by(page.c.o)
    # With a filter: read the ranked hits in order, each joined to its asset, until a page passes.
    ranked = hits.order_by(literal_column("rowid")).subquery("hits")
    stmt = select(*_COLUMNS).select_from(ranked).join(Asset.__table__, ranked.c.o == _ORDER)
    return _paged(_filtered(stmt, shape, use_indexes=False).order_by(ranked.c.o))


@cache
def _filter_statement(shape: Shape) -> Any:
    stmt = select(*_COLUMNS).where(_settled())
    return _paged(_filtered(stmt, shape).order_by(Asset.symbol))


def _fts_term(word: str, *, prefix: bool) -> str:
    # A one-letter prefix would stand for every word: single letters match whole words.
    return f'"{word}"*' if prefix and len(word) > 1 else f'"{word}"'


def _tsquery_term(word: str, *, prefix: bool) -> str:
    return f"{word}:*D" if prefix and len(word) > 1 else f"{word}:D"


def match_expression(dialect: str, terms: SearchTerms) -> str:
    """The full-text query: the symbol starting with the query, OR every word (or one of its
    alternatives) starting a word of the name, OR the words run together ("wal mart" finds
    "walmart"). Tokens are [a-z0-9] only: nothing in them can be read as query syntax."""
    postgres = dialect == "postgresql"
    term = _tsquery_term if postgres else _fts_term
    both, either = (" & ", " | ") if postgres else (" AND ", " OR ")
    options: list[str] = []
    if terms.symbol_key:  # the symbol is its own column (SQLite) / weight A (PostgreSQL)
        key = terms.symbol_key
        options.append(f"{key}:*A" if postgres else f'key : "{key}"*')
    # A lone letter is a symbol prefix ("t"), not every name with a "T" or an "S.A." in it.
    lone_letter = len(terms.words) == 1 and len(terms.words[0]) == 1 and terms.symbol_key
    if terms.words and not lone_letter:
        parts = []
        for i, word in enumerate(terms.words):
            alternatives = terms.alternatives[i] if i < len(terms.alternatives) else ()
            spelled = [term(word, prefix=True), *(term(a, prefix=False) for a in alternatives)]
            parts.append(f"({either.join(spelled)})" if len(spelled) > 1 else spelled[0])
        if len(terms.words) > 1:
            parts = [f"({both.join(parts)})", term("".join(terms.words), prefix=True)]
            name_part = either.join(parts)
        else:
            name_part = parts[0]
        options.append(f"({name_part})" if postgres else f"words : ({name_part})")
    return either.join(options)


def _row(values: Any) -> AssetRow:
    return AssetRow(*values[:9])


def _key_params(terms: SearchTerms) -> dict[str, Any]:
    return {"key": terms.key, "crypto_key": terms.crypto_key or terms.key}


async def plan_each_search(session: AsyncSession) -> None:
    """PostgreSQL: plan this transaction's searches for their own parameters. A prepared
    statement run often gets a generic plan, blind to how common the words are: it would sort
    every match of "c:*" (40 ms) where walking the order index takes 1 ms."""
    if dialect_name(session) == "postgresql":
        await session.execute(sql_text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def exact_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[AssetRow]:
    """The symbol however it is typed, a crypto pair by its short name first."""
    if terms.key is None or terms.symbol is None:
        return []
    params = {
        "symbol": terms.symbol,
        "offset": offset,
        "limit": limit,
        **_key_params(terms),
        **filters.params(),
    }
    result = await session.execute(_exact_statement(filters.shape), params)
    return [_row(row) for row in result.all()]


async def ranked_matches(
    session: AsyncSession,
    terms: SearchTerms,
    filters: SearchFilters,
    *,
    offset: int,
    limit: int,
) -> list[AssetRow]:
    """Symbols starting with the query and names with its words, in the catalog's order."""
    if not terms.matchable:
        return []
    dialect = dialect_name(session)
    stmt = _match_statement(dialect, filters.shape, terms.key is not None)
    params: dict[str, Any] = {
        "match": match_expression(dialect, terms),
        "offset": offset,
        "limit": limit,
        **filters.params(),
    }
    if terms.key is not None:
        params.update(_key_params(terms))
    result = await session.execute(stmt, params)
    return [_row(row) for row in result.all()]


async def filter_matches(
    session: AsyncSession, filters: SearchFilters, *, offset: int, limit: int
) -> list[AssetRow]:
    """No query text: every asset the filters allow, by symbol."""
    params = {"offset": offset, "limit": limit, **filters.params()}
    result = await session.execute(_filter_statement(filters.shape), params)
    return [_row(row) for row in result.all()]


async def search_vocabulary(session: AsyncSession) -> list[tuple[str, int]]:
    """(search text, search order) of every ranked asset: the typo tier's word list."""
    result = await session.execute(
        select(Asset.search_text, _ORDER).where(Asset.search_text.is_not(None))
    )
    return [(text, order) for text, order in result.all() if order is not None]
