"""Financial Modeling Prep, stable API (https://site.financialmodelingprep.com/developer/docs/stable).

Serves every dataset: quotes in batches (``/stable/batch-quote``, many symbols for one call),
profile, income statements, TTM ratios, dividends, float, revenue by product, analyst grades,
exchange variants, the exchange list and market hours. Answers are JSON arrays, empty for an
unknown symbol. The API client and its error mapping (401, 402, 403, 429 "Limit Reach") are in
``fmp_api``; the fundamentals' fetchers in ``fmp_fundamentals``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from quantdesk.market.providers import fmp_fundamentals as fundamentals
from quantdesk.market.providers._values import from_epoch, to_decimal, to_text, utcnow
from quantdesk.market.providers.base import BatchFetcher, Fetcher, Provider, ProviderUnavailable
from quantdesk.market.providers.datasets import (
    Dataset,
    Exchange,
    ExchangeStatus,
    ExchangeVariant,
    NoQuery,
    Profile,
    Quote,
    SymbolInfo,
    SymbolQuery,
    SymbolsQuery,
)
from quantdesk.market.providers.fmp_api import (
    NAME,
    FmpApi,
    FmpFetcher,
    asset_class,
    dividend_yield,
    first,
    parse_flag,
)

__all__ = ["NAME", "FmpApi", "FmpProvider", "FmpQuoteFetcher"]


class FmpLookupFetcher(FmpFetcher, Fetcher[SymbolQuery, SymbolInfo | None]):
    """The profile endpoint answers for every listed symbol and is empty for unknown ones."""

    path = "/stable/profile"

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None
        return SymbolInfo(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            name=to_text(first(entry, "companyName", "name")),
            exchange=to_text(first(entry, "exchange", "exchangeShortName")),
            asset_class=asset_class(entry),
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
        change=to_decimal(first(entry, "change", "changes")),
        change_percent=to_decimal(first(entry, "changePercentage", "changesPercentage")),
        volume=to_decimal(entry.get("volume")),
        market_cap=to_decimal(first(entry, "marketCap", "mktCap")),
        currency=to_text(entry.get("currency")),
        as_of=from_epoch(entry.get("timestamp")) or utcnow(),
        source=NAME,
    )


class FmpQuoteFetcher(FmpFetcher, BatchFetcher[Quote | None]):
    """``/stable/batch-quote?symbols=A,B,...``: many symbols, one call (same entries as
    ``/stable/quote``); a symbol FMP does not know is left out of the answer."""

    path = "/stable/batch-quote"
    max_symbols: ClassVar[int] = 100
    # The batch steps, not FmpFetcher's single-symbol ones.
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


class FmpProfileFetcher(FmpFetcher, Fetcher[SymbolQuery, Profile | None]):
    path = "/stable/profile"

    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        entry = self.entry_for(query, raw)
        if entry is None:
            return None
        return Profile(
            symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
            name=to_text(first(entry, "companyName", "name")),
            exchange=to_text(first(entry, "exchange", "exchangeShortName")),
            asset_class=asset_class(entry),
            sector=to_text(entry.get("sector")),
            industry=to_text(entry.get("industry")),
            country=to_text(entry.get("country")),
            currency=to_text(entry.get("currency")),
            market_cap=to_decimal(first(entry, "marketCap", "mktCap")),
            dividend_yield=dividend_yield(entry),
            description=to_text(entry.get("description")),
            website=to_text(entry.get("website")),
            source=NAME,
        )


class FmpVariantsFetcher(FmpFetcher, Fetcher[SymbolQuery, list[ExchangeVariant]]):
    """The company's listings on other exchanges (their own tickers, so no symbol filter).

    Entries are v3-shaped even on the stable API: ``exchange`` is the full name and
    ``exchangeShortName`` the code; a stable-shaped entry (``exchange`` the code,
    ``exchangeFullName`` the name) is read too.
    """

    path = "/stable/search-exchange-variants"

    def transform(self, query: SymbolQuery, raw: Any) -> list[ExchangeVariant]:
        return [_variant(entry) for entry in raw if to_text(entry.get("symbol"))]


def _variant(entry: dict[str, Any]) -> ExchangeVariant:
    if to_text(entry.get("exchangeShortName")):
        code, full = entry.get("exchangeShortName"), entry.get("exchange")
    else:
        code, full = entry.get("exchange"), entry.get("exchangeFullName")
    return ExchangeVariant(
        symbol=str(entry["symbol"]),
        name=to_text(first(entry, "companyName", "name")),
        exchange=to_text(code),
        exchange_name=to_text(full),
        currency=to_text(entry.get("currency")),
        price=to_decimal(entry.get("price")),
        source=NAME,
    )


class FmpExchangesFetcher(FmpFetcher, Fetcher[NoQuery, list[Exchange]]):
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


class FmpMarketStatusFetcher(FmpFetcher, Fetcher[NoQuery, list[ExchangeStatus]]):
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
                is_open=parse_flag(entry.get("isMarketOpen")),
                source=NAME,
            )
            for entry in raw
            if to_text(entry.get("exchange"))
        ]


FETCHERS: dict[Dataset, Callable[[FmpApi], Fetcher[Any, Any]]] = {
    Dataset.LOOKUP: FmpLookupFetcher,
    Dataset.QUOTE: FmpQuoteFetcher,
    Dataset.PROFILE: FmpProfileFetcher,
    Dataset.FINANCIAL_STATEMENTS: fundamentals.FmpStatementsFetcher,
    Dataset.RATIOS_TTM: fundamentals.FmpRatiosFetcher,
    Dataset.DIVIDEND_HISTORY: fundamentals.FmpDividendsFetcher,
    Dataset.SHARES_FLOAT: fundamentals.FmpSharesFloatFetcher,
    Dataset.REVENUE_SEGMENTATION: fundamentals.FmpSegmentsFetcher,
    Dataset.GRADES_HISTORICAL: fundamentals.FmpGradesFetcher,
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
