"""What every FMP fetcher shares: the API client (status codes and error bodies mapped onto the
``ProviderError`` family), the readers of FMP's loose values, and the fetcher base.

Plan limits come as status codes: 401 bad key, 402 plan-gated (plain text), 403 "Legacy Endpoint"
(a v3 path on a newer plan), 429 "Limit Reach" (no ``Retry-After``: the daily allowance is spent).
Field names differ between the stable and the v3 API (``changePercentage``/``changesPercentage``,
``marketCap``/``mktCap``), so both spellings are read (``first``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from quantdesk.market.providers._http import HttpApi, retry_after_seconds
from quantdesk.market.providers._values import to_decimal, to_text
from quantdesk.market.providers.base import (
    ProviderAuthError,
    ProviderQuotaExceeded,
    ProviderThrottled,
    ProviderUnavailable,
)
from quantdesk.market.providers.datasets import SymbolQuery

NAME = "fmp"


def first(entry: dict[str, Any], *keys: str) -> Any:
    """The first present, non-null value among the spellings of one field."""
    for key in keys:
        if entry.get(key) is not None:
            return entry[key]
    return None


def asset_class(entry: dict[str, Any]) -> str:
    if entry.get("isEtf") is True:
        return "etf"
    if entry.get("isFund") is True:
        return "fund"
    return "equity"


def dividend_yield(entry: dict[str, Any]) -> Decimal | None:
    """``lastDividend`` is the annualised dividend per share: over the price, a fraction."""
    dividend = to_decimal(first(entry, "lastDividend", "lastDiv"))
    price = to_decimal(entry.get("price"))
    if dividend is None or price is None or price <= 0 or dividend < 0:
        return None
    return (dividend / price).quantize(Decimal("0.000001"))


class FmpApi(HttpApi):
    async def call(self, path: str, **params: Any) -> list[dict[str, Any]]:
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


def parse_date(value: Any) -> date | None:
    """``2024-09-28`` or ``2025-09-21 22:26:51`` as a date; None when missing or unreadable."""
    text = to_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    text = to_text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_int(value: Any) -> int | None:
    number = to_decimal(value)
    return int(number) if number is not None and number == number.to_integral_value() else None


def parse_flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def entries_about(raw: list[dict[str, Any]], symbol: str) -> list[dict[str, Any]]:
    """The entries about ``symbol`` (FMP answers only about it; a stray entry is dropped)."""
    wanted = symbol.upper()
    return [e for e in raw if str(e.get("symbol") or wanted).upper() == wanted]


class FmpFetcher:
    path: ClassVar[str]

    def __init__(self, api: FmpApi) -> None:
        self.api = api

    def transform_query(self, query: Any) -> dict[str, Any]:
        symbol = getattr(query, "symbol", None)
        return {} if symbol is None else {"symbol": symbol.upper()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return await self.api.call(self.path, **params)

    @staticmethod
    def entry_for(query: SymbolQuery, raw: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The entry for the asked symbol (a list may hold several); None when it is empty."""
        wanted = query.symbol.upper()
        for entry in raw:
            if str(entry.get("symbol", "")).upper() == wanted:
                return entry
        return raw[0] if raw else None
