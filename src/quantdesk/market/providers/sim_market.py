"""The simulated market: a deterministic price path per symbol and minute, and the fixed numbers
the simulated provider derives from a symbol's hash (shared by ``sim`` and ``sim_fundamentals``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol

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


def utcnow() -> datetime:
    return datetime.now(UTC)


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) fixed by ``parts`` (stable across processes, unlike hash())."""
    text = "|".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2**64


def _smooth_noise(symbol: str, layer: str, position: float) -> float:
    """Value noise in [-1, 1]: random at integer knots, cosine-interpolated in between."""
    knot = math.floor(position)
    start = unit(symbol, layer, knot) * 2 - 1
    end = unit(symbol, layer, knot + 1) * 2 - 1
    weight = (1 - math.cos(math.pi * (position - knot))) / 2
    return start + (end - start) * weight


def is_crypto(symbol: str) -> bool:
    return symbol.endswith("-USD")


def _base_price(symbol: str) -> float:
    """A price level per symbol: 5 to 1,000 for stocks, 0.05 to 50,000 for coins."""
    if is_crypto(symbol):
        return 0.05 * 10 ** (6 * unit(symbol, "base"))
    return 5 * 10 ** (2.3 * unit(symbol, "base"))


def quantize(value: float | Decimal) -> Decimal:
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
    return max(quantize(_base_price(symbol) * math.exp(log_move)), _FOUR_PLACES)


def shares(symbol: str) -> Decimal:
    return Decimal(int(10 ** (7 + 3 * unit(symbol, "shares"))))


def _volume(symbol: str, minute: int) -> Decimal:
    return Decimal(int(100_000 + 10_000_000 * unit(symbol, "volume", minute)))


class SimMarket:
    """The simulated numbers for one symbol at the clock's current minute."""

    def __init__(self, symbol: str, now: datetime) -> None:
        self.symbol = symbol
        self.minute = minute_of(now)
        self.as_of = datetime.fromtimestamp(self.minute * 60, tz=UTC)
        self.price = price_at(symbol, self.minute)
        previous = price_at(symbol, self.minute - _MINUTES_PER_DAY)
        self.change = self.price - previous
        self.change_percent = quantize(self.change / previous * 100)
        self.volume = _volume(symbol, self.minute)
        self.market_cap = quantize(self.price * shares(symbol))


def canonical(symbol: str) -> str | None:
    try:
        return canonical_symbol(symbol)
    except InvalidSymbol:
        return None


def fraction(symbol: str, name: str, low: float, high: float) -> Decimal:
    """A fixed number in [low, high) for this symbol and name, 4 decimal places."""
    return quantize(low + (high - low) * unit(symbol, name))


def asset_class(symbol: str) -> str:
    return "crypto" if is_crypto(symbol) else "equity"


class SimFetcher:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def transform_query(self, query: Any) -> dict[str, Any]:
        symbol = getattr(query, "symbol", None)
        return {"symbol": None if symbol is None else canonical(symbol), "now": self.clock()}

    async def extract(self, params: dict[str, Any]) -> Any:
        return params
