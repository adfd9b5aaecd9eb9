"""build_providers: the configured chain, in order, each adapter wired to its own settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from quantdesk.kit.config import Settings
from quantdesk.market.providers.alphavantage import AlphaVantageProvider
from quantdesk.market.providers.base import (
    ProviderAuthError,
    ProviderUnavailable,
    Quote,
)
from quantdesk.market.providers.coingecko import CoinGeckoProvider
from quantdesk.market.providers.datasets import Dataset
from quantdesk.market.providers.fmp import FmpProvider
from quantdesk.market.providers.registry import (
    PROVIDER_NAMES,
    Registration,
    build_providers,
    catalogue,
    registrations,
)
from quantdesk.market.providers.sim import SimProvider
from quantdesk.market.providers.yahoo import YahooProvider
from tests.fakes.http_server import FakeHttpServer
from tests.market.providers.recordings import recorded


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, environment="test", **values)  # type: ignore[call-arg]


def test_provider_names() -> None:
    assert PROVIDER_NAMES == ("yahoo", "alphavantage", "fmp", "coingecko", "sim")


@pytest.fixture
def unset_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """QUANTDESK_PROVIDERS as a fresh install has it: unset (the test suite sets it to sim)."""
    monkeypatch.delenv("QUANTDESK_PROVIDERS", raising=False)


@pytest.mark.usefixtures("unset_chain")
async def test_default_chain_is_the_real_keyless_providers() -> None:
    providers = build_providers(settings())
    try:
        assert [p.name for p in providers] == ["yahoo", "coingecko"]
        assert not any(p.simulated for p in providers)
    finally:
        for provider in providers:
            await provider.aclose()


@pytest.mark.usefixtures("unset_chain")
@pytest.mark.parametrize(
    ("keys", "chain"),
    [
        ({"fmp_api_key": "F"}, ["yahoo", "coingecko", "fmp"]),
        ({"alphavantage_api_key": "A"}, ["yahoo", "coingecko", "alphavantage"]),
        (
            {"fmp_api_key": "F", "alphavantage_api_key": "A"},
            ["yahoo", "coingecko", "fmp", "alphavantage"],
        ),
        ({"fmp_api_key": "  "}, ["yahoo", "coingecko"]),  # a blank key is no key
    ],
)
def test_keyed_providers_join_the_default_chain_when_keyed(
    keys: dict[str, str], chain: list[str]
) -> None:
    assert settings(**keys).providers == chain


def test_an_empty_setting_means_the_default_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_PROVIDERS", "")

    assert settings().providers == ["yahoo", "coingecko"]


def test_sim_is_opt_in_and_an_explicit_chain_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_PROVIDERS", "sim")
    assert settings(fmp_api_key="F").providers == ["sim"]
    monkeypatch.setenv("QUANTDESK_PROVIDERS", "fmp, Yahoo")
    assert settings().providers == ["fmp", "yahoo"]  # named without its key: kept, as asked

    (sim,) = build_providers(settings(providers="sim"))
    assert sim.simulated is True


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
                await provider.fetch(Dataset.QUOTE, "AAPL")
    finally:
        for provider in providers:
            await provider.aclose()
    assert server.requests() == []


async def test_each_adapter_uses_its_own_base_url_key_and_timeout(server: FakeHttpServer) -> None:
    server.add("/query", recorded("alphavantage/global_quote_MSFT.json"))
    server.add("/stable/batch-quote", recorded("fmp/quote_stable_AAPL.json", delay=0.5))
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
        quote = await alphavantage.fetch(Dataset.QUOTE, "MSFT")
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await fmp.fetch(Dataset.QUOTE, "AAPL")
        price = await coingecko.fetch(Dataset.QUOTE, "BTC-USD")
    finally:
        for provider in (alphavantage, fmp, coingecko):
            await provider.aclose()

    assert isinstance(quote, Quote)
    assert quote.price == Decimal("112.1300")
    assert isinstance(price, Quote)
    assert price.price == Decimal("8836.83")
    assert server.requests("/query")[0].query["apikey"] == "AV-KEY"
    assert server.requests("/stable/batch-quote")[0].query["apikey"] == "FMP-KEY"


async def test_a_shared_client_is_used_and_left_open(server: FakeHttpServer) -> None:
    server.add("/simple/price", recorded("coingecko/simple_price_market-data_bitcoin.json"))
    seen: list[str] = []

    async def note(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [note]}) as http:
        (coingecko,) = build_providers(
            settings(providers="coingecko", coingecko_base_url=server.url), http=http
        )
        await coingecko.fetch(Dataset.QUOTE, "BTC-USD")
        await coingecko.aclose()

        assert seen == ["/simple/price"]
        assert not http.is_closed


async def test_registrations_say_cost_and_batch_size_per_provider_and_dataset() -> None:
    providers = build_providers(settings(providers="yahoo,fmp,coingecko,alphavantage"))
    try:
        found = {(r.provider, r.dataset): r for r in registrations(providers)}
    finally:
        for provider in providers:
            await provider.aclose()

    assert found["yahoo", Dataset.QUOTE] == Registration(
        provider="yahoo", dataset=Dataset.QUOTE, cost_per_call=1, max_symbols=50, batched=True
    )
    assert found["fmp", Dataset.QUOTE].max_symbols == 100
    assert found["coingecko", Dataset.QUOTE].batched is True
    assert found["alphavantage", Dataset.QUOTE].max_symbols == 1  # GLOBAL_QUOTE: one symbol
    assert found["alphavantage", Dataset.LOOKUP].cost_per_call == 2  # search, then a quote
    assert ("alphavantage", Dataset.FINANCIAL_STATEMENTS) not in found


async def test_the_catalogue_names_who_can_serve_each_dataset() -> None:
    serving = await catalogue()

    assert set(serving) == set(Dataset)
    assert all("sim" in names for names in serving.values())  # sim answers every dataset
    assert serving[Dataset.QUOTE] == ["yahoo", "alphavantage", "fmp", "coingecko", "sim"]
    assert serving[Dataset.PROFILE] == ["yahoo", "alphavantage", "fmp", "sim"]
    assert serving[Dataset.DIVIDEND_HISTORY] == ["yahoo", "fmp", "sim"]
    for dataset in (
        Dataset.FINANCIAL_STATEMENTS,
        Dataset.RATIOS_TTM,
        Dataset.SHARES_FLOAT,
        Dataset.REVENUE_SEGMENTATION,
        Dataset.GRADES_HISTORICAL,
        Dataset.EXCHANGE_VARIANTS,
        Dataset.AVAILABLE_EXCHANGES,
        Dataset.EXCHANGE_MARKET_STATUS,
    ):
        assert serving[dataset] == ["fmp", "sim"], dataset
