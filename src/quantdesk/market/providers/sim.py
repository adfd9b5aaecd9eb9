"""A deterministic simulated provider for tests and offline demos (opt-in: QUANTDESK_PROVIDERS=sim).

It answers every dataset and knows *every* well-formed symbol: LOOKUP never says "unknown", so its
answers prove nothing about a symbol's existence (``Provider.simulated`` is True and every result
has ``source="sim"``; the validation strategy decides what a sim answer is worth). Prices follow a
smooth pseudo-random path derived from a hash of the symbol and the current minute: the same
symbol in the same minute always gets the same price, in every process, with no state kept.
Results are Decimal with 4 decimal places; floats are used only inside the path computation.
Fundamentals (statements, ratios, dividends...) are fixed per symbol, derived from the same hash.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.market.providers.base import BatchFetcher, Fetcher, Provider
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

NAME = "sim"
EXCHANGE = "SIM"
_FOUR_PLACES = Decimal("0.0001")
_MINUTES_PER_DAY = 24 * 60
# Layers of the price path: (name, knot spacing in minutes, amplitude of the log-price).
_LAYERS = (
    ("month", 30 * _MINUTES_PER_DAY, 0.30),
    ("day", _MINUTES_PER_DAY, 0.04),
    ("hour", 60, 0.008),
)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by ``parts`` (stable across processes, unlike hash())."""
    text = "|".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2**64


def _smooth_noise(symbol: str, layer: str, position: float) -> float:
    """Value noise in [-1, 1]: random at integer knots, cosine-interpolated in between."""
    knot = math.floor(position)
    start = _unit(symbol, layer, knot) * 2 - 1
    end = _unit(symbol, layer, knot + 1) * 2 - 1
    weight = (1 - math.cos(math.pi * (position - knot))) / 2
    return start + (end - start) * weight


def is_crypto(symbol: str) -> bool:
    return symbol.endswith("-USD")


def _base_price(symbol: str) -> float:
    """A price level per symbol: 5 to 1,000 for stocks, 0.05 to 50,000 for coins."""
    if is_crypto(symbol):
        return 0.05 * 10 ** (6 * _unit(symbol, "base"))
    return 5 * 10 ** (2.3 * _unit(symbol, "base"))


def _quantize(value: float | Decimal) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(_FOUR_PLACES)


