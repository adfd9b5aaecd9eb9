"""CoinGecko adapter against its recorded answers, served by a local fake server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import quantdesk.assets
from quantdesk.market.providers.base import (
    ProviderAuthError,
    ProviderThrottled,
    ProviderUnavailable,
    ProviderUnsupported,
    Quote,
    SymbolInfo,
)
from quantdesk.market.providers.coingecko import (
    PREFERRED_IDS,
    CoinGeckoProvider,
    CoinGeckoQuoteFetcher,
    choose_coin,
)
from quantdesk.market.providers.datasets import Dataset, SymbolsQuery
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import recorded, recorded_body

BITCOIN_PRICE = "coingecko/simple_price_market-data_bitcoin.json"


@pytest.fixture
async def provider(server: FakeHttpServer) -> AsyncIterator[CoinGeckoProvider]:
    adapter = CoinGeckoProvider(base_url=server.url, timeout=0.5)
    yield adapter
    await adapter.aclose()


async def test_quote_of_a_catalog_pair(server: FakeHttpServer, provider: CoinGeckoProvider) -> None:
    server.add("/simple/price", recorded(BITCOIN_PRICE), query={"ids": "bitcoin"})

    price = await provider.fetch(Dataset.QUOTE, "BTC-USD")

    assert price == Quote(
        symbol="BTC-USD",
        price=Decimal("8836.83"),
        market_cap=Decimal("161255769311.96457"),
        volume=Decimal("47478012784.67546"),  # traded USD over 24 h
        change_percent=Decimal("2.83953864074271"),  # over 24 h
        currency="USD",
        as_of=datetime.fromtimestamp(1583162452, tz=UTC),
        source="coingecko",
    )
    (request,) = server.requests()  # BTC is a shipped major: no /coins/list needed
    assert request.query == {
        "ids": "bitcoin",
        "vs_currencies": "usd",
        "include_market_cap": "true",
        "include_24hr_vol": "true",
        "include_24hr_change": "true",
        "include_last_updated_at": "true",
    }
    assert "x-cg-demo-api-key" not in request.headers


async def test_quote_accepts_a_bare_ticker(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/simple/price", recorded(BITCOIN_PRICE), query={"ids": "bitcoin"})

    quote = await provider.fetch(Dataset.QUOTE, "btc")

    assert isinstance(quote, Quote)
    assert (quote.symbol, quote.currency) == ("BTC", "USD")
    assert quote.price == Decimal("8836.83")
    assert quote.change_percent == Decimal("2.83953864074271")
    assert quote.market_cap == Decimal("161255769311.96457")


async def test_lookup_of_a_major_needs_no_request(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    info = await provider.fetch(Dataset.LOOKUP, "ETH-USD")

    assert info == SymbolInfo(
        symbol="ETH-USD", name="Ethereum", asset_class="crypto", currency="USD", source="coingecko"
    )
    assert server.requests() == []


async def test_lookup_resolves_through_the_coin_list_once(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/coins/list", recorded("coingecko/coins_list.json"))

    zrx = await provider.fetch(Dataset.LOOKUP, "ZRX-USD")
    acc = await provider.fetch(Dataset.LOOKUP, "ACC-USD")
    missing = await provider.fetch(Dataset.LOOKUP, "NOSUCHCOIN-USD")

    assert isinstance(zrx, SymbolInfo)
    assert zrx.name == "0x"
    # "acc" is two coins; the one whose id is its own name wins.
    assert isinstance(acc, SymbolInfo)
    assert acc.name == "ACChain"
    assert missing is None
    assert len(server.requests("/coins/list")) == 1


def test_ambiguous_tickers_choose_a_stable_coin() -> None:
    coins = recorded_body("coingecko/coins_list.json")
    acc = [coin for coin in coins if coin["symbol"] == "acc"]
    assert len(acc) == 2

    chosen = choose_coin(acc)
    reversed_choice = choose_coin(list(reversed(acc)))

    assert chosen is not None
    assert chosen.id == "acchain"
    assert reversed_choice == chosen


async def test_price_of_a_pair_from_the_coin_list(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/coins/list", recorded("coingecko/coins_list.json"))
    body = {"0x": recorded_body(BITCOIN_PRICE)["bitcoin"]}
    server.add("/simple/price", Reply(body=body), query={"ids": "0x"})

    price = await provider.fetch(Dataset.QUOTE, "ZRX-USD")

    assert isinstance(price, Quote)
    assert price.symbol == "ZRX-USD"


async def test_coin_without_a_price_is_unknown(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/simple/price", Reply(body={}))  # CoinGecko's answer for an id it does not price

    assert await provider.fetch(Dataset.QUOTE, "BTC-USD") is None


@pytest.mark.parametrize("symbol", ["AAPL", "VOD.L", "^GSPC", "BTC-EUR", "BRK-B"])
async def test_non_crypto_symbols_are_unsupported(
    server: FakeHttpServer, provider: CoinGeckoProvider, symbol: str
) -> None:
    server.add("/coins/list", recorded("coingecko/coins_list.json"))

    with pytest.raises(ProviderUnsupported):
        await provider.fetch(Dataset.LOOKUP, symbol)
    assert server.requests("/simple/price") == []


async def test_stock_capability_is_unsupported(provider: CoinGeckoProvider) -> None:
    with pytest.raises(ProviderUnsupported):
        await provider.fetch(Dataset.PROFILE, "BTC-USD")


@pytest.mark.parametrize(("header", "expected"), [({"Retry-After": "42"}, 42.0), ({}, 60.0)])
async def test_429_is_throttled_with_retry_after(
    server: FakeHttpServer, provider: CoinGeckoProvider, header: dict[str, str], expected: float
) -> None:
    body = {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}}
    server.add("/simple/price", Reply(status=429, body=body, headers=header))

    with pytest.raises(ProviderThrottled) as caught:
        await provider.fetch(Dataset.QUOTE, "BTC-USD")

    assert caught.value.retry_after == expected


async def test_refused_key_is_auth_error(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/simple/price", Reply(status=401, body={"error": "invalid api key"}))

    with pytest.raises(ProviderAuthError):
        await provider.fetch(Dataset.QUOTE, "BTC-USD")


@pytest.mark.parametrize("reply", [Reply(status=500), Reply(status=200, body="<html>")])
async def test_server_errors_are_unavailable(
    server: FakeHttpServer, provider: CoinGeckoProvider, reply: Reply
) -> None:
    server.add("/simple/price", reply)
    server.add("/coins/list", reply)

    with pytest.raises(ProviderUnavailable):
        await provider.fetch(Dataset.QUOTE, "BTC-USD")
    with pytest.raises(ProviderUnavailable):
        await provider.fetch(Dataset.LOOKUP, "ZRX-USD")  # needs the coin list


async def test_timeout_is_unavailable(server: FakeHttpServer) -> None:
    server.add("/simple/price", recorded(BITCOIN_PRICE, delay=1.0))
    adapter = CoinGeckoProvider(base_url=server.url, timeout=0.1)
    try:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await adapter.fetch(Dataset.QUOTE, "BTC-USD")
    finally:
        await adapter.aclose()


async def test_api_key_goes_in_the_demo_header(server: FakeHttpServer) -> None:
    server.add("/simple/price", recorded(BITCOIN_PRICE))
    adapter = CoinGeckoProvider(api_key="CG-demo-key", base_url=server.url)
    try:
        await adapter.fetch(Dataset.QUOTE, "BTC-USD")
    finally:
        await adapter.aclose()

    (request,) = server.requests()
    assert request.headers["x-cg-demo-api-key"] == "CG-demo-key"
    assert "CG-demo-key" not in json.dumps(request.query)


async def test_many_coins_are_priced_in_one_call(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/simple/price", recorded("coingecko/simple_price_multi.json"))
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, CoinGeckoQuoteFetcher)

    quotes = await fetcher.fetch_many(SymbolsQuery(symbols=("BTC-USD", "ETH-USD")))

    (request,) = server.requests()
    assert request.query["ids"] == "bitcoin,ethereum"
    btc, eth = quotes["BTC-USD"], quotes["ETH-USD"]
    assert btc is not None
    assert eth is not None
    assert (btc.symbol, btc.price, btc.source) == ("BTC-USD", Decimal("5005.73"), "coingecko")
    assert (eth.symbol, eth.price, eth.currency) == ("ETH-USD", Decimal("163.58"), "USD")
    assert btc.market_cap is None  # this recording asked for no extras


async def test_a_batch_keeps_unknown_and_unpriced_pairs_apart(
    server: FakeHttpServer, provider: CoinGeckoProvider
) -> None:
    server.add("/coins/list", recorded("coingecko/coins_list.json"))
    server.add("/simple/price", recorded("coingecko/simple_price_multi.json"))
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, CoinGeckoQuoteFetcher)

    quotes = await fetcher.fetch_many(
        SymbolsQuery(symbols=("BTC-USD", "NOSUCHCOIN-USD", "ZRX-USD"))
    )

    assert quotes["BTC-USD"] is not None
    assert quotes["NOSUCHCOIN-USD"] is None  # no coin with that ticker
    assert quotes["ZRX-USD"] is None  # a coin, but the answer has no price for it
    (price_call,) = server.requests("/simple/price")
    assert price_call.query["ids"] == "0x,bitcoin"


def test_quotes_cover_usd_pairs_only(provider: CoinGeckoProvider) -> None:
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, CoinGeckoQuoteFetcher)

    assert fetcher.covers_symbol("BTC-USD")
    assert not fetcher.covers_symbol("AAPL")
    assert not fetcher.covers_symbol("BTC-EUR")
    assert not fetcher.covers_symbol("VOD.L")


def test_preferred_ids_cover_the_crypto_catalog() -> None:
    catalog = Path(quantdesk.assets.__file__).parent / "catalog_data" / "crypto.json"
    symbols = [asset["symbol"] for asset in json.loads(catalog.read_text())["assets"]]

    missing = [s for s in symbols if s.removesuffix("-USD") not in PREFERRED_IDS]

    assert symbols
    assert missing == []
