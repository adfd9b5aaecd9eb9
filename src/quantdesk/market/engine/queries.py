"""What the engine asks a provider for each data type: the dataset's query for a symbol (or for
none), the same for the refresh worker and for on-demand reads, so both store the same thing."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from quantdesk.market.providers.datasets import (
    Dataset,
    DividendsQuery,
    NoQuery,
    StatementsQuery,
    SymbolQuery,
    spec_of,
)

# Dividends kept in the store: the last five years (a yield chart, a payout history).
DIVIDEND_DAYS = 5 * 366


def dataset_of(data_type: str) -> Dataset:
    """The dataset behind a data type (the registry names each type after its dataset)."""
    return spec_of(data_type).dataset


def query_for(data_type: str, symbol: str | None, *, today: dt.date | None = None) -> BaseModel:
    """The query the store's value of (symbol, data type) answers; a ValueError for a type that
    needs a symbol and got none (or the reverse)."""
    dataset = dataset_of(data_type)
    model = spec_of(dataset).query
    if model is NoQuery:
        if symbol is not None:
            raise ValueError(f"{data_type} is about no symbol")
        return NoQuery()
    if symbol is None:
        raise ValueError(f"{data_type} needs a symbol")
    if dataset is Dataset.FINANCIAL_STATEMENTS:
        return StatementsQuery(symbol=symbol)  # the latest annual statements
    if dataset is Dataset.DIVIDEND_HISTORY:
        day = today or dt.datetime.now(dt.UTC).date()
        # Days, not replace(year=...): a 29 February has no twin five years back.
        return DividendsQuery(symbol=symbol, start=day - dt.timedelta(days=DIVIDEND_DAYS))
    return SymbolQuery(symbol=symbol)


def symbol_only(data_type: str) -> bool:
    """Whether the type's query is the bare symbol (so calls may batch many symbols)."""
    spec = spec_of(data_type)
    return spec.per_symbol and set(spec.query.model_fields) == {"symbol"}
