"""Financial Modeling Prep, stable API (https://site.financialmodelingprep.com/developer/docs/stable).

Answers are JSON arrays, empty for an unknown symbol. Plan limits come as status codes: 401 bad
key, 402 plan-gated (plain text), 403 "Legacy Endpoint" (a v3 path on a newer plan), 429
"Limit Reach" (no ``Retry-After``: the daily allowance is spent). Field names differ between the
stable and the v3 API (``changePercentage``/``changesPercentage``, ``marketCap``/``mktCap``), so
both spellings are read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from quantdesk.market.providers._http import HttpApi, retry_after_seconds
from quantdesk.market.providers._values import from_epoch, to_decimal, to_text, utcnow
from quantdesk.market.providers.base import (
    Capability,
    Fetcher,
    Profile,
    Provider,
    ProviderAuthError,
    ProviderQuotaExceeded,
    ProviderThrottled,
    ProviderUnavailable,
    Quote,
    SymbolInfo,
    SymbolQuery,
)

NAME = "fmp"


def _first(entry: dict[str, Any], *keys: str) -> Any:
    """The first present, non-null value among the spellings of one field."""
    for key in keys:
        if entry.get(key) is not None:
            return entry[key]
    return None


def _asset_class(entry: dict[str, Any]) -> str:
    if entry.get("isEtf") is True:
        return "etf"
    if entry.get("isFund") is True:
        return "fund"
    return "equity"


def _dividend_yield(entry: dict[str, Any]) -> Decimal | None:
    """``lastDividend`` is the annualised dividend per share: over the price, a fraction."""
    dividend = to_decimal(_first(entry, "lastDividend", "lastDiv"))
    price = to_decimal(entry.get("price"))
    if dividend is None or price is None or price <= 0 or dividend < 0:
        return None
    return (dividend / price).quantize(Decimal("0.000001"))


class FmpApi(HttpApi):
    async def call(self, path: str, **params: str) -> list[dict[str, Any]]:
        key = self.require_key()
        response = await self.get(path, {**params, "apikey": key})
        if response.status_code != 200:
            raise self._status_error(response)
        body = self.json(response)
        if isinstance(body, dict) and "Error Message" in body:
            # Older accounts got HTTP 200 with the error in the body.
            raise self._message_error(str(body["Error Message"]), retry_after=None)
        if not isinstance(body, list):
            raise ProviderUnavailable(NAME, f"unexpected answer from {path} (not a list)")
        return [entry for entry in body if isinstance(entry, dict)]

    def _message(self, response: httpx.Response) -> str:
        """The error text of a failed answer: ``Error Message`` when JSON, else the plain body."""
        try:
            body = response.json()
        except ValueError:
            return self.quote(response.text)
        if isinstance(body, dict) and "Error Message" in body:
            return self.quote(str(body["Error Message"]))
        return self.quote(response.text)

    def _status_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        if status >= 500:
            return self.server_error(response)
        message = f"HTTP {status}: {self._message(response)}"
        if status in (401, 403):
            return ProviderAuthError(NAME, message)
        if status == 402:
            return ProviderQuotaExceeded(NAME, message)
        if status == 429:
            retry_after = retry_after_seconds(response.headers)
            if retry_after is not None:
                return ProviderThrottled(NAME, message, retry_after=retry_after)
            return ProviderQuotaExceeded(NAME, message)
        return ProviderUnavailable(NAME, message)

    def _message_error(self, text: str, *, retry_after: float | None) -> Exception:
        quoted = self.quote(text)
        lower = quoted.lower()
        if "api key" in lower or "apikey" in lower:
            return ProviderAuthError(NAME, quoted)
        if "limit reach" in lower:
            return ProviderQuotaExceeded(NAME, quoted, retry_after=retry_after)
        return ProviderUnavailable(NAME, quoted)


class _FmpFetcher:
    path: str

    def __init__(self, api: FmpApi) -> None:
        self.api = api

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return await self.api.call(self.path, symbol=params["symbol"])

    @staticmethod
    def entry_for(query: SymbolQuery, raw: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The entry for the asked symbol (a list may hold several); None when it is empty."""
        wanted = query.symbol.upper()
        for entry in raw:
            if str(entry.get("symbol", "")).upper() == wanted:
                return entry
        return raw[0] if raw else None


class FmpLookupFetcher(_FmpFetcher, Fetcher[SymbolQuery, SymbolInfo]):
    """The profile endpoint answers for every listed symbol and is empty for unknown ones."""

    path = "/stable/profile"

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None
        return SymbolInfo(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            name=to_text(_first(entry, "companyName", "name")),
            exchange=to_text(_first(entry, "exchange", "exchangeShortName")),
            asset_class=_asset_class(entry),
            currency=to_text(entry.get("currency")),
            country=to_text(entry.get("country")),
            source=NAME,
        )


class FmpQuoteFetcher(_FmpFetcher, Fetcher[SymbolQuery, Quote]):
    path = "/stable/quote"

    def transform(self, query: SymbolQuery, raw: Any) -> Quote | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None
        price = to_decimal(entry.get("price"))
        if price is None:
            raise ProviderUnavailable(NAME, "quote has no price")
        return Quote(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            price=price,
            change=to_decimal(_first(entry, "change", "changes")),
            change_percent=to_decimal(_first(entry, "changePercentage", "changesPercentage")),
            volume=to_decimal(entry.get("volume")),
            market_cap=to_decimal(_first(entry, "marketCap", "mktCap")),
            currency=to_text(entry.get("currency")),
            as_of=from_epoch(entry.get("timestamp")) or utcnow(),
            source=NAME,
        )


class FmpProfileFetcher(_FmpFetcher, Fetcher[SymbolQuery, Profile]):
    path = "/stable/profile"

    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None
        return Profile(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            name=to_text(_first(entry, "companyName", "name")),
            exchange=to_text(_first(entry, "exchange", "exchangeShortName")),
            asset_class=_asset_class(entry),
            sector=to_text(entry.get("sector")),
            industry=to_text(entry.get("industry")),
            country=to_text(entry.get("country")),
            currency=to_text(entry.get("currency")),
            market_cap=to_decimal(_first(entry, "marketCap", "mktCap")),
            dividend_yield=_dividend_yield(entry),
            description=to_text(entry.get("description")),
            website=to_text(entry.get("website")),
            source=NAME,
        )


class FmpProvider(Provider):
    name = NAME

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = "https://financialmodelingprep.com",
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api = FmpApi(NAME, base_url=base_url, timeout=timeout, api_key=api_key, http=http)
        super().__init__(
            {
                Capability.LOOKUP: FmpLookupFetcher(self.api),
                Capability.QUOTE: FmpQuoteFetcher(self.api),
                Capability.PROFILE: FmpProfileFetcher(self.api),
            }
        )

    async def aclose(self) -> None:
        await self.api.aclose()
