"""The market-data runtime of one process: providers and their chain, the cache and the counters.

Created in the app's lifespan (``app.state.market``), by a CLI command, or by a worker's job
resources (``MARKET``), and closed with its owner.
Callers ask for a dataset (``fetch`` / ``fetch_many``), never for a provider: the chain
(``providers.chain.ProviderChain``) walks the configured providers, skipping open breakers and
spent quotas, and never raises for provider trouble; the outcome says who answered and why the
others were passed over.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar, overload

import httpx
from fastapi import Depends, Request
from pydantic import BaseModel

from quantdesk.jobs.resources import ResourceKey
from quantdesk.kit.cache import TwoLayerCache
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.logging import get_logger
from quantdesk.kit.token_bucket import TokenBucketLimiter
from quantdesk.market.providers.base import Provider
from quantdesk.market.providers.chain import BatchOutcome, CallOutcome, FetchOutcome, ProviderChain
from quantdesk.market.providers.datasets import Dataset, DatasetSpec
from quantdesk.market.providers.gate import QuotaGate, TokenBucketGate
from quantdesk.market.providers.registry import build_providers
from quantdesk.market.queue import DatabaseValidationQueue, ValidationQueue
from quantdesk.market.quota import LedgerGate
from quantdesk.market.schemas import DatasetInfo, ProviderHealth
from quantdesk.market.stats import MarketStats

_log = get_logger("quantdesk.market")

QueryT = TypeVar("QueryT", bound=BaseModel)
ResultT = TypeVar("ResultT")

__all__ = ["MARKET", "CallOutcome", "FetchOutcome", "MarketRuntime", "MarketRuntimeDep"]


class MarketRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        providers: list[Provider] | None = None,
        cache: TwoLayerCache | None = None,
        buckets: TokenBucketLimiter | None = None,
        gate: QuotaGate | None = None,
        queue: ValidationQueue | None = None,
        db: Database | None = None,
    ) -> None:
        self.settings = settings
        # One pooled client for every HTTP adapter; each request carries its provider's timeout.
        self._http: httpx.AsyncClient | None = None
        if providers is None:
            self._http = httpx.AsyncClient(
                headers={"User-Agent": "quantdesk"},
                limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            )
            providers = build_providers(settings, http=self._http)
        self.providers = providers
        self.cache = cache or TwoLayerCache(settings.redis_url)
        names = [p.name for p in providers]
        # The persisted ledger (every process debits the same windows); a token-bucket gate only
        # when a caller hands one in (tests of the chain, benchmarks).
        self.gate: QuotaGate = gate or (
            TokenBucketGate.from_settings(settings, names, buckets)
            if buckets is not None
            else LedgerGate(settings, names, db)
        )
        self.queue: ValidationQueue = queue or DatabaseValidationQueue()
        self.stats = MarketStats()
        self.chain = ProviderChain(settings, providers, gate=self.gate, stats=self.stats)
        self.breakers = self.chain.breakers

    @property
    def live_providers(self) -> list[Provider]:
        """The providers whose answers can vouch for a symbol (not simulated)."""
        return [p for p in self.providers if not p.simulated]

    async def call(
        self, provider: Provider, dataset: Dataset, query: BaseModel | str | None = None
    ) -> CallOutcome:
        """One provider, guarded (breaker, quota, timeout); prefer ``fetch``, which picks it."""
        return await self.chain.call(provider, dataset, query)

    @overload
    async def fetch(
        self,
        dataset: DatasetSpec[QueryT, ResultT],
        query: QueryT,
        *,
        providers: Sequence[str] | None = None,
        stop_at_unknown: bool = False,
    ) -> FetchOutcome[ResultT]: ...

    @overload
    async def fetch(
        self,
        dataset: Dataset | str,
        query: BaseModel | str | None = None,
        *,
        providers: Sequence[str] | None = None,
        stop_at_unknown: bool = False,
    ) -> FetchOutcome[Any]: ...

    async def fetch(
        self,
        dataset: DatasetSpec[Any, Any] | Dataset | str,
        query: BaseModel | str | None = None,
        *,
        providers: Sequence[str] | None = None,
        stop_at_unknown: bool = False,
    ) -> FetchOutcome[Any]:
        """``dataset`` for ``query`` from the first provider of the chain with data (see
        ``ProviderChain.fetch``)."""
        return await self.chain.fetch(
            dataset, query, providers=providers, stop_at_unknown=stop_at_unknown
        )

    async def fetch_many(
        self,
        dataset: DatasetSpec[Any, ResultT] | Dataset | str,
        symbols: Sequence[str],
        *,
        providers: Sequence[str] | None = None,
    ) -> BatchOutcome[ResultT]:
        """``dataset`` for many symbols, batched into as few provider calls as the APIs allow."""
        return await self.chain.fetch_many(dataset, symbols, providers=providers)

    async def health(self) -> list[ProviderHealth]:
        found = []
        for provider in self.providers:
            datasets = sorted(provider.fetchers.items(), key=lambda item: item[0].value)
            found.append(
                ProviderHealth(
                    name=provider.name,
                    simulated=provider.simulated,
                    capabilities=[dataset.value for dataset, _ in datasets],
                    datasets=[
                        DatasetInfo(
                            name=dataset.value,
                            cost_per_call=fetcher.cost,
                            max_symbols=fetcher.max_symbols,
                        )
                        for dataset, fetcher in datasets
                    ],
                    breaker=self.breakers[provider.name].snapshot(),
                    rate_limiter=await self.gate.state(provider.name),
                )
            )
        return found

    async def aclose(self) -> None:
        for provider in self.providers:
            try:
                await provider.aclose()
            except Exception as exc:  # closing must go on for the others
                _log.warning("provider_close_failed", provider=provider.name, error=repr(exc))
        if self._http is not None:
            await self._http.aclose()
        await self.cache.aclose()
        await self.gate.aclose()


async def _close(runtime: MarketRuntime) -> None:
    await runtime.aclose()


# Jobs get the process's runtime with ``ctx.resources.get(MARKET)`` (built on first use there).
MARKET = ResourceKey[MarketRuntime]("market", build=MarketRuntime, close=_close)


async def get_market_runtime(request: Request) -> MarketRuntime:
    runtime: MarketRuntime = request.app.state.market
    return runtime


MarketRuntimeDep = Annotated[MarketRuntime, Depends(get_market_runtime)]
