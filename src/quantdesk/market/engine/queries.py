"""What to ask the provider chain for a (symbol, data type): its dataset and query.

A data type's name is its dataset's (``providers.datasets.Dataset``). Reads that fetch on
demand (the engine or the type off) and the refresh worker both build their call here, so the
store holds the same answer for a pair whoever fetched it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from quantdesk.market.providers.datasets import (
    Dataset,
    DatasetSpec,
    DividendsQuery,
    NoQuery,
    StatementsQuery,
    SymbolQuery,
    spec_of,
)

# How far back a dividend history goes (ex-dividend dates from then on).
DIVIDEND_YEARS = 5


def query_for(
    data_type: str, symbol: str | None, *, today: date | None = None
) -> tuple[DatasetSpec[Any, Any], BaseModel]:
    """The dataset and query that refresh ``data_type`` of ``symbol`` (None or "" for the types
    about no symbol: the exchanges). Statements: the query's defaults (annual, latest periods);
    dividends: the last ``DIVIDEND_YEARS`` years up to ``today`` (UTC). ValueError for a name
    that is no data type, or a symbol where none belongs (or none where one does)."""
    try:
        spec = spec_of(data_type)
    except ValueError:
        raise ValueError(f"unknown data type {data_type!r}") from None
    if spec.dataset is Dataset.LOOKUP:  # validation's own question, never stored
        raise ValueError("lookup is not a data type of the store")
    if not spec.per_symbol:
        if symbol:
            raise ValueError(f"{data_type} is about no symbol, not {symbol!r}")
        return spec, NoQuery()
    if not symbol:
        raise ValueError(f"{data_type} needs a symbol")
    if spec.dataset is Dataset.FINANCIAL_STATEMENTS:
        return spec, StatementsQuery(symbol=symbol)
    if spec.dataset is Dataset.DIVIDEND_HISTORY:
        day = today or datetime.now(UTC).date()
        return spec, DividendsQuery(symbol=symbol, start=_years_before(day, DIVIDEND_YEARS))
    if spec.query is not SymbolQuery:  # a new dataset with parameters: give it its defaults here
        raise ValueError(f"no default {spec.query.__name__} for {data_type}")
    return spec, SymbolQuery(symbol=symbol)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, in a year without one
        return day.replace(year=day.year - years, day=28)


def dataset_of(data_type: str) -> Dataset:
    """The dataset behind a data type (the registry names each type after its dataset)."""
    return spec_of(data_type).dataset


def symbol_only(data_type: str) -> bool:
    """Whether the type's query is the bare symbol (so calls may batch many symbols)."""
    spec = spec_of(data_type)
    return spec.per_symbol and set(spec.query.model_fields) == {"symbol"}
