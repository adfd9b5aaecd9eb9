"""The provider chain: real adapters against a local fake server, the simulated provider behind.

What is checked: the first provider with data answers and the outcome says who was passed over
and why; a 429 / plan-limit answer (the recorded bodies) spends the provider's window in the quota
gate without counting as a breaker failure, and the next provider serves; real failures still
open the breaker; batches cost one call per ``max_symbols``; the gate is an interface.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from quantdesk.kit.config import Settings
from quantdesk.kit.token_bucket import TokenBucketLimiter
from quantdesk.market.providers.datasets import (
    FINANCIAL_STATEMENTS,
    LOOKUP,
    PROFILE,
    QUOTE,
    Dataset,
    StatementsQuery,
    SymbolQuery,
)
from quantdesk.market.providers.gate import RateLimit, TokenBucketGate
from quantdesk.market.providers.yahoo import YahooProvider
from quantdesk.market.runtime import MarketRuntime
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import recorded, recorded_body

FMP_QUOTE = "/stable/batch-quote"
FMP_PROFILE = "/stable/profile"
DAY = 24 * 3600


def chain_settings(server: FakeHttpServer, providers: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "providers": providers,
        "fmp_base_url": server.url,
        "fmp_api_key": SecretStr("FMPKEY"),
        "fmp_timeout_seconds": 0.5,
        "fmp_requests_per_minute": 6000.0,
        "alphavantage_base_url": server.url,
        "alphavantage_api_key": SecretStr("AVKEY"),
        "alphavantage_timeout_seconds": 0.5,
        "alphavantage_requests_per_minute": 6000.0,
        "coingecko_base_url": server.url,
        "coingecko_requests_per_minute": 6000.0,
        "breaker_failure_threshold": 1,  # one real failure opens it: a throttle must not
        "breaker_cooldown_seconds": 60.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def runtime_for(settings: Settings, **kwargs: Any) -> AsyncIterator[MarketRuntime]:
    # The chain's rules with any gate: an in-process one here (tests/market/test_quota.py runs
    # the chain on the persisted ledger).
    kwargs.setdefault("gate", TokenBucketGate.from_settings(settings, list(settings.providers)))
    runtime = MarketRuntime(settings, **kwargs)
    try:
        yield runtime
    finally:
        await runtime.aclose()


def fmp_quotes(*symbols: str) -> Reply:
    entry = recorded_body("fmp/quote_stable_AAPL.json")[0]
    return Reply(body=[{**copy.deepcopy(entry), "symbol": s} for s in symbols])


async def test_the_fallback_answers_and_the_outcome_says_why(server: FakeHttpServer) -> None:
    server.add(FMP_PROFILE, Reply(status=503, body="down"))
    server.add("/query", recorded("alphavantage/overview_IBM.json"), query={"function": "OVERVIEW"})
    async with runtime_for(chain_settings(server, "fmp,alphavantage")) as runtime:
        outcome = await runtime.fetch(PROFILE, SymbolQuery(symbol="IBM"))

    assert outcome.answered
    assert outcome.provider == "alphavantage"
    assert outcome.value is not None
    assert outcome.value.source == "alphavantage"
    assert [(s.provider, s.kind) for s in outcome.skipped] == [("fmp", "unavailable")]


async def test_fmp_limit_reach_spends_its_day_not_its_breaker(server: FakeHttpServer) -> None:
    server.add(FMP_QUOTE, recorded("fmp/error_429_limit-reach.json"))  # no Retry-After
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        first = await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"))
        second = await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"))
        breaker = runtime.breakers["fmp"].snapshot()
        allowance = await runtime.gate.state("fmp")

    assert (first.provider, second.provider) == ("sim", "sim")
    assert first.value is not None
    assert first.value.source == "sim"
    assert [(s.provider, s.kind) for s in first.skipped] == [("fmp", "quota_exceeded")]
    assert (breaker["state"], breaker["failures"]) == ("closed", 0)
    assert allowance is not None
    assert 0 < allowance["spent_for_seconds"] <= DAY  # until the day's reset (UTC midnight)
    # The second fetch did not ask FMP again: its window is spent.
    assert len(server.requests(FMP_QUOTE)) == 1
    (skip,) = second.skipped
    assert (skip.provider, skip.kind) == ("fmp", "rate_limited")
    assert skip.retry_after is not None
    assert 0 < skip.retry_after <= DAY


async def test_a_429_with_retry_after_spends_that_long(server: FakeHttpServer) -> None:
    limited = recorded("fmp/error_429_limit-reach.json", headers={"Retry-After": "42"})
    server.add(FMP_QUOTE, limited)
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        outcome = await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"))
        allowance = await runtime.gate.state("fmp")

    assert [(s.provider, s.kind, s.retry_after) for s in outcome.skipped] == [
        ("fmp", "throttled", 42.0)
    ]
    assert allowance is not None
    assert 40 < allowance["spent_for_seconds"] <= 42
    assert runtime.breakers["fmp"].state == "closed"


async def test_alphavantage_per_minute_note_spends_a_minute(server: FakeHttpServer) -> None:
    server.add("/query", recorded("alphavantage/throttle_note_per-minute.json"))
    async with runtime_for(chain_settings(server, "alphavantage,sim")) as runtime:
        outcome = await runtime.fetch(QUOTE, SymbolQuery(symbol="MSFT"))
        again = await runtime.fetch(QUOTE, SymbolQuery(symbol="MSFT"))
        allowance = await runtime.gate.state("alphavantage")

    assert outcome.provider == "sim"
    assert [(s.provider, s.kind, s.retry_after) for s in outcome.skipped] == [
        ("alphavantage", "throttled", 60.0)
    ]
    assert runtime.breakers["alphavantage"].snapshot()["failures"] == 0
    assert allowance is not None
    assert 55 < allowance["spent_for_seconds"] <= 60
    assert [s.kind for s in again.skipped] == ["rate_limited"]
    assert len(server.requests("/query")) == 1


async def test_a_real_failure_still_opens_the_breaker(server: FakeHttpServer) -> None:
    server.add(FMP_QUOTE, Reply(status=500, body="boom"))
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"))
        second = await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"))

    assert [s.kind for s in second.skipped] == ["breaker_open"]
    assert len(server.requests(FMP_QUOTE)) == 1
    assert second.provider == "sim"


async def test_an_unknown_symbol_passes_to_the_next_provider(server: FakeHttpServer) -> None:
    server.add(FMP_QUOTE, Reply(body=[]))
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        quote = await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"))
        nobody = await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"), providers=["fmp"])

    assert quote.provider == "sim"  # FMP knew nothing: sim had data
    assert quote.skipped == ()  # an empty answer is an answer, not a failure
    assert (nobody.answered, nobody.provider, nobody.value) == (True, "fmp", None)


async def test_crypto_quotes_come_from_coingecko_and_stocks_never_ask_it(
    server: FakeHttpServer,
) -> None:
    server.add(FMP_QUOTE, Reply(body=[]))  # FMP's free plan knows no BTC-USD
    server.add("/simple/price", recorded("coingecko/simple_price_market-data_bitcoin.json"))
    async with runtime_for(chain_settings(server, "fmp,coingecko,sim")) as runtime:
        coin = await runtime.fetch(QUOTE, SymbolQuery(symbol="BTC-USD"))
        stock = await runtime.fetch(QUOTE, SymbolQuery(symbol="ZZZQ"))

    assert coin.provider == "coingecko"
    assert coin.value is not None
    assert (coin.value.currency, coin.value.source) == ("USD", "coingecko")
    assert stock.provider == "sim"
    assert [(s.provider, s.kind) for s in stock.skipped] == [("coingecko", "unsupported")]
    assert len(server.requests("/simple/price")) == 1  # the stock cost CoinGecko nothing


async def test_a_definite_unknown_can_be_final(server: FakeHttpServer) -> None:
    server.add(FMP_PROFILE, Reply(body=[]))
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        final = await runtime.fetch(LOOKUP, SymbolQuery(symbol="ZZZQ"), stop_at_unknown=True)
        passed_on = await runtime.fetch(LOOKUP, SymbolQuery(symbol="ZZZQ"))

    assert (final.answered, final.provider, final.value) == (True, "fmp", None)
    assert passed_on.provider == "sim"


async def test_nobody_serving_a_dataset_is_an_empty_outcome(server: FakeHttpServer) -> None:
    async with runtime_for(chain_settings(server, "alphavantage")) as runtime:
        outcome = await runtime.fetch(FINANCIAL_STATEMENTS, StatementsQuery(symbol="AAPL"))

    assert (outcome.answered, outcome.provider, outcome.skipped) == (False, None, ())
    assert server.requests() == []


async def test_bad_input_is_a_clear_error(server: FakeHttpServer) -> None:
    async with runtime_for(chain_settings(server, "sim")) as runtime:
        with pytest.raises(ValueError, match="unknown dataset 'quotes'"):
            await runtime.fetch("quotes", "AAPL")
        with pytest.raises(TypeError, match="financial-statements takes a StatementsQuery"):
            await runtime.fetch(Dataset.FINANCIAL_STATEMENTS, SymbolQuery(symbol="AAPL"))
        with pytest.raises(ValueError, match="not in this chain"):
            await runtime.fetch(QUOTE, SymbolQuery(symbol="AAPL"), providers=["bloomberg"])
        with pytest.raises(ValueError, match="not asked by symbol alone"):
            await runtime.fetch_many(FINANCIAL_STATEMENTS, ["AAPL"])


# --- batches --------------------------------------------------------------------------------


async def test_many_symbols_cost_one_call_per_batch(server: FakeHttpServer) -> None:
    server.add(FMP_QUOTE, fmp_quotes("AAPL", "MSFT"))
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        found = await runtime.fetch_many(QUOTE, ["AAPL", "MSFT", "NVDA", "AAPL"])

    (request,) = server.requests(FMP_QUOTE)
    assert request.query["symbols"] == "AAPL,MSFT,NVDA"
    assert found.calls == 2  # FMP once for three symbols, then sim for the one it lacked
    assert found.providers == {"AAPL": "fmp", "MSFT": "fmp", "NVDA": "sim"}
    assert {s: v.source for s, v in found.values.items() if v is not None} == found.providers
    assert found.unanswered == []


async def test_a_batch_is_split_at_the_providers_limit(server: FakeHttpServer) -> None:
    symbols = [f"S{n:03d}" for n in range(250)]
    server.add(FMP_QUOTE, fmp_quotes(*symbols))
    async with runtime_for(chain_settings(server, "fmp")) as runtime:
        found = await runtime.fetch_many(QUOTE, symbols)

    sizes = sorted(len(r.query["symbols"].split(",")) for r in server.requests(FMP_QUOTE))
    assert sizes == [50, 100, 100]
    assert found.calls == 3
    assert len(found.values) == 250


async def test_a_refused_batch_falls_back_and_an_unanswerable_one_is_reported(
    server: FakeHttpServer,
) -> None:
    server.add(FMP_QUOTE, recorded("fmp/error_429_limit-reach.json"))
    async with runtime_for(chain_settings(server, "fmp")) as runtime:
        alone = await runtime.fetch_many(QUOTE, ["AAPL", "MSFT"])
    async with runtime_for(chain_settings(server, "fmp,sim")) as runtime:
        with_sim = await runtime.fetch_many(QUOTE, ["AAPL", "MSFT"])

    assert alone.unanswered == ["AAPL", "MSFT"]
    assert [(s.provider, s.kind) for s in alone.skipped] == [("fmp", "quota_exceeded")]
    assert with_sim.unanswered == []
    assert set(with_sim.providers.values()) == {"sim"}


async def test_providers_that_cannot_batch_are_asked_per_symbol(server: FakeHttpServer) -> None:
    server.add("/query", recorded("alphavantage/global_quote_MSFT.json"))
    async with runtime_for(chain_settings(server, "alphavantage")) as runtime:
        found = await runtime.fetch_many(QUOTE, ["MSFT", "IBM"])

    assert found.calls == 2
    assert len(server.requests("/query")) == 2


# --- the quota gate is an interface -----------------------------------------------------------


class LedgerStandIn:
    """A quota gate as the persisted ledger will be: it decides, the chain obeys."""

    def __init__(self, allowance: dict[str, int]) -> None:
        self.allowance = allowance
        self.taken: list[tuple[str, int]] = []
        self.spent: list[tuple[str, float]] = []

    async def try_take(self, provider: str, calls: int) -> float:
        if self.allowance.get(provider, 0) < calls:
            return 30.0
        self.allowance[provider] -= calls
        self.taken.append((provider, calls))
        return 0.0

    async def mark_spent(self, provider: str, seconds: float) -> None:
        self.spent.append((provider, seconds))

    async def state(self, provider: str) -> dict[str, Any] | None:
        return {"left": self.allowance.get(provider, 0)}

    async def aclose(self) -> None:
        return None


async def test_the_chain_obeys_any_quota_gate(server: FakeHttpServer) -> None:
    server.add(FMP_PROFILE, recorded("fmp/profile_stable_AAPL.json"))
    gate = LedgerStandIn({"fmp": 1, "sim": 100})
    async with runtime_for(chain_settings(server, "fmp,sim"), gate=gate) as runtime:
        first = await runtime.fetch(PROFILE, SymbolQuery(symbol="AAPL"))
        second = await runtime.fetch(PROFILE, SymbolQuery(symbol="AAPL"))
        health = {h.name: h.rate_limiter for h in await runtime.health()}

    assert (first.provider, second.provider) == ("fmp", "sim")
    assert [(s.kind, s.retry_after) for s in second.skipped] == [("rate_limited", 30.0)]
    assert gate.taken == [("fmp", 1), ("sim", 1)]
    assert health == {"fmp": {"left": 0}, "sim": {"left": 99}}


async def test_a_batch_is_one_debit_of_the_quota(server: FakeHttpServer) -> None:
    server.add(FMP_QUOTE, fmp_quotes("AAPL", "MSFT", "NVDA"))
    gate = LedgerStandIn({"fmp": 1})
    async with runtime_for(chain_settings(server, "fmp"), gate=gate) as runtime:
        found = await runtime.fetch_many(QUOTE, ["AAPL", "MSFT", "NVDA"])

    assert gate.taken == [("fmp", 1)]  # three symbols, one call, one unit of quota
    assert found.calls == 1
    assert set(found.providers) == {"AAPL", "MSFT", "NVDA"}


class YahooQuotesOnly:
    """Yahoo's network step answering the recorded two-symbol v7 quote (the adapter is real)."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def quote(self, symbols: list[str], *, timeout: float) -> Any:
        self.asked.append(list(symbols))
        return recorded_body("yahoo/quote_AAPL-BABA_multi.json")

    def search(self, query: str, *, timeout: float) -> Any:
        raise AssertionError("not asked in this test")

    def quote_summary(self, symbol: str, modules: Any, *, timeout: float) -> Any:
        raise AssertionError("not asked in this test")

    def chart(self, symbol: str, *, start: int, end: int, timeout: float) -> Any:
        raise AssertionError("not asked in this test")


