"""Financial Modeling Prep, stable API (https://site.financialmodelingprep.com/developer/docs/stable).

Serves every dataset: quotes in batches (``/stable/batch-quote``, many symbols for one call),
profile, income statements, TTM ratios, dividends, float, revenue by product, analyst grades,
exchange variants, the exchange list and market hours. Answers are JSON arrays, empty for an
unknown symbol. Plan limits come as status codes: 401 bad
key, 402 plan-gated (plain text), 403 "Legacy Endpoint" (a v3 path on a newer plan), 429
"Limit Reach" (no ``Retry-After``: the daily allowance is spent). Field names differ between the
stable and the v3 API (``changePercentage``/``changesPercentage``, ``marketCap``/``mktCap``), so
both spellings are read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from quantdesk.market.providers._http import HttpApi, retry_after_seconds
from quantdesk.market.providers._values import from_epoch, to_decimal, to_text, utcnow
from quantdesk.market.providers.base import (
    BatchFetcher,
    Fetcher,
    Provider,
    ProviderAuthError,
    ProviderQuotaExceeded,
    ProviderThrottled,
    ProviderUnavailable,
)
from quantdesk.market.providers.datasets import (
    AnalystGrades,
    Dataset,
    Dividend,
    DividendsQuery,
    Exchange,
    ExchangeStatus,
    ExchangeVariant,
    FinancialStatement,
    NoQuery,
    Profile,
    Quote,
    RatiosTtm,
    RevenueSegmentation,
    SharesFloat,
    StatementsQuery,
    SymbolInfo,
    SymbolQuery,
    SymbolsQuery,
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


def _date(value: Any) -> date | None:
    """``2024-09-28`` or ``2025-09-21 22:26:51`` as a date; None when missing or unreadable."""
    text = to_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    text = to_text(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _int(value: Any) -> int | None:
    number = to_decimal(value)
    return int(number) if number is not None and number == number.to_integral_value() else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _by_symbol(raw: list[dict[str, Any]], symbol: str) -> list[dict[str, Any]]:
    """The entries about ``symbol`` (FMP answers only about it; a stray entry is dropped)."""
    wanted = symbol.upper()
    return [e for e in raw if str(e.get("symbol") or wanted).upper() == wanted]


class _FmpFetcher:
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


class FmpLookupFetcher(_FmpFetcher, Fetcher[SymbolQuery, SymbolInfo | None]):
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


def _quote(entry: dict[str, Any], symbol: str) -> Quote:
    price = to_decimal(entry.get("price"))
    if price is None:
        raise ProviderUnavailable(NAME, f"quote of {symbol} has no price")
    return Quote(
        symbol=to_text(entry.get("symbol")) or symbol,
        price=price,
        change=to_decimal(_first(entry, "change", "changes")),
        change_percent=to_decimal(_first(entry, "changePercentage", "changesPercentage")),
        volume=to_decimal(entry.get("volume")),
        market_cap=to_decimal(_first(entry, "marketCap", "mktCap")),
        currency=to_text(entry.get("currency")),
        as_of=from_epoch(entry.get("timestamp")) or utcnow(),
        source=NAME,
    )


class FmpQuoteFetcher(_FmpFetcher, BatchFetcher[Quote | None]):
    """``/stable/batch-quote?symbols=A,B,...``: many symbols, one call (same entries as
    ``/stable/quote``); a symbol FMP does not know is left out of the answer."""

    path = "/stable/batch-quote"
    max_symbols: ClassVar[int] = 100
    # The batch steps, not _FmpFetcher's single-symbol ones.
    transform_query = BatchFetcher.transform_query
    transform = BatchFetcher.transform

    def transform_batch_query(self, query: SymbolsQuery) -> dict[str, Any]:
        return {"symbols": ",".join(symbol.upper() for symbol in query.symbols)}

    def transform_batch(self, query: SymbolsQuery, raw: Any) -> dict[str, Quote | None]:
        by_symbol = {str(e.get("symbol", "")).upper(): e for e in raw}
        return {
            asked: _quote(by_symbol[asked.upper()], asked.upper())
            for asked in query.symbols
            if asked.upper() in by_symbol
        }


class FmpProfileFetcher(_FmpFetcher, Fetcher[SymbolQuery, Profile | None]):
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


class FmpStatementsFetcher(_FmpFetcher, Fetcher[StatementsQuery, list[FinancialStatement]]):
    path = "/stable/income-statement"

    def transform_query(self, query: StatementsQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper(), "period": query.period, "limit": query.limit}

    def transform(self, query: StatementsQuery, raw: Any) -> list[FinancialStatement]:
        found = []
        for entry in _by_symbol(raw, query.symbol):
            end = _date(entry.get("date"))
            if end is None:
                continue  # a period without its date cannot be placed
            found.append(
                FinancialStatement(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    period_end=end,
                    period=to_text(entry.get("period")) or "FY",
                    fiscal_year=_int(entry.get("fiscalYear")),  # a string here, an int elsewhere
                    currency=to_text(entry.get("reportedCurrency")),
                    filing_date=_date(entry.get("filingDate")),
                    revenue=to_decimal(entry.get("revenue")),
                    cost_of_revenue=to_decimal(entry.get("costOfRevenue")),
                    gross_profit=to_decimal(entry.get("grossProfit")),
                    operating_expenses=to_decimal(entry.get("operatingExpenses")),
                    operating_income=to_decimal(entry.get("operatingIncome")),
                    ebitda=to_decimal(entry.get("ebitda")),
                    net_income=to_decimal(entry.get("netIncome")),
                    eps=to_decimal(entry.get("eps")),
                    eps_diluted=to_decimal(entry.get("epsDiluted")),
                    weighted_shares=to_decimal(entry.get("weightedAverageShsOut")),
                    weighted_shares_diluted=to_decimal(entry.get("weightedAverageShsOutDil")),
                    source=NAME,
                )
            )
        return sorted(found, key=lambda s: s.period_end, reverse=True)[: query.limit]


class FmpRatiosFetcher(_FmpFetcher, Fetcher[SymbolQuery, RatiosTtm | None]):
    path = "/stable/ratios-ttm"

    def transform(self, query: SymbolQuery, raw: Any) -> RatiosTtm | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None

        def ttm(name: str) -> Decimal | None:
            return to_decimal(entry.get(f"{name}TTM"))

        return RatiosTtm(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            gross_margin=ttm("grossProfitMargin"),
            operating_margin=ttm("operatingProfitMargin"),
            net_margin=ttm("netProfitMargin"),
            pe_ratio=ttm("priceToEarningsRatio"),
            peg_ratio=ttm("priceToEarningsGrowthRatio"),
            price_to_book=ttm("priceToBookRatio"),
            price_to_sales=ttm("priceToSalesRatio"),
            price_to_free_cash_flow=ttm("priceToFreeCashFlowRatio"),
            current_ratio=ttm("currentRatio"),
            quick_ratio=ttm("quickRatio"),
            debt_to_equity=ttm("debtToEquityRatio"),
            dividend_yield=ttm("dividendYield"),
            dividend_payout_ratio=ttm("dividendPayoutRatio"),
            source=NAME,
        )


class FmpDividendsFetcher(_FmpFetcher, Fetcher[DividendsQuery, list[Dividend]]):
    """``/stable/dividends`` has no date filter: the range is applied to its answer."""

    path = "/stable/dividends"

    def transform(self, query: DividendsQuery, raw: Any) -> list[Dividend]:
        found = []
        for entry in _by_symbol(raw, query.symbol):
            ex_date = _date(entry.get("date"))
            amount = to_decimal(entry.get("dividend"))
            if ex_date is None or amount is None or not query.covers(ex_date):
                continue
            found.append(
                Dividend(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    ex_date=ex_date,
                    amount=amount,
                    adjusted_amount=to_decimal(entry.get("adjDividend")),
                    record_date=_date(entry.get("recordDate")),
                    payment_date=_date(entry.get("paymentDate")),
                    declaration_date=_date(entry.get("declarationDate")),
                    frequency=to_text(entry.get("frequency")),
                    source=NAME,
                )
            )
        return sorted(found, key=lambda d: d.ex_date, reverse=True)


class FmpSharesFloatFetcher(_FmpFetcher, Fetcher[SymbolQuery, SharesFloat | None]):
    path = "/stable/shares-float"

    def transform(self, query: SymbolQuery, raw: Any) -> SharesFloat | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None
        return SharesFloat(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            float_shares=to_decimal(entry.get("floatShares")),
            outstanding_shares=to_decimal(entry.get("outstandingShares")),
            free_float_percent=to_decimal(entry.get("freeFloat")),
            as_of=_datetime(entry.get("date")),
            source=NAME,
        )


class FmpSegmentsFetcher(_FmpFetcher, Fetcher[SymbolQuery, list[RevenueSegmentation]]):
    path = "/stable/revenue-product-segmentation"

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper(), "period": "annual", "structure": "flat"}

    def transform(self, query: SymbolQuery, raw: Any) -> list[RevenueSegmentation]:
        found = []
        for entry in _by_symbol(raw, query.symbol):
            end, data = _date(entry.get("date")), entry.get("data")
            if end is None or not isinstance(data, dict):
                continue
            segments = {str(k): v for k, v in ((k, to_decimal(v)) for k, v in data.items())}
            found.append(
                RevenueSegmentation(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    period_end=end,
                    fiscal_year=_int(entry.get("fiscalYear")),
                    period=to_text(entry.get("period")),
                    currency=to_text(entry.get("reportedCurrency")),
                    segments={k: v for k, v in segments.items() if v is not None},
                    source=NAME,
                )
            )
        return sorted(found, key=lambda s: s.period_end, reverse=True)


class FmpGradesFetcher(_FmpFetcher, Fetcher[SymbolQuery, list[AnalystGrades]]):
    path = "/stable/grades-historical"

    def transform(self, query: SymbolQuery, raw: Any) -> list[AnalystGrades]:
        found = []
        for entry in _by_symbol(raw, query.symbol):
            day = _date(entry.get("date"))
            if day is None:
                continue
            found.append(
                AnalystGrades(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    date=day,
                    strong_buy=_int(entry.get("analystRatingsStrongBuy")) or 0,
                    buy=_int(entry.get("analystRatingsBuy")) or 0,
                    hold=_int(entry.get("analystRatingsHold")) or 0,
                    sell=_int(entry.get("analystRatingsSell")) or 0,
                    strong_sell=_int(entry.get("analystRatingsStrongSell")) or 0,
                    source=NAME,
                )
            )
        return sorted(found, key=lambda g: g.date, reverse=True)


class FmpVariantsFetcher(_FmpFetcher, Fetcher[SymbolQuery, list[ExchangeVariant]]):
    """Profiles of the same company on other exchanges (their own tickers, so no symbol filter)."""

    path = "/stable/search-exchange-variants"

    def transform(self, query: SymbolQuery, raw: Any) -> list[ExchangeVariant]:
        return [
            ExchangeVariant(
                symbol=str(entry["symbol"]),
                name=to_text(_first(entry, "companyName", "name")),
                exchange=to_text(_first(entry, "exchange", "exchangeShortName")),
                exchange_name=to_text(_first(entry, "exchangeFullName", "exchangeName")),
                currency=to_text(entry.get("currency")),
                price=to_decimal(entry.get("price")),
                source=NAME,
            )
            for entry in raw
            if to_text(entry.get("symbol"))
        ]


class FmpExchangesFetcher(_FmpFetcher, Fetcher[NoQuery, list[Exchange]]):
    path = "/stable/available-exchanges"

    def transform(self, query: NoQuery, raw: Any) -> list[Exchange]:
        return [
            Exchange(
                code=str(entry["exchange"]),
                name=to_text(entry.get("name")),
                country=to_text(entry.get("countryName")),
                country_code=to_text(entry.get("countryCode")),
                symbol_suffix=to_text(entry.get("symbolSuffix")),  # "N/A" means none
                delay=to_text(entry.get("delay")),
                source=NAME,
            )
            for entry in raw
            if to_text(entry.get("exchange"))
        ]


class FmpMarketStatusFetcher(_FmpFetcher, Fetcher[NoQuery, list[ExchangeStatus]]):
    """Every exchange in one call. The hours carry a fixed UTC offset that goes stale across
    daylight saving time; ``timezone`` is the reliable part."""

    path = "/stable/all-exchange-market-hours"

    def transform(self, query: NoQuery, raw: Any) -> list[ExchangeStatus]:
        return [
            ExchangeStatus(
                exchange=str(entry["exchange"]),
                name=to_text(entry.get("name")),
                timezone=to_text(entry.get("timezone")),
                opening_hour=to_text(entry.get("openingHour")),
                closing_hour=to_text(entry.get("closingHour")),
                is_open=_flag(entry.get("isMarketOpen")),
                source=NAME,
            )
            for entry in raw
            if to_text(entry.get("exchange"))
        ]


FETCHERS: dict[Dataset, Callable[[FmpApi], Fetcher[Any, Any]]] = {
    Dataset.LOOKUP: FmpLookupFetcher,
    Dataset.QUOTE: FmpQuoteFetcher,
    Dataset.PROFILE: FmpProfileFetcher,
    Dataset.FINANCIAL_STATEMENTS: FmpStatementsFetcher,
    Dataset.RATIOS_TTM: FmpRatiosFetcher,
    Dataset.DIVIDEND_HISTORY: FmpDividendsFetcher,
    Dataset.SHARES_FLOAT: FmpSharesFloatFetcher,
    Dataset.REVENUE_SEGMENTATION: FmpSegmentsFetcher,
    Dataset.GRADES_HISTORICAL: FmpGradesFetcher,
    Dataset.EXCHANGE_VARIANTS: FmpVariantsFetcher,
    Dataset.AVAILABLE_EXCHANGES: FmpExchangesFetcher,
    Dataset.EXCHANGE_MARKET_STATUS: FmpMarketStatusFetcher,
}


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
        super().__init__({dataset: fetcher(self.api) for dataset, fetcher in FETCHERS.items()})

    async def aclose(self) -> None:
        await self.api.aclose()
