"""Yahoo Finance through ``yfinance``, run off the event loop: quotes (many symbols per call, v7),
profiles (quoteSummary), dividend history (v8 chart events) and symbol lookup (search).

The work is split in two: a *client* fetches Yahoo's raw JSON (the real one, ``YFinanceClient``,
goes through yfinance's session, which handles cookies, the crumb and browser TLS impersonation),
and ``yahoo_transform`` maps those raw shapes to our models. The client is a constructor
argument, so the error mapping can be tested with a stand-in that raises yfinance's own errors.

Failure mapping: ``YFRateLimitError``, HTTP 429 and 401/403 (Yahoo blocks by refusing the crumb)
are ``ProviderThrottled``; 404 ("Quote not found") is an unknown symbol; timeouts, connection
errors, 5xx, unreadable answers and any other library error are ``ProviderUnavailable``.
yfinance is imported on first use only: it pulls pandas, which is slow to import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import quote as url_quote

from quantdesk.market.providers import yahoo_transform as transform
from quantdesk.market.providers.base import (
    BatchFetcher,
    Fetcher,
    Provider,
    ProviderError,
    ProviderThrottled,
    ProviderUnavailable,
)
from quantdesk.market.providers.datasets import (
    Dataset,
    Dividend,
    DividendsQuery,
    Profile,
    Quote,
    SymbolInfo,
    SymbolQuery,
    SymbolsQuery,
)

NAME = transform.NAME
QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
QUOTE_SUMMARY_URL = "https://query2.finance.yahoo.com/v10/finance/quoteSummary"
CHART_URL = "https://query2.finance.yahoo.com/v8/finance/chart"
SEARCH_URL = "https://query2.finance.yahoo.com/v1/finance/search"
PROFILE_MODULES = ("price", "assetProfile", "summaryDetail")
# yfinance may fetch a cookie and a crumb before the call itself, each with the timeout.
_DEADLINE_FACTOR = 3
_MAX_THREADS = 4
# Symbols per v7 quote call: Yahoo's own pages ask for a few dozen at once.
QUOTE_BATCH = 50
# Dividend history without a start goes back this far.
_DIVIDEND_YEARS = 10
# Coins whose ticker Yahoo gives to another asset; mirrors yahoo_symbol in the crypto catalog.
YAHOO_SYMBOLS = {
    "TON-USD": "TON11419-USD",
    "UNI-USD": "UNI7083-USD",
    "APT-USD": "APT21794-USD",
    "ARB-USD": "ARB11841-USD",
    "SUI-USD": "SUI20947-USD",
}

T = TypeVar("T")


class YahooClient(Protocol):
    """Raw Yahoo JSON. Methods are blocking; the adapter runs them in threads."""

    def search(self, query: str, *, timeout: float) -> Any: ...

    def quote(self, symbols: Sequence[str], *, timeout: float) -> Any: ...

    def quote_summary(self, symbol: str, modules: Sequence[str], *, timeout: float) -> Any: ...

    def chart(self, symbol: str, *, start: int, end: int, timeout: float) -> Any: ...


class YFinanceClient:
    """The real client: Yahoo's endpoints through yfinance's shared session."""

    @staticmethod
    def _get_json(url: str, params: dict[str, Any], timeout: float) -> Any:
        from yfinance.data import YfData  # pandas-heavy: loaded on the first call only

        return YfData().get_raw_json(url, params=params, timeout=timeout)

    def search(self, query: str, *, timeout: float) -> Any:
        params = {
            "q": query,
            "quotesCount": 10,
            "newsCount": 0,
            "listsCount": 0,
            "enableFuzzyQuery": "false",
            "quotesQueryId": "tss_match_phrase_query",
        }
        return self._get_json(SEARCH_URL, params, timeout)

    def quote(self, symbols: Sequence[str], *, timeout: float) -> Any:
        params = {
            "symbols": ",".join(symbols),
            "formatted": "false",
            "lang": "en-US",
            "region": "US",
        }
        return self._get_json(QUOTE_URL, params, timeout)

    def chart(self, symbol: str, *, start: int, end: int, timeout: float) -> Any:
        params = {
            "period1": start,
            "period2": end,
            "interval": "1d",
            "events": "div",
            "includePrePost": "false",
        }
        return self._get_json(f"{CHART_URL}/{url_quote(symbol, safe='')}", params, timeout)

    def quote_summary(self, symbol: str, modules: Sequence[str], *, timeout: float) -> Any:
        params = {
            "modules": ",".join(modules),
            "formatted": "false",
            "corsDomain": "finance.yahoo.com",
            "lang": "en-US",
            "region": "US",
        }
        return self._get_json(f"{QUOTE_SUMMARY_URL}/{url_quote(symbol, safe='')}", params, timeout)


class SymbolNotFound(Exception):
    """Yahoo answered 404 for the symbol."""


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def map_error(exc: Exception) -> Exception:
    """The ``ProviderError`` (or ``SymbolNotFound``) for an exception raised by the client."""
    if isinstance(exc, ProviderError | SymbolNotFound):
        return exc
    names = _class_names(exc)
    if "YFRateLimitError" in names:
        return ProviderThrottled(NAME, "rate limited (Too Many Requests)")
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        if status == 404:
            return SymbolNotFound()
        if status == 429:
            return ProviderThrottled(NAME, "HTTP 429 (rate limited)")
        if status in (401, 403):
            return ProviderThrottled(NAME, f"HTTP {status} (blocked: cookie or crumb refused)")
        return ProviderUnavailable(NAME, f"HTTP {status}")
    if "YFTickerMissingError" in names:
        return SymbolNotFound()
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        return ProviderUnavailable(NAME, "timed out")
    if isinstance(exc, OSError):
        return ProviderUnavailable(NAME, f"connection failed ({type(exc).__name__})")
    if isinstance(exc, ValueError):
        return ProviderUnavailable(NAME, f"unreadable answer ({type(exc).__name__})")
    return ProviderUnavailable(NAME, f"yfinance failed ({type(exc).__name__})")


class YahooSession:
    """Runs client calls in a small thread pool under a deadline, mapping their failures."""

    def __init__(self, client: YahooClient, *, timeout: float) -> None:
        self.client = client
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=_MAX_THREADS, thread_name_prefix="yahoo")

    async def run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._executor, call), timeout=self.timeout * _DEADLINE_FACTOR
            )
        except TimeoutError as exc:
            # The thread finishes on its own; the caller is not kept waiting for it.
            raise ProviderUnavailable(NAME, "timed out") from exc
        except Exception as exc:
            raise map_error(exc) from exc

    async def search(self, query: str) -> Any:
        return await self.run(lambda: self.client.search(query, timeout=self.timeout))

    async def quote(self, symbols: Sequence[str]) -> Any:
        return await self.run(lambda: self.client.quote(list(symbols), timeout=self.timeout))

    async def chart(self, symbol: str, *, start: int, end: int) -> Any:
        return await self.run(
            lambda: self.client.chart(symbol, start=start, end=end, timeout=self.timeout)
        )

    async def quote_summary(self, symbol: str, modules: Sequence[str]) -> Any:
        return await self.run(
            lambda: self.client.quote_summary(symbol, modules, timeout=self.timeout)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def yahoo_symbol(symbol: str) -> str:
    upper = symbol.strip().upper()
    return YAHOO_SYMBOLS.get(upper, upper)


class _YahooFetcher:
    def __init__(self, session: YahooSession) -> None:
        self.session = session

    def transform_query(self, query: Any) -> dict[str, Any]:
        return {"symbol": yahoo_symbol(query.symbol)}


class YahooLookupFetcher(_YahooFetcher, Fetcher[SymbolQuery, SymbolInfo | None]):
    """Search for the exact symbol; without an exact hit, the quote endpoint decides."""

    cost: ClassVar[int] = 2  # a search, and a quote when the search has no exact hit

    async def extract(self, params: dict[str, Any]) -> Any:
        symbol = params["symbol"]
        try:
            found = transform.symbol_info_from_search(symbol, await self.session.search(symbol))
        except SymbolNotFound:
            found = None
        if found is not None:
            return {"info": found}
        try:
            return {"quote": await self.session.quote([symbol])}
        except SymbolNotFound:
            return {"quote": None}

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        if "info" in raw:
            info: SymbolInfo = raw["info"]
            return info
        if raw["quote"] is None:
            return None
        return transform.symbol_info_from_v7(yahoo_symbol(query.symbol), raw["quote"])


class YahooQuoteFetcher(BatchFetcher[Quote | None]):
    """``/v7/finance/quote?symbols=A,B,...``: up to ``QUOTE_BATCH`` symbols in one call."""

    max_symbols: ClassVar[int] = QUOTE_BATCH

    def __init__(self, session: YahooSession) -> None:
        self.session = session

    def transform_batch_query(self, query: SymbolsQuery) -> dict[str, Any]:
        return {"symbols": {asked: yahoo_symbol(asked) for asked in query.symbols}}

    async def extract(self, params: dict[str, Any]) -> Any:
        asked: dict[str, str] = params["symbols"]
        try:
            return {"asked": asked, "body": await self.session.quote(list(asked.values()))}
        except SymbolNotFound:
            return {"asked": asked, "body": None}

    def transform_batch(self, query: SymbolsQuery, raw: Any) -> dict[str, Quote | None]:
        if raw["body"] is None:
            return {}
        found = transform.quotes_from_v7(raw["body"])
        asked: dict[str, str] = raw["asked"]
        return {
            symbol: found[spelling.upper()]
            for symbol, spelling in asked.items()
            if spelling.upper() in found
        }


class YahooProfileFetcher(_YahooFetcher, Fetcher[SymbolQuery, Profile | None]):
    async def extract(self, params: dict[str, Any]) -> Any:
        try:
            return await self.session.quote_summary(params["symbol"], PROFILE_MODULES)
        except SymbolNotFound:
            return None

    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        if raw is None:
            return None
        return transform.profile_from_summary(yahoo_symbol(query.symbol), raw)


def _epoch(day: date, *, end_of_day: bool = False) -> int:
    return int(datetime.combine(day, time.max if end_of_day else time.min, UTC).timestamp())


class YahooDividendsFetcher(_YahooFetcher, Fetcher[DividendsQuery, list[Dividend]]):
    """The v8 chart's dividend events over the query's range (daily bars, ``events=div``)."""

    def transform_query(self, query: DividendsQuery) -> dict[str, Any]:
        today = datetime.now(UTC).date()
        end = query.end or today
        start = query.start or end - timedelta(days=365 * _DIVIDEND_YEARS)
        return {
            "symbol": yahoo_symbol(query.symbol),
            "start": _epoch(start),
            "end": _epoch(end, end_of_day=True),
        }

    async def extract(self, params: dict[str, Any]) -> Any:
        try:
            return await self.session.chart(
                params["symbol"], start=params["start"], end=params["end"]
            )
        except SymbolNotFound:
            return None

    def transform(self, query: DividendsQuery, raw: Any) -> list[Dividend]:
        if raw is None:
            return []
        found = transform.dividends_from_chart(query.symbol.upper(), raw)
        return [d for d in found if query.covers(d.ex_date)]


class YahooProvider(Provider):
    name = NAME

    def __init__(self, *, timeout: float = 10.0, client: YahooClient | None = None) -> None:
        self.session = YahooSession(client or YFinanceClient(), timeout=timeout)
        super().__init__(
            {
                Dataset.LOOKUP: YahooLookupFetcher(self.session),
                Dataset.QUOTE: YahooQuoteFetcher(self.session),
                Dataset.PROFILE: YahooProfileFetcher(self.session),
                Dataset.DIVIDEND_HISTORY: YahooDividendsFetcher(self.session),
            }
        )

    async def aclose(self) -> None:
        self.session.close()
