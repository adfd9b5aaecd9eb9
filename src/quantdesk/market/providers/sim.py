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

from typing import Any, ClassVar

from quantdesk.market.providers import sim_fundamentals as fundamentals
from quantdesk.market.providers.base import BatchFetcher, Fetcher, Provider
from quantdesk.market.providers.datasets import (
    Dataset,
    Profile,
    Quote,
    SymbolInfo,
    SymbolQuery,
    SymbolsQuery,
)
from quantdesk.market.providers.sim_market import (
    EXCHANGE,
    NAME,
    Clock,
    SimFetcher,
    SimMarket,
    asset_class,
    canonical,
    is_crypto,
    minute_of,
    price_at,
    utcnow,
)

__all__ = ["NAME", "SimProvider", "SimQuoteFetcher", "is_crypto", "minute_of", "price_at"]


class SimQuoteFetcher(BatchFetcher[Quote | None]):
    """Any number of symbols in one "call"."""

    max_symbols: ClassVar[int] = 1000

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def transform_batch_query(self, query: SymbolsQuery) -> dict[str, Any]:
        return {"symbols": {s: canonical(s) for s in query.symbols}, "now": self.clock()}

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


class SimLookupFetcher(SimFetcher, Fetcher[SymbolQuery, SymbolInfo | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        return SymbolInfo(
            symbol=symbol,
            name=f"Simulated {symbol}",
            exchange=EXCHANGE,
            asset_class=asset_class(symbol),
            currency="USD",
            source=NAME,
        )


class SimProfileFetcher(SimFetcher, Fetcher[SymbolQuery, Profile | None]):
    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        symbol = raw["symbol"]
        if symbol is None:
            return None
        return Profile(
            symbol=symbol,
            name=f"Simulated {symbol}",
            exchange=EXCHANGE,
            asset_class=asset_class(symbol),
            currency="USD",
            market_cap=SimMarket(symbol, raw["now"]).market_cap,
            description="Simulated data for demos and offline use; not a real market.",
            source=NAME,
        )


class SimProvider(Provider):
    name = NAME
    simulated = True

    def __init__(self, *, clock: Clock = utcnow) -> None:
        super().__init__(
            {
                Dataset.LOOKUP: SimLookupFetcher(clock),
                Dataset.QUOTE: SimQuoteFetcher(clock),
                Dataset.PROFILE: SimProfileFetcher(clock),
                Dataset.FINANCIAL_STATEMENTS: fundamentals.SimStatementsFetcher(clock),
                Dataset.RATIOS_TTM: fundamentals.SimRatiosFetcher(clock),
                Dataset.DIVIDEND_HISTORY: fundamentals.SimDividendsFetcher(clock),
                Dataset.SHARES_FLOAT: fundamentals.SimSharesFloatFetcher(clock),
                Dataset.REVENUE_SEGMENTATION: fundamentals.SimSegmentsFetcher(clock),
                Dataset.GRADES_HISTORICAL: fundamentals.SimGradesFetcher(clock),
                Dataset.EXCHANGE_VARIANTS: fundamentals.SimVariantsFetcher(clock),
                Dataset.AVAILABLE_EXCHANGES: fundamentals.SimExchangesFetcher(clock),
                Dataset.EXCHANGE_MARKET_STATUS: fundamentals.SimMarketStatusFetcher(clock),
            }
        )
