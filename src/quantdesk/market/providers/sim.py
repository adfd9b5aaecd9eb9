"""A deterministic simulated provider for demos and offline use (the embedded default).

It knows *every* well-formed symbol: LOOKUP never says "unknown", so its answers prove nothing
about a symbol's existence (``Provider.simulated`` is True and every result has
``source="sim"``; the validation strategy decides what a sim answer is worth). Prices follow a
smooth pseudo-random path derived from a hash of the symbol and the current minute: the same
symbol in the same minute always gets the same price, in every process, with no state kept.
Results are Decimal with 4 decimal places; floats are used only inside the path computation.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.market.providers.base import (
    Capability,
    CryptoPrice,
    Fetcher,
    Profile,
    Provider,
    ProviderUnsupported,
    Quote,
    SymbolInfo,
    SymbolQuery,
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


def _canonical(query: SymbolQuery) -> str | None:
    try:
        return canonical_symbol(query.symbol)
    except InvalidSymbol:
        return None


class _SimFetcher:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": _canonical(query)}

    async def extract(self, params: dict[str, Any]) -> Any:
        symbol = params["symbol"]
        return None if symbol is None else SimMarket(symbol, self.clock())


class SimLookupFetcher(_SimFetcher, Fetcher[SymbolQuery, SymbolInfo]):
    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        if raw is None:
            return None
        return SymbolInfo(
            symbol=raw.symbol,
            name=f"Simulated {raw.symbol}",
            exchange=EXCHANGE,
            asset_class="crypto" if is_crypto(raw.symbol) else "equity",
            currency="USD",
            source=NAME,
        )


class SimQuoteFetcher(_SimFetcher, Fetcher[SymbolQuery, Quote]):
    def transform(self, query: SymbolQuery, raw: Any) -> Quote | None:
        if raw is None:
            return None
        return Quote(
            symbol=raw.symbol,
            price=raw.price,
            change=raw.change,
            change_percent=raw.change_percent,
            volume=raw.volume,
            market_cap=raw.market_cap,
            currency="USD",
            as_of=raw.as_of,
            source=NAME,
        )


class SimCryptoPriceFetcher(_SimFetcher, Fetcher[SymbolQuery, CryptoPrice]):
    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        symbol = _canonical(query)
        if symbol is not None and not is_crypto(symbol):
            raise ProviderUnsupported(NAME, f"{symbol} is not a crypto pair (BASE-USD)")
        return {"symbol": symbol}

    def transform(self, query: SymbolQuery, raw: Any) -> CryptoPrice | None:
        if raw is None:
            return None
        return CryptoPrice(
            symbol=raw.symbol,
            price=raw.price,
            market_cap=raw.market_cap,
            volume_24h=_quantize(raw.volume * raw.price),
            change_24h_percent=raw.change_percent,
            as_of=raw.as_of,
            source=NAME,
        )


class SimProfileFetcher(_SimFetcher, Fetcher[SymbolQuery, Profile]):
    def transform(self, query: SymbolQuery, raw: Any) -> Profile | None:
        if raw is None:
            return None
        return Profile(
            symbol=raw.symbol,
            name=f"Simulated {raw.symbol}",
            exchange=EXCHANGE,
            asset_class="crypto" if is_crypto(raw.symbol) else "equity",
            currency="USD",
            market_cap=raw.market_cap,
            description="Simulated data for demos and offline use; not a real market.",
            source=NAME,
        )


class SimProvider(Provider):
    name = NAME
    simulated = True

    def __init__(self, *, clock: Clock = _utcnow) -> None:
        super().__init__(
            {
                Capability.LOOKUP: SimLookupFetcher(clock),
                Capability.QUOTE: SimQuoteFetcher(clock),
                Capability.CRYPTO_PRICE: SimCryptoPriceFetcher(clock),
                Capability.PROFILE: SimProfileFetcher(clock),
            }
        )
