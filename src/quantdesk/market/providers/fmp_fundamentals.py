"""FMP's fundamentals: income statements, TTM ratios, dividends, float, revenue by product and
analyst grades, one fetcher per dataset."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantdesk.market.providers._values import to_decimal, to_text
from quantdesk.market.providers.base import Fetcher
from quantdesk.market.providers.datasets import (
    AnalystGrades,
    Dividend,
    DividendsQuery,
    FinancialStatement,
    RatiosTtm,
    RevenueSegmentation,
    SharesFloat,
    StatementsQuery,
    SymbolQuery,
)
from quantdesk.market.providers.fmp_api import (
    NAME,
    FmpFetcher,
    entries_about,
    parse_date,
    parse_datetime,
    parse_int,
)


class FmpStatementsFetcher(FmpFetcher, Fetcher[StatementsQuery, list[FinancialStatement]]):
    path = "/stable/income-statement"

    def transform_query(self, query: StatementsQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper(), "period": query.period, "limit": query.limit}

    def transform(self, query: StatementsQuery, raw: Any) -> list[FinancialStatement]:
        found = []
        for entry in entries_about(raw, query.symbol):
            end = parse_date(entry.get("date"))
            if end is None:
                continue  # a period without its date cannot be placed
            found.append(
                FinancialStatement(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    period_end=end,
                    period=to_text(entry.get("period")) or "FY",
                    fiscal_year=parse_int(
                        entry.get("fiscalYear")
                    ),  # a string here, an int elsewhere
                    currency=to_text(entry.get("reportedCurrency")),
                    filing_date=parse_date(entry.get("filingDate")),
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


class FmpRatiosFetcher(FmpFetcher, Fetcher[SymbolQuery, RatiosTtm | None]):
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


class FmpDividendsFetcher(FmpFetcher, Fetcher[DividendsQuery, list[Dividend]]):
    """``/stable/dividends`` has no date filter: the range is applied to its answer."""

    path = "/stable/dividends"

    def transform(self, query: DividendsQuery, raw: Any) -> list[Dividend]:
        found = []
        for entry in entries_about(raw, query.symbol):
            ex_date = parse_date(entry.get("date"))
            amount = to_decimal(entry.get("dividend"))
            if ex_date is None or amount is None or not query.covers(ex_date):
                continue
            found.append(
                Dividend(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    ex_date=ex_date,
                    amount=amount,
                    adjusted_amount=to_decimal(entry.get("adjDividend")),
                    record_date=parse_date(entry.get("recordDate")),
                    payment_date=parse_date(entry.get("paymentDate")),
                    declaration_date=parse_date(entry.get("declarationDate")),
                    frequency=to_text(entry.get("frequency")),
                    source=NAME,
                )
            )
        return sorted(found, key=lambda d: d.ex_date, reverse=True)


class FmpSharesFloatFetcher(FmpFetcher, Fetcher[SymbolQuery, SharesFloat | None]):
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
            as_of=parse_datetime(entry.get("date")),
            source=NAME,
        )


class FmpSegmentsFetcher(FmpFetcher, Fetcher[SymbolQuery, list[RevenueSegmentation]]):
    path = "/stable/revenue-product-segmentation"

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol.upper(), "period": "annual", "structure": "flat"}

    def transform(self, query: SymbolQuery, raw: Any) -> list[RevenueSegmentation]:
        found = []
        for entry in entries_about(raw, query.symbol):
            end, data = parse_date(entry.get("date")), entry.get("data")
            if end is None or not isinstance(data, dict):
                continue
            segments = {str(k): v for k, v in ((k, to_decimal(v)) for k, v in data.items())}
            found.append(
                RevenueSegmentation(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    period_end=end,
                    fiscal_year=parse_int(entry.get("fiscalYear")),
                    period=to_text(entry.get("period")),
                    currency=to_text(entry.get("reportedCurrency")),
                    segments={k: v for k, v in segments.items() if v is not None},
                    source=NAME,
                )
            )
        return sorted(found, key=lambda s: s.period_end, reverse=True)


class FmpGradesFetcher(FmpFetcher, Fetcher[SymbolQuery, list[AnalystGrades]]):
    path = "/stable/grades-historical"

    def transform(self, query: SymbolQuery, raw: Any) -> list[AnalystGrades]:
        found = []
        for entry in entries_about(raw, query.symbol):
            day = parse_date(entry.get("date"))
            if day is None:
                continue
            found.append(
                AnalystGrades(
                    symbol=to_text(entry.get("symbol")) or query.symbol.upper(),
                    date=day,
                    strong_buy=parse_int(entry.get("analystRatingsStrongBuy")),
                    buy=parse_int(entry.get("analystRatingsBuy")),
                    hold=parse_int(entry.get("analystRatingsHold")),
                    sell=parse_int(entry.get("analystRatingsSell")),
                    strong_sell=parse_int(entry.get("analystRatingsStrongSell")),
                    source=NAME,
                )
            )
        return sorted(found, key=lambda g: g.date, reverse=True)
