"""``query_for``: the one mapping from a (symbol, data type) to the dataset and query the provider
chain is asked (reads on demand and the refresh worker alike)."""

from __future__ import annotations

from datetime import date

import pytest

from quantdesk.market.engine.queries import query_for
from quantdesk.market.providers.datasets import (
    Dataset,
    DividendsQuery,
    NoQuery,
    StatementsQuery,
    SymbolQuery,
)
from quantdesk.market.schemas import WATCHABLE_TYPES

SEEDED_SYMBOL_LESS = ("available-exchanges", "exchange-market-status")


@pytest.mark.parametrize("data_type", WATCHABLE_TYPES)
def test_every_watchable_type_is_its_dataset_for_one_symbol(data_type: str) -> None:
    spec, query = query_for(data_type, "AAPL")
    assert spec.dataset == Dataset(data_type)
    assert isinstance(query, SymbolQuery)
    assert query.symbol == "AAPL"
    assert isinstance(query, spec.query)


@pytest.mark.parametrize("data_type", SEEDED_SYMBOL_LESS)
def test_the_exchange_types_take_no_symbol(data_type: str) -> None:
    for symbol in (None, ""):  # "" is how the tables write "no symbol"
        spec, query = query_for(data_type, symbol)
        assert (spec.dataset, query) == (Dataset(data_type), NoQuery())


def test_statements_take_the_query_defaults_and_dividends_the_last_five_years() -> None:
    _, statements = query_for("financial-statements", "MSFT")
    assert statements == StatementsQuery(symbol="MSFT")
    assert (statements.period, statements.limit) == ("annual", 5)

    _, dividends = query_for("dividend-history", "MSFT", today=date(2026, 11, 28))
    assert dividends == DividendsQuery(symbol="MSFT", start=date(2021, 11, 28))
    _, leap = query_for("dividend-history", "MSFT", today=date(2028, 2, 29))
    assert isinstance(leap, DividendsQuery)
    assert (leap.start, leap.end) == (date(2023, 2, 28), None)

    _, today = query_for("dividend-history", "MSFT")
    assert isinstance(today, DividendsQuery)
    assert today.start is not None
    assert today.start.year <= date.today().year - 4


@pytest.mark.parametrize(
    ("data_type", "symbol", "message"),
    [
        ("quotes", "AAPL", "unknown data type 'quotes'"),
        ("lookup", "AAPL", "not a data type"),
        ("quote", None, "quote needs a symbol"),
        ("quote", "", "quote needs a symbol"),
        ("available-exchanges", "AAPL", "about no symbol"),
    ],
)
def test_what_is_no_call_is_a_clear_error(data_type: str, symbol: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        query_for(data_type, symbol)
