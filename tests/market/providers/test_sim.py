"""The simulated provider: deterministic per symbol and minute, Decimal results, labelled "sim"."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quantdesk.market.providers.base import (
    Capability,
    CryptoPrice,
    Profile,
    ProviderUnsupported,
    Quote,
    SymbolInfo,
)
from quantdesk.market.providers.sim import SimProvider, minute_of, price_at

MOMENT = datetime(2026, 3, 2, 14, 30, 12, tzinfo=UTC)


def at(moment: datetime) -> SimProvider:
    return SimProvider(clock=lambda: moment)


def test_is_labelled_simulated() -> None:
    assert SimProvider.simulated is True
    assert SimProvider.name == "sim"


async def test_same_symbol_same_minute_same_quote() -> None:
    first = await at(MOMENT).fetch(Capability.QUOTE, "AAPL")
    later_that_minute = await at(MOMENT + timedelta(seconds=40)).fetch(Capability.QUOTE, "aapl")

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
    quote = await provider.fetch(Capability.QUOTE, "BTC-USD")
    crypto = await provider.fetch(Capability.CRYPTO_PRICE, "BTC-USD")

    assert isinstance(quote, Quote)
    assert isinstance(crypto, CryptoPrice)
    for value in (quote.price, quote.change, quote.change_percent, quote.market_cap):
        assert isinstance(value, Decimal)
        assert value.as_tuple().exponent == -4
    assert crypto.price == quote.price > 0
    assert crypto.change_24h_percent == quote.change_percent


async def test_change_is_against_the_price_a_day_earlier() -> None:
    quote = await at(MOMENT).fetch(Capability.QUOTE, "AAPL")
    day_before = price_at("AAPL", minute_of(MOMENT) - 24 * 60)

    assert isinstance(quote, Quote)
    assert quote.change == quote.price - day_before
    expected_percent = (quote.change / day_before * 100).quantize(Decimal("0.0001"))
    assert quote.change_percent == expected_percent


@pytest.mark.parametrize(("symbol", "asset_class"), [("BTC-USD", "crypto"), ("BRK.B", "equity")])
async def test_lookup_knows_every_well_formed_symbol(symbol: str, asset_class: str) -> None:
    info = await at(MOMENT).fetch(Capability.LOOKUP, symbol)

    assert info == SymbolInfo(
        symbol=symbol,
        name=f"Simulated {symbol}",
        exchange="SIM",
        asset_class=asset_class,
        currency="USD",
        source="sim",
    )


async def test_malformed_symbol_is_unknown() -> None:
    assert await at(MOMENT).fetch(Capability.LOOKUP, "not a symbol!") is None
    assert await at(MOMENT).fetch(Capability.QUOTE, "") is None


async def test_crypto_price_only_for_pairs() -> None:
    with pytest.raises(ProviderUnsupported):
        await at(MOMENT).fetch(Capability.CRYPTO_PRICE, "AAPL")


async def test_profile_is_minimal_and_labelled() -> None:
    profile = await at(MOMENT).fetch(Capability.PROFILE, "AAPL")

    assert isinstance(profile, Profile)
    assert profile.source == "sim"
    assert profile.name == "Simulated AAPL"
    assert profile.sector is None
    assert profile.description is not None
    assert "Simulated" in profile.description
