"""Financial Modeling Prep adapter against its recorded answers, served by a local fake server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

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
from quantdesk.market.providers.fmp import FmpProvider
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import recorded, recorded_body

KEY = "FMPTESTKEY7"


@pytest.fixture
async def provider(server: FakeHttpServer) -> AsyncIterator[FmpProvider]:
    adapter = FmpProvider(api_key=KEY, base_url=server.url, timeout=0.5)
    yield adapter
    await adapter.aclose()


async def test_quote_from_the_batch_endpoint(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add(
        "/stable/batch-quote", recorded("fmp/quote_stable_AAPL.json"), query={"symbols": "AAPL"}
    )

    quote = await provider.fetch(Dataset.QUOTE, "AAPL")

    assert isinstance(quote, Quote)
    assert quote.price == Decimal("256.08")
    assert quote.change == Decimal("10.58")
    assert quote.change_percent == Decimal("4.30957")
    assert quote.volume == Decimal("101865199")
    assert quote.market_cap == Decimal("3800327071200")
    assert quote.as_of == datetime.fromtimestamp(1758571201, tz=UTC)
    assert quote.source == "fmp"
    (request,) = server.requests("/stable/batch-quote")
    assert request.query == {"symbols": "AAPL", "apikey": KEY}


async def test_quote_reads_v3_field_names(server: FakeHttpServer, provider: FmpProvider) -> None:
    # The same answer spelt as the v3 API did (changesPercentage, mktCap).
    entry = dict(recorded_body("fmp/quote_stable_AAPL.json")[0])
    entry["changesPercentage"] = entry.pop("changePercentage")
    entry["mktCap"] = entry.pop("marketCap")
    server.add("/stable/batch-quote", Reply(body=[entry]))

    quote = await provider.fetch(Dataset.QUOTE, "AAPL")

    assert isinstance(quote, Quote)
    assert quote.change_percent == Decimal("4.30957")
    assert quote.market_cap == Decimal("3800327071200")


@pytest.mark.parametrize("dataset", [Dataset.QUOTE, Dataset.LOOKUP, Dataset.PROFILE])
async def test_empty_list_means_unknown_symbol(
    server: FakeHttpServer, provider: FmpProvider, dataset: Dataset
) -> None:
    server.add("/stable/batch-quote", Reply(body=[]))
    server.add("/stable/profile", Reply(body=[]))

    assert await provider.fetch(dataset, "NOSUCHTICKER") is None


async def test_lookup_uses_the_profile(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/profile", recorded("fmp/profile_stable_AAPL.json"))

    info = await provider.fetch(Dataset.LOOKUP, "aapl")

    assert info == SymbolInfo(
        symbol="AAPL",
        name="Apple Inc.",
        exchange="NASDAQ",
        asset_class="equity",
        currency="USD",
        country="US",
        source="fmp",
    )
    assert server.requests("/stable/profile")[0].query["symbol"] == "AAPL"


async def test_profile(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/profile", recorded("fmp/profile_stable_AAPL.json"))

    profile = await provider.fetch(Dataset.PROFILE, "AAPL")

    assert isinstance(profile, Profile)
    assert (profile.sector, profile.industry) == ("Technology", "Consumer Electronics")
    assert profile.market_cap == Decimal("3800327071200")
    assert profile.website == "https://www.apple.com"
    # lastDividend 1.02 over the price 256.08, as a fraction.
    assert profile.dividend_yield == Decimal("0.003983")


async def test_bad_key_401_is_auth_error_without_the_key(
    server: FakeHttpServer, provider: FmpProvider
) -> None:
    server.add("/stable/batch-quote", recorded("fmp/error_401_invalid-api-key.json"))

    with pytest.raises(ProviderAuthError) as caught:
        await provider.fetch(Dataset.QUOTE, "AAPL")

    assert "Invalid API KEY" in str(caught.value)
    assert KEY not in str(caught.value)


async def test_plan_gated_402_plain_text_is_quota(
    server: FakeHttpServer, provider: FmpProvider
) -> None:
    # FMP answers 402 with a plain-text body (see the recordings README); wording paraphrased.
    server.add("/stable/profile", Reply(status=402, body="Restricted Endpoint: upgrade your plan"))

    with pytest.raises(ProviderQuotaExceeded, match="Restricted Endpoint"):
        await provider.fetch(Dataset.PROFILE, "AAPL")


async def test_legacy_endpoint_403_is_auth_error(
    server: FakeHttpServer, provider: FmpProvider
) -> None:
    body = {"Error Message": "Legacy Endpoint : Due to Legacy endpoints being no longer supported"}
    server.add("/stable/batch-quote", Reply(status=403, body=body))

    with pytest.raises(ProviderAuthError, match="Legacy Endpoint"):
        await provider.fetch(Dataset.QUOTE, "AAPL")


async def test_limit_reach_429_is_quota(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add("/stable/batch-quote", recorded("fmp/error_429_limit-reach.json"))  # no Retry-After

    with pytest.raises(ProviderQuotaExceeded, match="Limit Reach"):
        await provider.fetch(Dataset.QUOTE, "AAPL")


async def test_429_with_retry_after_is_throttled(
    server: FakeHttpServer, provider: FmpProvider
) -> None:
    server.add(
        "/stable/batch-quote",
        recorded("fmp/error_429_limit-reach.json", headers={"Retry-After": "30"}),
    )

    with pytest.raises(ProviderThrottled) as caught:
        await provider.fetch(Dataset.QUOTE, "AAPL")

    assert caught.value.retry_after == 30


async def test_server_error_then_recovery(server: FakeHttpServer, provider: FmpProvider) -> None:
    server.add(
        "/stable/batch-quote",
        Reply(status=502, body="<html>Bad Gateway</html>"),
        recorded("fmp/quote_stable_AAPL.json"),
    )

    with pytest.raises(ProviderUnavailable, match="HTTP 502"):
        await provider.fetch(Dataset.QUOTE, "AAPL")
    quote = await provider.fetch(Dataset.QUOTE, "AAPL")

    assert isinstance(quote, Quote)
    assert len(server.requests("/stable/batch-quote")) == 2


async def test_timeout_is_unavailable(server: FakeHttpServer) -> None:
    server.add("/stable/batch-quote", recorded("fmp/quote_stable_AAPL.json", delay=1.0))
    adapter = FmpProvider(api_key=KEY, base_url=server.url, timeout=0.1)
    try:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await adapter.fetch(Dataset.QUOTE, "AAPL")
    finally:
        await adapter.aclose()


async def test_missing_key_fails_without_calling(server: FakeHttpServer) -> None:
    adapter = FmpProvider(api_key=None, base_url=server.url)
    try:
        with pytest.raises(ProviderAuthError):
            await adapter.fetch(Dataset.QUOTE, "AAPL")
    finally:
        await adapter.aclose()
    assert server.requests() == []
