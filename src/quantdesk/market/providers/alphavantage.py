"""Alpha Vantage (https://www.alphavantage.co/documentation/) over httpx.

The API answers HTTP 200 to almost everything: throttling and quota messages replace the whole
body (``{"Note": ...}`` / ``{"Information": ...}``), errors come as ``{"Error Message": ...}`` and
an unknown symbol is an empty ``{"Global Quote": {}}`` (or ``{}`` for OVERVIEW). Every value is a
string ("-0.5852%", "None"). Throttle texts can echo the API key, so quoted text is redacted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import httpx

from quantdesk.market.providers._http import HttpApi, redact
from quantdesk.market.providers._values import to_decimal, to_text, utcnow
from quantdesk.market.providers.base import (
    Fetcher,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderThrottled,
    ProviderUnavailable,
)
from quantdesk.market.providers.datasets import Dataset, Profile, Quote, SymbolInfo, SymbolQuery

NAME = "alphavantage"
# The free plan's window is a minute; a per-second burst limit clears almost at once.
_PER_MINUTE_RETRY_SECONDS = 60.0
_PER_SECOND_RETRY_SECONDS = 1.0
_ASSET_TYPES = {
    "equity": "equity",
    "common stock": "equity",
    "etf": "etf",
    "mutual fund": "fund",
}


def _asset_class(value: Any) -> str | None:
    text = to_text(value)
    return _ASSET_TYPES.get(text.lower(), text.lower()) if text else None


def _seconds_to_utc_midnight() -> float:
    now = utcnow()
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=UTC)
    return (tomorrow - now).total_seconds()


class AlphaVantageApi(HttpApi):
    """``GET /query?function=...``, with the 200-status failure bodies turned into errors."""

    def classify_message(self, text: str) -> ProviderError:
        """The error an Alpha Vantage ``Note`` / ``Information`` / ``Error Message`` stands for."""
        quoted = self.quote(text)
        # Redacted first, so a key that happens to read "demo" cannot steer the match.
        lower = redact(text, self.api_key).lower()
        if ("api key" in lower or "apikey" in lower) and ("invalid" in lower or "demo" in lower):
            return ProviderAuthError(NAME, quoted)
        if "per second" in lower or "sparingly" in lower:
            return ProviderThrottled(NAME, quoted, retry_after=_PER_SECOND_RETRY_SECONDS)
        if "per minute" in lower:
            return ProviderThrottled(NAME, quoted, retry_after=_PER_MINUTE_RETRY_SECONDS)
        if "premium endpoint" in lower:
            return ProviderQuotaExceeded(NAME, quoted)
        if "per day" in lower or "daily" in lower:
            # The daily allowance is documented per calendar day; UTC midnight is our best guess.
            return ProviderQuotaExceeded(NAME, quoted, retry_after=_seconds_to_utc_midnight())
        return ProviderThrottled(NAME, quoted, retry_after=_PER_MINUTE_RETRY_SECONDS)

    async def call(self, function: str, **params: str) -> dict[str, Any]:
        key = self.require_key()
        response = await self.get("/query", {"function": function, **params, "apikey": key})
        self._raise_for_status(response)
        body = self.json(response)
        if not isinstance(body, dict):
            raise ProviderUnavailable(NAME, f"unexpected answer to {function} (not an object)")
        for field in ("Note", "Information"):
            if field in body:
                raise self.classify_message(str(body[field]))
        if "Error Message" in body:
            message = str(body["Error Message"])
            # Our requests are well formed, so "Invalid API call" means the symbol is not known.
            if "invalid api call" in message.lower() and "apikey" not in message.lower():
                return {}
            raise self.classify_message(message)
        return body

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        if status == 429:
            raise ProviderThrottled(NAME, "HTTP 429", retry_after=_PER_MINUTE_RETRY_SECONDS)
        if status in (401, 403):
            raise ProviderAuthError(NAME, f"HTTP {status}")
        raise self.server_error(response)


class _AlphaVantageFetcher:
    def __init__(self, api: AlphaVantageApi) -> None:
        self.api = api


def _global_quote(body: dict[str, Any]) -> dict[str, Any] | None:
    quote = body.get("Global Quote")
    return quote if isinstance(quote, dict) and quote else None


def _quote_as_of(quote: dict[str, Any]) -> datetime:
    """Fetch time, but never later than the end of the latest trading day the quote is for."""
    now = utcnow()
    try:
        day = date.fromisoformat(str(quote.get("07. latest trading day")))
    except ValueError:
        return now
    return min(now, datetime.combine(day, time.max, tzinfo=UTC))


class AlphaVantageLookupFetcher(_AlphaVantageFetcher, Fetcher[SymbolQuery, SymbolInfo | None]):
    """SYMBOL_SEARCH for the exact symbol; without an exact match, GLOBAL_QUOTE decides."""

    cost: ClassVar[int] = 2  # a search, and a quote when the search has no exact match

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper()}

    async def extract(self, params: dict[str, Any]) -> Any:
        symbol = params["symbol"]
        search = await self.api.call("SYMBOL_SEARCH", keywords=symbol)
        matches = search.get("bestMatches")
        for match in matches if isinstance(matches, list) else []:
            if isinstance(match, dict) and str(match.get("1. symbol", "")).upper() == symbol:
                return {"match": match}
        return {"quote": _global_quote(await self.api.call("GLOBAL_QUOTE", symbol=symbol))}

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        match = raw.get("match")
        if match is not None:
            return SymbolInfo(
                symbol=str(match["1. symbol"]),
                name=to_text(match.get("2. name")),
                asset_class=_asset_class(match.get("3. type")),
                currency=to_text(match.get("8. currency")),
                country=to_text(match.get("4. region")),
                source=NAME,
            )
        quote = raw.get("quote")
        if quote is None:
            return None
        return SymbolInfo(
            symbol=to_text(quote.get("01. symbol")) or query.symbol.upper(), source=NAME
        )


class AlphaVantageQuoteFetcher(_AlphaVantageFetcher, Fetcher[SymbolQuery, Quote | None]):
    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return await self.api.call("GLOBAL_QUOTE", symbol=params["symbol"])

    def transform(self, query: SymbolQuery, raw: Any) -> Quote | None:
        quote = _global_quote(raw)
        if quote is None:
            return None
        price = to_decimal(quote.get("05. price"))
        if price is None:
            raise ProviderUnavailable(NAME, "GLOBAL_QUOTE answer has no price")
        return Quote(
            symbol=to_text(quote.get("01. symbol")) or query.symbol.upper(),
            price=price,
            change=to_decimal(quote.get("09. change")),
            change_percent=to_decimal(quote.get("10. change percent")),
            volume=to_decimal(quote.get("06. volume")),
            as_of=_quote_as_of(quote),
            source=NAME,
        )


class AlphaVantageProfileFetcher(_AlphaVantageFetcher, Fetcher[SymbolQuery, Profile | None]):
    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return await self.api.call("OVERVIEW", symbol=params["symbol"])

    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        if not raw.get("Symbol"):
            return None
        return Profile(
            symbol=str(raw["Symbol"]),
            name=to_text(raw.get("Name")),
            exchange=to_text(raw.get("Exchange")),
            asset_class=_asset_class(raw.get("AssetType")),
            sector=to_text(raw.get("Sector")),
            industry=to_text(raw.get("Industry")),
            country=to_text(raw.get("Country")),
            currency=to_text(raw.get("Currency")),
            market_cap=to_decimal(raw.get("MarketCapitalization")),
            pe_ratio=to_decimal(raw.get("PERatio")),
            dividend_yield=to_decimal(raw.get("DividendYield")),  # already a fraction
            description=to_text(raw.get("Description")),
            website=to_text(raw.get("OfficialSite")),
            source=NAME,
        )


class AlphaVantageProvider(Provider):
    name = NAME

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = "https://www.alphavantage.co",
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api = AlphaVantageApi(
            NAME, base_url=base_url, timeout=timeout, api_key=api_key, http=http
        )
        super().__init__(
            {
                Dataset.LOOKUP: AlphaVantageLookupFetcher(self.api),
                Dataset.QUOTE: AlphaVantageQuoteFetcher(self.api),
                Dataset.PROFILE: AlphaVantageProfileFetcher(self.api),
            }
        )

    async def aclose(self) -> None:
        await self.api.aclose()
