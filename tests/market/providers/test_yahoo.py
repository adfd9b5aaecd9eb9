"""Yahoo Finance: the transforms on recorded answers, the adapter with a stand-in client.

The stand-in replaces only the network step (yfinance's client) and raises yfinance's and
curl_cffi's real exception classes, so the adapter's error mapping is what is tested.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from curl_cffi.requests import exceptions as curl_errors
from yfinance.exceptions import YFRateLimitError

import quantdesk.assets
from quantdesk.market.providers import yahoo_transform as transform
from quantdesk.market.providers.base import (
    Profile,
    ProviderThrottled,
    ProviderUnavailable,
    Quote,
    SymbolInfo,
)
from quantdesk.market.providers.datasets import Dataset, Dividend, DividendsQuery, SymbolsQuery
from quantdesk.market.providers.yahoo import (
    YAHOO_SYMBOLS,
    YahooProvider,
    YahooQuoteFetcher,
    YFinanceClient,
)
from tests.market.providers.recordings import recorded_body

QUOTE_AAPL = recorded_body("yahoo/quote_AAPL.json")
QUOTE_UNKNOWN = recorded_body("yahoo/quote_APS.AX_unknown-symbol.json")
QUOTE_AAPL_BABA = recorded_body("yahoo/quote_AAPL-BABA_multi.json")
CHART_WITH_EVENTS = recorded_body("yahoo/chart_AAPL_with-events.json")
CHART_NO_DATA = recorded_body("yahoo/chart_AAPL_no-data-weekend.json")
SUMMARY_PRICE_AAPL = recorded_body("yahoo/quoteSummary_price_AAPL.json")
SEARCH_AAPL = recorded_body("yahoo/search_AAPL.json")
NOT_FOUND = {
    "quoteSummary": {
        "result": None,
        "error": {"code": "Not Found", "description": "Quote not found for symbol: ZZZZQ"},
    }
}


# --- transforms on the recorded answers ---------------------------------------------------


def test_v7_quote() -> None:
    quote = transform.quote_from_v7("AAPL", QUOTE_AAPL)

    assert quote == Quote(
        symbol="AAPL",
        price=Decimal("244.6"),
        change=Decimal("3.0700073"),
        change_percent=Decimal("1.2710667"),  # v7 is already in percent
        volume=Decimal("40896227"),
        market_cap=Decimal("3674405863424"),
        currency="USD",
        as_of=datetime.fromtimestamp(1739566800, tz=UTC),
        source="yahoo",
    )


def test_v7_unknown_symbol_is_none() -> None:
    assert transform.quote_from_v7("APS.AX", QUOTE_UNKNOWN) is None
    assert transform.symbol_info_from_v7("APS.AX", QUOTE_UNKNOWN) is None


def test_summary_price_module_percent_is_normalised() -> None:
    quote = transform.quote_from_summary("AAPL", SUMMARY_PRICE_AAPL)

    assert quote is not None
    assert quote.price == Decimal("245.55")
    # quoteSummary gives -0.0011389935 (a fraction): -0.11389935 %.
    assert quote.change_percent == Decimal("-0.11389935")
    assert quote.as_of == datetime.fromtimestamp(1740171602, tz=UTC)


def test_flat_info_dict_in_percent_units() -> None:
    # Ticker.info is flat and takes regularMarketChangePercent from the v7 endpoint (percent).
    info = dict(QUOTE_AAPL["quoteResponse"]["result"][0])

    quote = transform.quote_from_flat("AAPL", info, percent_unit="percent")

    assert quote.change_percent == Decimal("1.2710667")


def test_formatted_numbers_are_unwrapped() -> None:
    price = dict(SUMMARY_PRICE_AAPL["quoteSummary"]["result"][0]["price"])
    price["regularMarketPrice"] = {"raw": 245.55, "fmt": "245.55"}

    quote = transform.quote_from_flat("AAPL", price, percent_unit="fraction")

    assert quote.price == Decimal("245.55")


def test_v7_symbol_info() -> None:
    info = transform.symbol_info_from_v7("AAPL", QUOTE_AAPL)

    assert info == SymbolInfo(
        symbol="AAPL",
        name="Apple Inc.",
        exchange="NasdaqGS",
        asset_class="equity",
        currency="USD",
        source="yahoo",
    )


def test_search_takes_the_exact_hit_and_skips_entries_without_symbol() -> None:
    apple = transform.symbol_info_from_search("aapl", SEARCH_AAPL)
    etf = transform.symbol_info_from_search("AAPU", SEARCH_AAPL)

    assert apple == SymbolInfo(
        symbol="AAPL", name="Apple Inc.", exchange="NASDAQ", asset_class="equity", source="yahoo"
    )
    assert etf is not None
    assert etf.asset_class == "etf"
    # "AAPlasma" is a search entry with no symbol at all: it never matches.
    assert transform.symbol_info_from_search("AAPLASMA", SEARCH_AAPL) is None


def test_profile_from_summary() -> None:
    profile = transform.profile_from_summary("AAPL", SUMMARY_PRICE_AAPL)

    assert isinstance(profile, Profile)
    assert (profile.name, profile.exchange, profile.asset_class) == (
        "Apple Inc.",
        "NasdaqGS",
        "equity",
    )
    assert profile.market_cap == Decimal("3688676720640")
    assert profile.sector is None  # assetProfile not in this recording


def test_profile_reads_valuation_from_summary_detail() -> None:
    detail = recorded_body("yahoo/quoteSummary_summaryDetail_AAPL.json")

    profile = transform.profile_from_summary("AAPL", detail)

    assert profile is not None
    assert profile.pe_ratio == Decimal("38.91442")
    assert profile.dividend_yield == Decimal("0.0041")  # a fraction in quoteSummary
    assert profile.market_cap == Decimal("3688676720640")
    assert profile.currency == "USD"


def test_summary_not_found_is_none() -> None:
    assert transform.profile_from_summary("ZZZZQ", NOT_FOUND) is None
    assert transform.quote_from_summary("ZZZZQ", NOT_FOUND) is None


def test_unexpected_shapes_are_unavailable() -> None:
    with pytest.raises(ProviderUnavailable):
        transform.quote_from_v7("AAPL", {"finance": {"error": "bad"}})
    with pytest.raises(ProviderUnavailable):
        transform.symbol_info_from_search("AAPL", ["not", "a", "dict"])


# --- the adapter, with a stand-in for the network step ------------------------------------


class StandInClient:
    """Answers each method with a scripted value, or raises a scripted exception."""

    def __init__(self, **steps: Any) -> None:
        self.steps = steps
        self.calls: list[tuple[str, str]] = []
        self.threads: set[str] = set()

    def _answer(self, method: str, argument: str) -> Any:
        self.calls.append((method, argument))
        self.threads.add(threading.current_thread().name)
        step = self.steps[method]
        if isinstance(step, BaseException):
            raise step
        return step() if callable(step) else step

    def search(self, query: str, *, timeout: float) -> Any:
        return self._answer("search", query)

    def quote(self, symbols: Sequence[str], *, timeout: float) -> Any:
        return self._answer("quote", ",".join(symbols))

    def chart(self, symbol: str, *, start: int, end: int, timeout: float) -> Any:
        self.chart_range = (start, end)
        return self._answer("chart", symbol)

    def quote_summary(self, symbol: str, modules: Sequence[str], *, timeout: float) -> Any:
        assert list(modules) == ["price", "assetProfile", "summaryDetail"]
        return self._answer("quote_summary", symbol)


def http_error(status: int) -> curl_errors.HTTPError:
    response = type("Response", (), {"status_code": status})()
    return curl_errors.HTTPError(f"HTTP Error {status}", 0, response)


async def fetch(client: StandInClient, dataset: Dataset, query: Any) -> Any:
    provider = YahooProvider(client=client, timeout=0.05)
    try:
        return await provider.fetch(dataset, query)
    finally:
        await provider.aclose()


async def test_quote_runs_off_the_event_loop() -> None:
    client = StandInClient(quote=QUOTE_AAPL)

    quote = await fetch(client, Dataset.QUOTE, "AAPL")

    assert isinstance(quote, Quote)
    assert quote.price == Decimal("244.6")
    assert client.calls == [("quote", "AAPL")]
    assert all(name.startswith("yahoo") for name in client.threads)


async def test_lookup_from_an_exact_search_hit() -> None:
    client = StandInClient(search=SEARCH_AAPL, quote=http_error(500))

    info = await fetch(client, Dataset.LOOKUP, "AAPL")

    assert isinstance(info, SymbolInfo)
    assert info.name == "Apple Inc."
    assert client.calls == [("search", "AAPL")]


async def test_lookup_confirms_through_the_quote_when_search_misses() -> None:
    client = StandInClient(search=SEARCH_AAPL, quote=QUOTE_UNKNOWN)

    assert await fetch(client, Dataset.LOOKUP, "APS.AX") is None
    assert client.calls == [("search", "APS.AX"), ("quote", "APS.AX")]


async def test_profile_404_is_unknown() -> None:
    client = StandInClient(quote_summary=http_error(404))

    assert await fetch(client, Dataset.PROFILE, "ZZZZQ") is None


async def test_profile_from_summary_answer() -> None:
    client = StandInClient(quote_summary=SUMMARY_PRICE_AAPL)

    profile = await fetch(client, Dataset.PROFILE, "AAPL")

    assert isinstance(profile, Profile)
    assert profile.name == "Apple Inc."


@pytest.mark.parametrize(
    "error",
    [YFRateLimitError(), http_error(429), http_error(401), http_error(403)],
    ids=["YFRateLimitError", "429", "401-crumb", "403-blocked"],
)
async def test_rate_limits_and_blocks_are_throttled(error: Exception) -> None:
    with pytest.raises(ProviderThrottled):
        await fetch(StandInClient(quote=error), Dataset.QUOTE, "AAPL")


@pytest.mark.parametrize(
    "error",
    [
        http_error(503),
        curl_errors.Timeout("Operation timed out after 10001 milliseconds"),
        curl_errors.ConnectionError("Failed to connect to query1.finance.yahoo.com"),
        json.JSONDecodeError("Expecting value", "<html>", 0),
        KeyError("quoteResponse"),
    ],
    ids=["503", "timeout", "connection", "json", "library-bug"],
)
async def test_failures_are_unavailable(error: Exception) -> None:
    with pytest.raises(ProviderUnavailable):
        await fetch(StandInClient(quote=error), Dataset.QUOTE, "AAPL")


async def test_a_hanging_call_is_cut_at_the_deadline() -> None:
    release = threading.Event()
    client = StandInClient(quote=lambda: release.wait(5) and QUOTE_AAPL)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await fetch(client, Dataset.QUOTE, "AAPL")
    finally:
        release.set()
    assert time.monotonic() - started < 1.0


async def test_clashing_coin_tickers_use_yahoo_spelling() -> None:
    client = StandInClient(quote=QUOTE_UNKNOWN)

    await fetch(client, Dataset.QUOTE, "TON-USD")

    assert client.calls == [("quote", "TON11419-USD")]


def test_yahoo_spellings_mirror_the_crypto_catalog() -> None:
    catalog = Path(quantdesk.assets.__file__).parent / "catalog_data" / "crypto.json"
    assets = json.loads(catalog.read_text())["assets"]

    expected = {a["symbol"]: a["yahoo_symbol"] for a in assets if "yahoo_symbol" in a}

    assert expected == YAHOO_SYMBOLS


def test_real_client_is_the_default() -> None:
    provider = YahooProvider()
    assert isinstance(provider.session.client, YFinanceClient)
    assert provider.datasets == {
        Dataset.LOOKUP,
        Dataset.QUOTE,
        Dataset.PROFILE,
        Dataset.DIVIDEND_HISTORY,
    }
    provider.session.close()


# --- batches and dividends -----------------------------------------------------------------


def test_v7_answers_many_symbols_at_once() -> None:
    quotes = transform.quotes_from_v7(QUOTE_AAPL_BABA)

    assert set(quotes) == {"AAPL", "BABA"}
    assert quotes["AAPL"].price == Decimal("244.6")
    assert quotes["BABA"].source == "yahoo"
    assert quotes["BABA"].price != quotes["AAPL"].price


async def test_a_batch_is_one_call_keyed_by_the_asked_symbols() -> None:
    client = StandInClient(quote=QUOTE_AAPL_BABA)
    provider = YahooProvider(client=client, timeout=0.05)
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, YahooQuoteFetcher)
    try:
        quotes = await fetcher.fetch_many(SymbolsQuery(symbols=("aapl", "BABA", "APS.AX")))
    finally:
        await provider.aclose()

    assert client.calls == [("quote", "AAPL,BABA,APS.AX")]
    aapl, baba = quotes["aapl"], quotes["BABA"]
    assert aapl is not None
    assert baba is not None
    assert aapl.symbol == "AAPL"
    assert baba.symbol == "BABA"
    assert quotes["APS.AX"] is None  # not in Yahoo's answer: unknown to it


async def test_a_batch_uses_yahoo_spellings_and_answers_ours() -> None:
    body = json.loads(json.dumps(QUOTE_AAPL))
    body["quoteResponse"]["result"][0]["symbol"] = "TON11419-USD"
    client = StandInClient(quote=body)
    provider = YahooProvider(client=client, timeout=0.05)
    fetcher = provider.fetchers[Dataset.QUOTE]
    assert isinstance(fetcher, YahooQuoteFetcher)
    try:
        quotes = await fetcher.fetch_many(SymbolsQuery(symbols=("TON-USD",)))
    finally:
        await provider.aclose()

    assert client.calls == [("quote", "TON11419-USD")]
    assert quotes["TON-USD"] is not None


def test_dividends_from_chart_events() -> None:
    dividends = transform.dividends_from_chart("AAPL", CHART_WITH_EVENTS)

    # The 4:1 split in the same answer is not a dividend.
    assert dividends == [
        Dividend(symbol="AAPL", ex_date=date(2020, 11, 6), amount=Decimal("0.205"), source="yahoo")
    ]


def test_a_chart_without_data_has_no_dividends() -> None:
    assert transform.dividends_from_chart("AAPL", CHART_NO_DATA) == []


async def test_dividend_history_asks_the_chart_for_the_range() -> None:
    client = StandInClient(chart=CHART_WITH_EVENTS)
    query = DividendsQuery(symbol="AAPL", start=date(2020, 8, 31), end=date(2020, 11, 7))

    found = await fetch(client, Dataset.DIVIDEND_HISTORY, query)

    assert [d.ex_date for d in found] == [date(2020, 11, 6)]
    assert client.calls == [("chart", "AAPL")]
    start, end = client.chart_range
    assert datetime.fromtimestamp(start, tz=UTC) == datetime(2020, 8, 31, tzinfo=UTC)
    assert datetime.fromtimestamp(end, tz=UTC).date() == date(2020, 11, 7)


async def test_dividends_outside_the_range_are_dropped() -> None:
    client = StandInClient(chart=CHART_WITH_EVENTS)
    query = DividendsQuery(symbol="AAPL", start=date(2020, 11, 7))

    assert await fetch(client, Dataset.DIVIDEND_HISTORY, query) == []


async def test_dividends_of_an_unknown_symbol_are_none_found() -> None:
    client = StandInClient(chart=http_error(404))

    assert await fetch(client, Dataset.DIVIDEND_HISTORY, DividendsQuery(symbol="ZZZZQ")) == []