async def test_yahoo_quotes_many_symbols_for_one_debit(server: FakeHttpServer) -> None:
    client = YahooQuotesOnly()
    gate = LedgerStandIn({"yahoo": 1})
    yahoo = YahooProvider(client=client, timeout=0.5)
    settings = chain_settings(server, "yahoo")
    async with runtime_for(settings, providers=[yahoo], gate=gate) as runtime:
        found = await runtime.fetch_many(QUOTE, ["AAPL", "BABA"])

    assert client.asked == [["AAPL", "BABA"]]
    assert gate.taken == [("yahoo", 1)]
    assert found.providers == {"AAPL": "yahoo", "BABA": "yahoo"}


async def test_a_lookup_costs_what_its_fetcher_declares(server: FakeHttpServer) -> None:
    server.add("/query", recorded("alphavantage/symbol_search_BA.json"))
    gate = LedgerStandIn({"alphavantage": 10})
    async with runtime_for(chain_settings(server, "alphavantage"), gate=gate) as runtime:
        await runtime.fetch(LOOKUP, SymbolQuery(symbol="BA"))

    assert gate.taken == [("alphavantage", 2)]  # SYMBOL_SEARCH, then GLOBAL_QUOTE if no match


async def test_token_bucket_gate_takes_spends_and_reports() -> None:
    now = [1000.0]
    buckets = TokenBucketLimiter(None, clock=lambda: now[0])
    gate = TokenBucketGate(
        {"fmp": RateLimit(rate_per_second=1.0, capacity=2.0), "sim": None},
        buckets,
        clock=lambda: now[0],
    )
    try:
        assert await gate.try_take("fmp", 2) == 0
        assert await gate.try_take("fmp", 1) == pytest.approx(1.0)  # empty: a second to wait
        assert await gate.try_take("sim", 5) == 0  # unlimited
        await gate.mark_spent("sim", 10)
        assert await gate.try_take("sim", 1) == pytest.approx(10)
        now[0] += 10.5
        assert await gate.try_take("sim", 1) == 0  # the mark has run out
        state = await gate.state("fmp")
        assert state is not None
        assert (state["requests_per_minute"], state["spent_for_seconds"]) == (60.0, None)
        assert await gate.state("sim") is None
        with pytest.raises(ValueError, match="at least 1"):
            await gate.try_take("fmp", 0)
    finally:
        await gate.aclose()
