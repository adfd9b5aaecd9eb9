"""The simulated provider: deterministic per symbol and minute, Decimal results, labelled "sim"."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from quantdesk.market.providers.base import Profile, Quote, SymbolInfo
from quantdesk.market.providers.datasets import (
    SPECS,
    Dataset,
    DividendsQuery,
    FinancialStatement,
    NoQuery,
    StatementsQuery,
    SymbolQuery,
    SymbolsQuery,
)
from quantdesk.market.providers.sim import SimProvider, SimQuoteFetcher, minute_of, price_at

MOMENT = datetime(2026, 3, 2, 14, 30, 12, tzinfo=UTC)


def at(moment: datetime) -> SimProvider:
    return SimProvider(clock=lambda: moment)


def test_is_labelled_simulated() -> None:
    assert SimProvider.simulated is True
    assert SimProvider.name == "sim"


async def test_same_symbol_same_minute_same_quote() -> None:
    first = await at(MOMENT).fetch(Dataset.QUOTE, "AAPL")
    later_that_minute = await at(MOMENT + timedelta(seconds=40)).fetch(Dataset.QUOTE, "aapl")

    assert isinstance(first, Quote)
    assert first == later_that_minute
    assert first.as_of == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    assert first.source == "sim"


async def test_prices_move_with_the_minute_and_differ_by_symbol() -> None:
    prices = [price_at("AAPL", minute_of(MOMENT) + step) for step in range(0, 600, 60)]
    other = price_at("MSFT", minute_of(MOMENT))

    assert len(set(prices)) > 1
    assert other != prices[0]


def test_the_path_is_smooth() -> None:
    start = minute_of(MOMENT)
    path = [price_at("NVDA", start + step) for step in range(24 * 60)]

    steps = [abs(b - a) / a for a, b in itertools.pairwise(path)]

    assert max(steps) < Decimal("0.005")  # no minute moves more than 0.5 %


async def test_results_are_decimals_with_four_places() -> None:
    provider = at(MOMENT)
    quote = await provider.fetch(Dataset.QUOTE, "BTC-USD")

    assert isinstance(quote, Quote)
    for value in (quote.price, quote.change, quote.change_percent, quote.market_cap):
        assert isinstance(value, Decimal)
        assert value.as_tuple().exponent == -4
    assert quote.price > 0
    assert quote.currency == "USD"


async def test_change_is_against_the_price_a_day_earlier() -> None:
    quote = await at(MOMENT).fetch(Dataset.QUOTE, "AAPL")
    day_before = price_at("AAPL", minute_of(MOMENT) - 24 * 60)

    assert isinstance(quote, Quote)
    assert quote.change == quote.price - day_before
    expected_percent = (quote.change / day_before * 100).quantize(Decimal("0.0001"))
    assert quote.change_percent == expected_percent


@pytest.mark.parametrize(("symbol", "asset_class"), [("BTC-USD", "crypto"), ("BRK.B", "equity")])
async def test_lookup_knows_every_well_formed_symbol(symbol: str, asset_class: str) -> None:
    info = await at(MOMENT).fetch(Dataset.LOOKUP, symbol)

    assert info == SymbolInfo(
        symbol=symbol,
        name=f"Simulated {symbol}",
        exchange="SIM",
        asset_class=asset_class,
        currency="USD",
        source="sim",
    )


async def test_a_symbol_that_is_no_listing_is_unknown() -> None:
    # Well formed for a query, not for a listing (see assets.symbols): sim does not know it.
    assert await at(MOMENT).fetch(Dataset.LOOKUP, "A&&B") is None
    assert await at(MOMENT).fetch(Dataset.QUOTE, "A&&B") is None


@pytest.mark.parametrize("symbol", ["", "   ", "not a symbol", "X" * 33])
async def test_malformed_symbol_is_a_clear_error(symbol: str) -> None:
    with pytest.raises(ValidationError, match="symbol"):
        await at(MOMENT).fetch(Dataset.QUOTE, symbol)


def _query(dataset: Dataset) -> BaseModel:
    query = SPECS[dataset].query
    return NoQuery() if query is NoQuery else query.model_validate({"symbol": "MSFT"})


@pytest.mark.parametrize("dataset", list(Dataset))
async def test_every_dataset_is_answered_labelled_and_deterministic(dataset: Dataset) -> None:
    spec = SPECS[dataset]
    first = await at(MOMENT).fetch(dataset, _query(dataset))
    again = await at(MOMENT + timedelta(seconds=30)).fetch(dataset, _query(dataset))

    assert first == again
    items = first if spec.many else [first]
    assert items, f"sim answered nothing for {dataset}"
    assert spec.accepts(first)
    assert {item.source for item in items} == {"sim"}


async def test_statements_follow_the_period_and_limit() -> None:
    query = StatementsQuery(symbol="MSFT", period="quarter", limit=6)

    statements = await at(MOMENT).fetch(Dataset.FINANCIAL_STATEMENTS, query)

    assert len(statements) == 6
    assert all(isinstance(s, FinancialStatement) for s in statements)
    assert [s.period for s in statements[:4]] == ["Q4", "Q3", "Q2", "Q1"]
    assert statements[0].period_end > statements[-1].period_end
    first = statements[0]
    assert first.revenue is not None
    assert first.gross_profit is not None
    assert first.revenue == first.gross_profit + (first.cost_of_revenue or 0)


async def test_dividends_stay_in_the_asked_range() -> None:
    query = DividendsQuery(symbol="MSFT", start=date(2025, 1, 1), end=date(2025, 12, 31))

    dividends = await at(MOMENT).fetch(Dataset.DIVIDEND_HISTORY, query)

    assert len(dividends) == 4
    assert all(date(2025, 1, 1) <= d.ex_date <= date(2025, 12, 31) for d in dividends)
    assert await at(MOMENT).fetch(Dataset.DIVIDEND_HISTORY, "BTC-USD") == []


async def test_quotes_come_in_batches() -> None:
    fetcher = at(MOMENT).fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, SimQuoteFetcher)
    single = await at(MOMENT).fetch(Dataset.QUOTE, SymbolQuery(symbol="AAPL"))

    many = await fetcher.fetch_many(SymbolsQuery(symbols=("AAPL", "BTC-USD", "A&&B")))

    assert many["AAPL"] == single
    assert many["BTC-USD"] is not None
    assert many["A&&B"] is None


async def test_profile_is_minimal_and_labelled() -> None:
    profile = await at(MOMENT).fetch(Dataset.PROFILE, "AAPL")

    assert isinstance(profile, Profile)
    assert profile.source == "sim"
    assert profile.name == "Simulated AAPL"
    assert profile.sector is None
    assert profile.description is not None
    assert "Simulated" in profile.description