def minute_of(moment: datetime) -> int:
    """Minutes since the epoch: the simulated market moves once a minute."""
    return int(moment.astimezone(UTC).timestamp() // 60)


def price_at(symbol: str, minute: int) -> Decimal:
    """The simulated price of ``symbol`` during ``minute`` (minutes since the epoch)."""
    log_move = sum(
        amplitude * _smooth_noise(symbol, layer, minute / spacing)
        for layer, spacing, amplitude in _LAYERS
    )
    return max(_quantize(_base_price(symbol) * math.exp(log_move)), _FOUR_PLACES)


def _shares(symbol: str) -> Decimal:
    return Decimal(int(10 ** (7 + 3 * _unit(symbol, "shares"))))


def _volume(symbol: str, minute: int) -> Decimal:
    return Decimal(int(100_000 + 10_000_000 * _unit(symbol, "volume", minute)))


class SimMarket:
    """The simulated numbers for one symbol at the clock's current minute."""

    def __init__(self, symbol: str, now: datetime) -> None:
        self.symbol = symbol
        self.minute = minute_of(now)
        self.as_of = datetime.fromtimestamp(self.minute * 60, tz=UTC)
        self.price = price_at(symbol, self.minute)
        previous = price_at(symbol, self.minute - _MINUTES_PER_DAY)
        self.change = self.price - previous
        self.change_percent = _quantize(self.change / previous * 100)
        self.volume = _volume(symbol, self.minute)
        self.market_cap = _quantize(self.price * _shares(symbol))


def _canonical(symbol: str) -> str | None:
    try:
        return canonical_symbol(symbol)
    except InvalidSymbol:
        return None


def _fraction(symbol: str, name: str, low: float, high: float) -> Decimal:
    """A fixed number in [low, high) for this symbol and name, 4 decimal places."""
    return _quantize(low + (high - low) * _unit(symbol, name))


def _asset_class(symbol: str) -> str:
    return "crypto" if is_crypto(symbol) else "equity"


def _annual_revenue(symbol: str) -> Decimal:
    return Decimal(int(10 ** (8 + 3 * _unit(symbol, "revenue"))))


# The simulated exchanges: (code, name, country, country code, suffix, timezone, open, close).
_EXCHANGES = (
    ("SIM", "Simulated Exchange", "Nowhere", "ZZ", None, "UTC", "00:00", "23:59"),
    ("SIMX", "Simulated Exchange (extended)", "Nowhere", "ZZ", ".SX", "UTC", "08:00", "20:00"),
)
_SEGMENTS = ("Products", "Services", "Licensing")


class _SimFetcher:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def transform_query(self, query: Any) -> dict[str, Any]:
        symbol = getattr(query, "symbol", None)
        return {"symbol": None if symbol is None else _canonical(symbol), "now": self.clock()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return params


class SimQuoteFetcher(BatchFetcher[Quote | None]):
    """Any number of symbols in one "call"."""

    max_symbols: ClassVar[int] = 1000

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def transform_batch_query(self, query: SymbolsQuery) -> dict[str, Any]:
        return {"symbols": {s: _canonical(s) for s in query.symbols}, "now": self.clock()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return params

    def transform_batch(self, query: SymbolsQuery, raw: Any) -> dict[str, Quote | None]:
        found: dict[str, Quote | None] = {}
        for asked, symbol in raw["symbols"].items():
            if symbol is None:
                continue
            market = SimMarket(symbol, raw["now"])
            found[asked] = Quote(
                symbol=symbol,
                price=market.price,
                change=market.change,
                change_percent=market.change_percent,
                volume=market.volume,
                market_cap=market.market_cap,
                currency="USD",
                as_of=market.as_of,
                source=NAME,
            )
        return found


class SimLookupFetcher(_SimFetcher, Fetcher[SymbolQuery, SymbolInfo | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        return SymbolInfo(
            symbol=symbol,
            name=f"Simulated {symbol}",
            exchange=EXCHANGE,
            asset_class=_asset_class(symbol),
            currency="USD",
            source=NAME,
        )


class SimProfileFetcher(_SimFetcher, Fetcher[SymbolQuery, Profile | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        return Profile(
            symbol=symbol,
            name=f"Simulated {symbol}",
            exchange=EXCHANGE,
            asset_class=_asset_class(symbol),
            currency="USD",
            market_cap=SimMarket(symbol, raw["now"]).market_cap,
            description="Simulated data for demos and offline use; not a real market.",
            source=NAME,
        )


class SimStatementsFetcher(_SimFetcher, Fetcher[StatementsQuery, list[FinancialStatement]]):
    def transform(self, query: StatementsQuery, raw: Any) -> list[FinancialStatement]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        year = raw["now"].year - 1
        quarterly = query.period == "quarter"
        shares = _shares(symbol)
        found = []
        for n in range(query.limit):
            if quarterly:
                fiscal_year, quarter = year - n // 4, 4 - n % 4
                end = date(fiscal_year, 3 * quarter, 28)
                period, scale = f"Q{quarter}", Decimal(4)
            else:
                fiscal_year, end, period, scale = year - n, date(year - n, 12, 31), "FY", Decimal(1)
            growth = Decimal(1) + _fraction(symbol, f"growth{fiscal_year}{period}", -0.05, 0.15)
            revenue = (_annual_revenue(symbol) * growth / scale).quantize(Decimal(1))
            gross = (revenue * _fraction(symbol, "gross", 0.2, 0.7)).quantize(Decimal(1))
            operating = (gross * _fraction(symbol, "operating", 0.2, 0.6)).quantize(Decimal(1))
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
                    eps=_quantize(net / shares),
                    weighted_shares=shares,
                    source=NAME,
                )
            )
        return found


class SimRatiosFetcher(_SimFetcher, Fetcher[SymbolQuery, RatiosTtm | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> RatiosTtm | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        return RatiosTtm(
            symbol=symbol,
            gross_margin=_fraction(symbol, "gross", 0.2, 0.7),
            operating_margin=_fraction(symbol, "margin-op", 0.05, 0.35),
            net_margin=_fraction(symbol, "margin-net", 0.02, 0.25),
            pe_ratio=_fraction(symbol, "pe", 8, 45),
            price_to_book=_fraction(symbol, "pb", 0.8, 12),
            current_ratio=_fraction(symbol, "current", 0.6, 3),
            debt_to_equity=_fraction(symbol, "de", 0, 2.5),
            dividend_yield=_fraction(symbol, "yield", 0, 0.05),
            source=NAME,
        )


class SimDividendsFetcher(_SimFetcher, Fetcher[DividendsQuery, list[Dividend]]):
    """Quarterly dividends over the last three years (none for crypto), within the query's dates."""

    def transform(self, query: DividendsQuery, raw: Any) -> list[Dividend]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        today: date = raw["now"].date()
        amount = _fraction(symbol, "dividend", 0.05, 1.5)
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


class SimSharesFloatFetcher(_SimFetcher, Fetcher[SymbolQuery, SharesFloat | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> SharesFloat | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        outstanding = _shares(symbol)
        percent = _fraction(symbol, "float", 60, 99.9)
        return SharesFloat(
            symbol=symbol,
            outstanding_shares=outstanding,
            float_shares=(outstanding * percent / 100).quantize(Decimal(1)),
            free_float_percent=percent,
            as_of=SimMarket(symbol, raw["now"]).as_of,
            source=NAME,
        )


class SimSegmentsFetcher(_SimFetcher, Fetcher[SymbolQuery, list[RevenueSegmentation]]):
    def transform(self, query: SymbolQuery, raw: Any) -> list[RevenueSegmentation]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        year = raw["now"].year - 1
        weights = [_unit(symbol, "segment", name) + 0.1 for name in _SEGMENTS]
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


class SimGradesFetcher(_SimFetcher, Fetcher[SymbolQuery, list[AnalystGrades]]):
    def transform(self, query: SymbolQuery, raw: Any) -> list[AnalystGrades]:
        symbol = raw["symbol"]
        if symbol is None or is_crypto(symbol):
            return []
        today: date = raw["now"].date()
        found = []
        for n in range(3):
            month = date(today.year, today.month, 1) - timedelta(days=31 * n)
            counts = [int(10 * _unit(symbol, "grades", month, k)) for k in range(5)]
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


class SimVariantsFetcher(_SimFetcher, Fetcher[SymbolQuery, list[ExchangeVariant]]):
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


class SimExchangesFetcher(_SimFetcher, Fetcher[NoQuery, list[Exchange]]):
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


class SimMarketStatusFetcher(_SimFetcher, Fetcher[NoQuery, list[ExchangeStatus]]):
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


class SimProvider(Provider):
    name = NAME
    simulated = True

    def __init__(self, *, clock: Clock = _utcnow) -> None:
        super().__init__(
            {
                Dataset.LOOKUP: SimLookupFetcher(clock),
                Dataset.QUOTE: SimQuoteFetcher(clock),
                Dataset.PROFILE: SimProfileFetcher(clock),
                Dataset.FINANCIAL_STATEMENTS: SimStatementsFetcher(clock),
                Dataset.RATIOS_TTM: SimRatiosFetcher(clock),
                Dataset.DIVIDEND_HISTORY: SimDividendsFetcher(clock),
                Dataset.SHARES_FLOAT: SimSharesFloatFetcher(clock),
                Dataset.REVENUE_SEGMENTATION: SimSegmentsFetcher(clock),
                Dataset.GRADES_HISTORICAL: SimGradesFetcher(clock),
                Dataset.EXCHANGE_VARIANTS: SimVariantsFetcher(clock),
                Dataset.AVAILABLE_EXCHANGES: SimExchangesFetcher(clock),
                Dataset.EXCHANGE_MARKET_STATUS: SimMarketStatusFetcher(clock),
            }
        )
