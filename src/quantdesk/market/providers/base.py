"""The provider interface: typed queries and results per capability, and the errors adapters raise.

Modelled on OpenBB's fetcher: each capability of a provider is a ``Fetcher`` whose ``fetch`` runs
three steps: ``transform_query`` (our query -> the provider's parameters), ``extract`` (the call)
and ``transform`` (the provider's raw answer -> our result). Adapters map every failure of the real
API onto the ``ProviderError`` family below, so the validation strategy can react without knowing
which provider it talks to. An adapter returns ``None`` only when the provider *definitively* says
the symbol does not exist; "cannot tell right now" is always an exception.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Capability(enum.StrEnum):
    LOOKUP = "lookup"  # does the symbol exist, and what is it
    QUOTE = "quote"  # latest price
    PROFILE = "profile"  # company / fund facts
    CRYPTO_PRICE = "crypto_price"  # price of a crypto asset in USD


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SymbolQuery(_Model):
    """Every capability is asked about one canonical symbol (see ``assets.symbols``)."""

    symbol: str


class SymbolInfo(_Model):
    symbol: str = Field(description="The symbol as the provider spells it")
    name: str | None = None
    exchange: str | None = None
    asset_class: str | None = Field(default=None, description="equity, etf, crypto, index...")
    currency: str | None = None
    country: str | None = None
    source: str


class Quote(_Model):
    symbol: str
    price: Decimal
    change: Decimal | None = None
    change_percent: Decimal | None = Field(default=None, description="In percent: 1.5 = 1.5 %")
    volume: Decimal | None = None
    market_cap: Decimal | None = None
    currency: str | None = None
    as_of: datetime
    source: str


class Profile(_Model):
    symbol: str
    name: str | None = None
    exchange: str | None = None
    asset_class: str | None = None
    sector: str | None = None
    industry: str | None = None
    country: str | None = None
    currency: str | None = None
    market_cap: Decimal | None = None
    pe_ratio: Decimal | None = None
    dividend_yield: Decimal | None = Field(default=None, description="A fraction: 0.005 = 0.5 %")
    description: str | None = None
    website: str | None = None
    source: str


class CryptoPrice(_Model):
    symbol: str
    price: Decimal = Field(description="In USD")
    market_cap: Decimal | None = None
    volume_24h: Decimal | None = None
    change_24h_percent: Decimal | None = Field(default=None, description="In percent")
    as_of: datetime
    source: str


class ProviderError(Exception):
    """The provider could not answer now. ``retry_after`` (seconds) when it said how long."""

    kind = "error"

    def __init__(self, provider: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.retry_after = retry_after


class ProviderThrottled(ProviderError):
    """Rate limited (HTTP 429, Alpha Vantage's ``Note``/``Information`` bodies, Yahoo blocks)."""

    kind = "throttled"


class ProviderQuotaExceeded(ProviderError):
    """A plan or daily quota is spent (FMP 402/429 "Limit Reach", Alpha Vantage daily cap)."""

    kind = "quota_exceeded"


class ProviderUnavailable(ProviderError):
    """Down, timing out, 5xx, or an answer we cannot parse."""

    kind = "unavailable"


class ProviderAuthError(ProviderError):
    """The credentials are missing or refused (401, FMP 403); retrying will not help."""

    kind = "auth"


class ProviderUnsupported(ProviderError):
    """The provider does not cover this symbol or asset class (e.g. a stock on CoinGecko)."""

    kind = "unsupported"


QueryT = TypeVar("QueryT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


class Fetcher(ABC, Generic[QueryT, ResultT]):
    """One capability of one provider."""

    @abstractmethod
    def transform_query(self, query: QueryT) -> dict[str, Any]:
        """Our query as the provider's request parameters."""

    @abstractmethod
    async def extract(self, params: dict[str, Any]) -> Any:
        """Call the provider; raise a ``ProviderError`` for every failure mode."""

    @abstractmethod
    def transform(self, query: QueryT, raw: Any) -> ResultT | None:
        """The provider's raw answer as our result; ``None`` when the symbol does not exist."""

    async def fetch(self, query: QueryT) -> ResultT | None:
        return self.transform(query, await self.extract(self.transform_query(query)))


class Provider:
    """A named set of fetchers, one per capability it supports."""

    name: ClassVar[str]
    # Simulated data must be labelled as such wherever it is shown.
    simulated: ClassVar[bool] = False

    def __init__(self, fetchers: dict[Capability, Fetcher[Any, Any]]) -> None:
        self.fetchers = fetchers

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(self.fetchers)

    def supports(self, capability: Capability) -> bool:
        return capability in self.fetchers

    async def fetch(self, capability: Capability, symbol: str) -> Any:
        fetcher = self.fetchers.get(capability)
        if fetcher is None:
            raise ProviderUnsupported(self.name, f"no {capability} capability")
        return await fetcher.fetch(SymbolQuery(symbol=symbol))

    async def aclose(self) -> None:
        """Release connections (HTTP clients); the default holds none."""
