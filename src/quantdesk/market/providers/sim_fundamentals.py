"""Simulated fundamentals and exchanges: fixed per symbol (from its hash), dated from the clock,
labelled ``source="sim"`` like every simulated value."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantdesk.market.providers.base import Fetcher
from quantdesk.market.providers.datasets import (
    AnalystGrades,
    Dividend,
    DividendsQuery,
    Exchange,
    ExchangeStatus,
    ExchangeVariant,
    FinancialStatement,
    NoQuery,
    RatiosTtm,
    RevenueSegmentation,
    SharesFloat,
    StatementsQuery,
    SymbolQuery,
)
from quantdesk.market.providers.sim_market import (
    NAME,
    SimFetcher,
    SimMarket,
    fraction,
    is_crypto,
    quantize,
    shares,
    unit,
)


def _annual_revenue(symbol: str) -> Decimal:
    return Decimal(int(10 ** (8 + 3 * unit(symbol, "revenue"))))


# The simulated exchanges: (code, name, country, country code, suffix, timezone, open, close).
_EXCHANGES = (
    ("SIM", "Simulated Exchange", "Nowhere", "ZZ", None, "UTC", "00:00", "23:59"),
    ("SIMX", "Simulated Exchange (extended)", "Nowhere", "ZZ", ".SX", "UTC", "08:00", "20:00"),
)
_SEGMENTS = ("Products", "Services", "Licensing")


class SimStatementsFetcher(SimFetcher, Fetcher[StatementsQuery, list[FinancialStatement]]):
    def transform(self, query: StatementsQuery, raw: Any) -> list[FinancialStatement]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        year = raw["now"].year - 1
        quarterly = query.period == "quarter"
        weighted = shares(symbol)
        found = []
        for n in range(query.limit):
            if quarterly:
                fiscal_year, quarter = year - n // 4, 4 - n % 4
                end = date(fiscal_year, 3 * quarter, 28)
                period, scale = f"Q{quarter}", Decimal(4)
            else:
                fiscal_year, end, period, scale = year - n, date(year - n, 12, 31), "FY", Decimal(1)
            growth = Decimal(1) + fraction(symbol, f"growth{fiscal_year}{period}", -0.05, 0.15)
            revenue = (_annual_revenue(symbol) * growth / scale).quantize(Decimal(1))
            gross = (revenue * fraction(symbol, "gross", 0.2, 0.7)).quantize(Decimal(1))
            operating = (gross * fraction(symbol, "operating", 0.2, 0.6)).quantize(Decimal(1))
            net = (operating * Decimal("0.79")).quantize(Decimal(1))
            found.append(
                FinancialStatement(
                    symbol=symbol,
                    period_end=end,
                    period=period,
                    fiscal_year=fiscal_year,
                    currency="USD",
                    revenue=revenue,
                    cost_of_revenue=revenue - gross,
                    gross_profit=gross,
                    operating_expenses=gross - operating,
                    operating_income=operating,
                    net_income=net,
                    eps=quantize(net / weighted),
                    weighted_shares=weighted,
                    source=NAME,
                )
            )
        return found


class SimRatiosFetcher(SimFetcher, Fetcher[SymbolQuery, RatiosTtm | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> RatiosTtm | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        return RatiosTtm(
            symbol=symbol,
            gross_margin=fraction(symbol, "gross", 0.2, 0.7),
            operating_margin=fraction(symbol, "margin-op", 0.05, 0.35),
            net_margin=fraction(symbol, "margin-net", 0.02, 0.25),
            pe_ratio=fraction(symbol, "pe", 8, 45),
            price_to_book=fraction(symbol, "pb", 0.8, 12),
            current_ratio=fraction(symbol, "current", 0.6, 3),
            debt_to_equity=fraction(symbol, "de", 0, 2.5),
            dividend_yield=fraction(symbol, "yield", 0, 0.05),
            source=NAME,
        )


class SimDividendsFetcher(SimFetcher, Fetcher[DividendsQuery, list[Dividend]]):
    """Quarterly dividends over the last three years (none for crypto), within the query's dates."""

    def transform(self, query: DividendsQuery, raw: Any) -> list[Dividend]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        today: date = raw["now"].date()
        amount = fraction(symbol, "dividend", 0.05, 1.5)
        found = []
        for n in range(12):
            ex_date = date(today.year - n // 4, 3 * (4 - n % 4) - 1, 10)
            if ex_date > today or not query.covers(ex_date):
                continue
            found.append(
                Dividend(
                    symbol=symbol,
                    ex_date=ex_date,
                    amount=amount,
                    adjusted_amount=amount,
                    payment_date=ex_date + timedelta(days=14),
                    frequency="Quarterly",
                    source=NAME,
                )
            )
        return found


class SimSharesFloatFetcher(SimFetcher, Fetcher[SymbolQuery, SharesFloat | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> SharesFloat | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        outstanding = shares(symbol)
        percent = fraction(symbol, "float", 60, 99.9)
        return SharesFloat(
            symbol=symbol,
            outstanding_shares=outstanding,
            float_shares=(outstanding * percent / 100).quantize(Decimal(1)),
            free_float_percent=percent,
            as_of=SimMarket(symbol, raw["now"]).as_of,
            source=NAME,
        )


class SimSegmentsFetcher(SimFetcher, Fetcher[SymbolQuery, list[RevenueSegmentation]]):
    def transform(self, query: SymbolQuery, raw: Any) -> list[RevenueSegmentation]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        year = raw["now"].year - 1
        weights = [unit(symbol, "segment", name) + 0.1 for name in _SEGMENTS]
        revenue = _annual_revenue(symbol)
        return [
            RevenueSegmentation(
                symbol=symbol,
                period_end=date(year - n, 12, 31),
                fiscal_year=year - n,
                period="FY",
                currency="USD",
                segments={
                    name: (revenue * Decimal(repr(w / sum(weights)))).quantize(Decimal(1))
                    for name, w in zip(_SEGMENTS, weights, strict=True)
                },
                source=NAME,
            )
            for n in range(3)
        ]


class SimGradesFetcher(SimFetcher, Fetcher[SymbolQuery, list[AnalystGrades]]):
    def transform(self, query: SymbolQuery, raw: Any) -> list[AnalystGrades]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        today: date = raw["now"].date()
        found = []
        for n in range(3):
            month = date(today.year, today.month, 1) - timedelta(days=31 * n)
            counts = [int(10 * unit(symbol, "grades", month, k)) for k in range(5)]
            found.append(
                AnalystGrades(
                    symbol=symbol,
                    date=month.replace(day=1),
                    strong_buy=counts[0],
                    buy=counts[1],
                    hold=counts[2],
                    sell=counts[3],
                    strong_sell=counts[4],
                    source=NAME,
                )
            )
        return found


class SimVariantsFetcher(SimFetcher, Fetcher[SymbolQuery, list[ExchangeVariant]]):
    def transform(self, query: SymbolQuery, raw: Any) -> list[ExchangeVariant]:
        symbol = raw["symbol"]
        if symbol is None:
            return []
        price = SimMarket(symbol, raw["now"]).price
        return [
            ExchangeVariant(
                symbol=f"{symbol}{suffix or ''}",
                name=f"Simulated {symbol}",
                exchange=code,
                exchange_name=name,
                currency="USD",
                price=price,
                source=NAME,
            )
            for code, name, _, _, suffix, *_ in _EXCHANGES
        ]


class SimExchangesFetcher(SimFetcher, Fetcher[NoQuery, list[Exchange]]):
    def transform(self, query: NoQuery, raw: Any) -> list[Exchange]:
        return [
            Exchange(
                code=code,
                name=name,
                country=country,
                country_code=country_code,
                symbol_suffix=suffix,
                delay="Real-time",
                source=NAME,
            )
            for code, name, country, country_code, suffix, *_ in _EXCHANGES
        ]


class SimMarketStatusFetcher(SimFetcher, Fetcher[NoQuery, list[ExchangeStatus]]):
    def transform(self, query: NoQuery, raw: Any) -> list[ExchangeStatus]:
        now: datetime = raw["now"].astimezone(UTC)
        clock = now.strftime("%H:%M")
        return [
            ExchangeStatus(
                exchange=code,
                name=name,
                timezone=zone,
                opening_hour=opening,
                closing_hour=closing,
                is_open=now.weekday() < 5 and opening <= clock < closing,
                source=NAME,
            )
            for code, name, _, _, _, zone, opening, closing in _EXCHANGES
        ]
