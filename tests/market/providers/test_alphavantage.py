"""Alpha Vantage adapter against its recorded answers, served by a local fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quantdesk.market.providers.alphavantage import AlphaVantageProvider
from quantdesk.market.providers.base import (
    Profile,
    ProviderAuthError,
    ProviderQuotaExceeded,
    ProviderThrottled,
    ProviderUnavailable,
    Quote,
    SymbolInfo,
)
from quantdesk.market.providers.datasets import Dataset
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import closed_port_url, recorded

KEY = "AVTESTKEY42"
GLOBAL_QUOTE = {"function": "GLOBAL_QUOTE"}
SEARCH = {"function": "SYMBOL_SEARCH"}


@pytest.fixture
async def provider(server: FakeHttpServer) -> AsyncIterator[AlphaVantageProvider]:
    adapter = AlphaVantageProvider(api_key=KEY, base_url=server.url, timeout=0.5)
    yield adapter
    await adapter.aclose()


async def test_quote_parses_string_values(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", recorded("alphavantage/global_quote_MSFT.json"), query=GLOBAL_QUOTE)

    quote = await provider.fetch(Dataset.QUOTE, "msft")

    assert isinstance(quote, Quote)
    assert quote.symbol == "MSFT"
    assert quote.price == Decimal("112.1300")
    assert quote.change == Decimal("-0.6600")
    assert quote.change_percent == Decimal("-0.5852")  # "-0.5852%" in percent units
    assert quote.volume == Decimal("29062853")
    # The quote is for the 2018-10-05 session, so it cannot be newer than that day.
    assert quote.as_of == datetime(2018, 10, 5, 23, 59, 59, 999999, tzinfo=UTC)
    assert quote.source == "alphavantage"
    (request,) = server.requests("/query")
    assert request.query == {"function": "GLOBAL_QUOTE", "symbol": "MSFT", "apikey": KEY}


async def test_quote_of_unknown_symbol_is_none(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", recorded("alphavantage/global_quote_invalid-symbol_empty.json"))

    assert await provider.fetch(Dataset.QUOTE, "NOSUCHTICKER") is None


async def test_lookup_takes_the_exact_search_match(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", recorded("alphavantage/symbol_search_BA.json"), query=SEARCH)
    server.add("/query", Reply(status=500), query=GLOBAL_QUOTE)  # must not be needed

    info = await provider.fetch(Dataset.LOOKUP, "BA")

    assert info == SymbolInfo(
        symbol="BA",
        name="The Boeing Company",
        asset_class="equity",
        currency="USD",
        country="United States",
        source="alphavantage",
    )
    assert [r.query["function"] for r in server.requests()] == ["SYMBOL_SEARCH"]


async def test_lookup_without_exact_match_asks_global_quote(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    # The BA search answer lists BABA, BAC... but no "MSFT": the quote endpoint decides.
    server.add("/query", recorded("alphavantage/symbol_search_BA.json"), query=SEARCH)
    server.add("/query", recorded("alphavantage/global_quote_MSFT.json"), query=GLOBAL_QUOTE)

    info = await provider.fetch(Dataset.LOOKUP, "MSFT")

    assert isinstance(info, SymbolInfo)
    assert info.symbol == "MSFT"
    assert [r.query["function"] for r in server.requests()] == ["SYMBOL_SEARCH", "GLOBAL_QUOTE"]


async def test_lookup_of_unknown_symbol_is_none(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", recorded("alphavantage/symbol_search_BA.json"), query=SEARCH)
    server.add(
        "/query",
        recorded("alphavantage/global_quote_invalid-symbol_empty.json"),
        query=GLOBAL_QUOTE,
    )

    assert await provider.fetch(Dataset.LOOKUP, "BAXQ") is None


async def test_profile_from_overview(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", recorded("alphavantage/overview_IBM.json"), query={"function": "OVERVIEW"})

    profile = await provider.fetch(Dataset.PROFILE, "IBM")

    assert isinstance(profile, Profile)
    assert profile.name == "International Business Machines Corporation"
    assert profile.asset_class == "equity"  # "Common Stock"
    assert (profile.exchange, profile.sector) == ("NYSE", "Technology")
    assert profile.industry == "Information Technology Services"
    assert profile.market_cap == Decimal("114234572800")
    assert profile.pe_ratio == Decimal("14.1327")
    assert profile.dividend_yield == Decimal("0.0529")
    assert profile.description is not None
    assert profile.description.startswith("International")


async def test_profile_of_unknown_symbol_is_none(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", Reply(body={}), query={"function": "OVERVIEW"})  # AV's answer: {}

    assert await provider.fetch(Dataset.PROFILE, "NOSUCHTICKER") is None


async def test_per_minute_note_is_throttled(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    server.add("/query", recorded("alphavantage/throttle_note_per-minute.json"))

    with pytest.raises(ProviderThrottled) as caught:
        await provider.fetch(Dataset.QUOTE, "MSFT")

    assert caught.value.retry_after == 60
    assert caught.value.provider == "alphavantage"


async def test_daily_limit_is_quota_and_never_echoes_the_key(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    # The 2024+ daily-limit text quotes the caller's key back (written from AV's public wording).
    text = (
        f"We have detected your API key as {KEY} and our standard API rate limit is 25 requests"
        " per day. Please subscribe to any of the premium plans at"
        " https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
    )
    server.add("/query", Reply(body={"Information": text}))

    with pytest.raises(ProviderQuotaExceeded) as caught:
        await provider.fetch(Dataset.QUOTE, "MSFT")

    assert KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 86400


async def test_invalid_key_is_auth_error(
    server: FakeHttpServer, provider: AlphaVantageProvider
) -> None:
    message = "the parameter apikey is invalid or missing. Please claim your free API key."
    server.add("/query", Reply(body={"Error Message": message}))

    with pytest.raises(ProviderAuthError):
        await provider.fetch(Dataset.QUOTE, "MSFT")


async def test_missing_key_fails_without_calling(server: FakeHttpServer) -> None:
    adapter = AlphaVantageProvider(api_key=None, base_url=server.url)
    try:
        with pytest.raises(ProviderAuthError):
            await adapter.fetch(Dataset.LOOKUP, "MSFT")
    finally:
        await adapter.aclose()
    assert server.requests() == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=503, body="<html>Service Unavailable</html>"),
        Reply(status=200, body="<html>maintenance</html>"),  # unparseable
        Reply(status=200, body=["not", "an", "object"]),
    ],
)
async def test_server_errors_are_unavailable(
    server: FakeHttpServer, provider: AlphaVantageProvider, reply: Reply
) -> None:
    server.add("/query", reply)

    with pytest.raises(ProviderUnavailable):
        await provider.fetch(Dataset.QUOTE, "MSFT")


async def test_timeout_is_unavailable(server: FakeHttpServer) -> None:
    server.add("/query", recorded("alphavantage/global_quote_MSFT.json", delay=1.0))
    adapter = AlphaVantageProvider(api_key=KEY, base_url=server.url, timeout=0.1)
    try:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await adapter.fetch(Dataset.QUOTE, "MSFT")
    finally:
        await adapter.aclose()


async def test_refused_connection_is_unavailable() -> None:
    adapter = AlphaVantageProvider(api_key=KEY, base_url=closed_port_url(), timeout=1)
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await adapter.fetch(Dataset.QUOTE, "MSFT")
    finally:
        await adapter.aclose()
    assert KEY not in str(caught.value)
