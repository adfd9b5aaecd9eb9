"""build_providers: the configured chain, in order, each adapter wired to its own settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from quantdesk.kit.config import Settings
from quantdesk.market.providers.alphavantage import AlphaVantageProvider
from quantdesk.market.providers.base import (
    Capability,
    CryptoPrice,
    ProviderAuthError,
    ProviderUnavailable,
    Quote,
)
from quantdesk.market.providers.coingecko import CoinGeckoProvider
from quantdesk.market.providers.fmp import FmpProvider
from quantdesk.market.providers.registry import PROVIDER_NAMES, build_providers
from quantdesk.market.providers.sim import SimProvider
from quantdesk.market.providers.yahoo import YahooProvider
from tests.fakes.http_server import FakeHttpServer
from tests.market.providers.recordings import recorded


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, environment="test", **values)  # type: ignore[call-arg]


def test_provider_names() -> None:
    assert PROVIDER_NAMES == ("yahoo", "alphavantage", "fmp", "coingecko", "sim")


def test_default_chain_is_the_offline_sim() -> None:
    providers = build_providers(settings())

    assert [type(p) for p in providers] == [SimProvider]
    assert providers[0].simulated is True


async def test_chain_follows_the_setting_order() -> None:
    providers = build_providers(settings(providers="coingecko, FMP,sim,yahoo,alphavantage"))
    try:
        assert [type(p) for p in providers] == [
            CoinGeckoProvider,
            FmpProvider,
            SimProvider,
            YahooProvider,
            AlphaVantageProvider,
        ]
        assert [p.name for p in providers] == ["coingecko", "fmp", "sim", "yahoo", "alphavantage"]
    finally:
        for provider in providers:
            await provider.aclose()


def test_unknown_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'bloomberg'.*known providers: yahoo, alphavantage"):
        build_providers(settings(providers="sim,bloomberg"))


def test_a_name_given_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'sim'"):
        build_providers(settings(providers="sim,fmp,sim"))


async def test_keyless_providers_are_built_and_refuse_calls(server: FakeHttpServer) -> None:
    providers = build_providers(
        settings(
            providers="alphavantage,fmp",
            alphavantage_base_url=server.url,
            fmp_base_url=server.url,
        )
    )
    try:
        for provider in providers:
            with pytest.raises(ProviderAuthError):
                await provider.fetch(Capability.QUOTE, "AAPL")
    finally:
        for provider in providers:
            await provider.aclose()
    assert server.requests() == []


async def test_each_adapter_uses_its_own_base_url_key_and_timeout(server: FakeHttpServer) -> None:
    server.add("/query", recorded("alphavantage/global_quote_MSFT.json"))
    server.add("/stable/quote", recorded("fmp/quote_stable_AAPL.json", delay=0.5))
    server.add("/api/v3/simple/price", recorded("coingecko/simple_price_market-data_bitcoin.json"))
    alphavantage, fmp, coingecko = build_providers(
        settings(
            providers="alphavantage,fmp,coingecko",
            alphavantage_base_url=server.url,
            alphavantage_api_key="AV-KEY",
            fmp_base_url=server.url,
            fmp_api_key="FMP-KEY",
            fmp_timeout_seconds=0.1,
            coingecko_base_url=f"{server.url}/api/v3",  # works keyless
        )
    )
    try:
        quote = await alphavantage.fetch(Capability.QUOTE, "MSFT")
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await fmp.fetch(Capability.QUOTE, "AAPL")
        price = await coingecko.fetch(Capability.CRYPTO_PRICE, "BTC-USD")
    finally:
        for provider in (alphavantage, fmp, coingecko):
            await provider.aclose()

    assert isinstance(quote, Quote)
    assert quote.price == Decimal("112.1300")
    assert isinstance(price, CryptoPrice)
    assert price.price == Decimal("8836.83")
    assert server.requests("/query")[0].query["apikey"] == "AV-KEY"
    assert server.requests("/stable/quote")[0].query["apikey"] == "FMP-KEY"


async def test_a_shared_client_is_used_and_left_open(server: FakeHttpServer) -> None:
    server.add("/simple/price", recorded("coingecko/simple_price_market-data_bitcoin.json"))
    seen: list[str] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [note]}) as http:
        (coingecko,) = build_providers(
            settings(providers="coingecko", coingecko_base_url=server.url), http=http
        )
        await coingecko.fetch(Capability.CRYPTO_PRICE, "BTC-USD")
        await coingecko.aclose()

        assert seen == ["/simple/price"]
        assert not http.is_closed
