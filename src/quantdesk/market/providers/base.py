"""The provider interface: one ``Fetcher`` per dataset a provider serves, and the errors adapters
raise.

Modelled on OpenBB's fetcher: a fetcher's ``fetch`` runs three steps: ``transform_query`` (our
query -> the provider's parameters), ``extract`` (the call) and ``transform`` (the provider's raw
answer -> our result, see ``datasets``). A fetcher says how many symbols one call takes
(``max_symbols``; a ``BatchFetcher`` takes many) and how many provider calls one fetch spends
(``cost``), which the chain debits from the provider's quota before calling. Adapters map every
failure of the real API onto the ``ProviderError`` family below, so the chain can react without
knowing which provider it talks to. An adapter returns ``None`` only when the provider
*definitively* says the symbol does not exist; "cannot tell right now" is always an exception.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from quantdesk.market.providers.datasets import (
    Dataset,
    NoQuery,
    Profile,
    Quote,
    SymbolInfo,
    SymbolQuery,
    SymbolsQuery,
    spec_of,
)

__all__ = [
    "BatchFetcher",
    "Capability",
    "Dataset",
    "Fetcher",
    "Profile",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderQuotaExceeded",
    "ProviderThrottled",
    "ProviderUnavailable",
    "ProviderUnsupported",
    "Quote",
    "SymbolInfo",
    "SymbolQuery",
    "SymbolsQuery",
]

# The name callers outside market/ used before datasets existed (``Capability.LOOKUP``).
Capability = Dataset


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
ResultT = TypeVar("ResultT")


class Fetcher(ABC, Generic[QueryT, ResultT]):
    """One dataset of one provider."""

    # Symbols one provider call can answer (1: no batching; see ``BatchFetcher``).
    max_symbols: ClassVar[int] = 1
    # Provider calls (requests against its quota) one ``fetch`` spends.
    cost: ClassVar[int] = 1

    def covers(self, query: QueryT) -> bool:
        """Whether this provider can answer ``query`` at all, decided without a call (a stock
        on a crypto-only provider is not covered: the chain skips it and spends no quota)."""
        return True

    @abstractmethod
    def transform_query(self, query: QueryT) -> dict[str, Any]:
        """Our query as the provider's request parameters."""

    @abstractmethod
    async def extract(self, params: dict[str, Any]) -> Any:
        """Call the provider; raise a ``ProviderError`` for every failure mode."""

    @abstractmethod
    def transform(self, query: QueryT, raw: Any) -> ResultT:
        """The provider's raw answer as our result (``None`` when the symbol does not exist)."""

    async def fetch(self, query: QueryT) -> ResultT:
        return self.transform(query, await self.extract(self.transform_query(query)))


class BatchFetcher(Fetcher[SymbolQuery, ResultT]):
    """A per-symbol dataset whose API answers up to ``max_symbols`` symbols in one call.

    Subclasses implement the batch steps; a single-symbol fetch is a batch of one. The answer of
    a batch is keyed by the symbols *as asked*; a symbol the provider left out is unknown to it.
    """

    max_symbols: ClassVar[int] = 50

    def covers_symbol(self, symbol: str) -> bool:
        return True

    def covers(self, query: SymbolQuery) -> bool:
        return self.covers_symbol(query.symbol)

    @abstractmethod
    def transform_batch_query(self, query: SymbolsQuery) -> dict[str, Any]:
        """The symbols as the provider's request parameters."""

    @abstractmethod
    def transform_batch(self, query: SymbolsQuery, raw: Any) -> dict[str, ResultT]:
        """The answer per asked symbol; symbols left out are unknown to the provider."""

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return self.transform_batch_query(SymbolsQuery(symbols=(query.symbol,)))

    def transform(self, query: SymbolQuery, raw: Any) -> ResultT:
        found = self.transform_batch(SymbolsQuery(symbols=(query.symbol,)), raw)
        return found.get(query.symbol)  # type: ignore[return-value]  # None: unknown symbol

    async def fetch_many(self, query: SymbolsQuery) -> dict[str, ResultT | None]:
        """One call for all of ``query.symbols`` (at most ``max_symbols``)."""
        if len(query.symbols) > self.max_symbols:
            raise ValueError(
                f"{len(query.symbols)} symbols in one call; this fetcher takes {self.max_symbols}"
            )
        found = self.transform_batch(query, await self.extract(self.transform_batch_query(query)))
        return {symbol: found.get(symbol) for symbol in query.symbols}


class Provider:
    """A named set of fetchers, one per dataset it serves."""

    name: ClassVar[str]
    # Simulated data must be labelled as such wherever it is shown.
    simulated: ClassVar[bool] = False

    def __init__(self, fetchers: dict[Dataset, Fetcher[Any, Any]]) -> None:
        self.fetchers = fetchers

    @property
    def datasets(self) -> frozenset[Dataset]:
        return frozenset(self.fetchers)

    def supports(self, dataset: Dataset) -> bool:
        return dataset in self.fetchers

    def fetcher(self, dataset: Dataset) -> Fetcher[Any, Any]:
        fetcher = self.fetchers.get(dataset)
        if fetcher is None:
            raise ProviderUnsupported(self.name, f"no {dataset.value} dataset")
        return fetcher

    async def fetch(self, dataset: Dataset, query: BaseModel | str | None = None) -> Any:
        """One fetch, unguarded (the chain adds breakers, quotas and timeouts).

        ``query`` may be a bare symbol for per-symbol datasets, and omitted for the ones
        that take none.
        """
        fetcher = self.fetcher(dataset)
        return await fetcher.fetch(make_query(dataset, query))

    async def aclose(self) -> None:
        """Release connections (HTTP clients); the default holds none."""


def make_query(dataset: Dataset, query: BaseModel | str | None) -> BaseModel:
    """``query`` as ``dataset``'s query model (a symbol string, None, or the model itself);
    the wrong model for the dataset is a clear ``TypeError``."""
    model: type[BaseModel] = spec_of(dataset).query
    if isinstance(query, str):
        if "symbol" not in model.model_fields:
            raise TypeError(f"{dataset.value} takes no symbol")
        return model.model_validate({"symbol": query})
    if query is None:
        if model is not NoQuery:
            raise TypeError(f"{dataset.value} needs a {model.__name__}")
        return NoQuery()
    if not isinstance(query, model):
        raise TypeError(f"{dataset.value} takes a {model.__name__}, not a {type(query).__name__}")
    return query
