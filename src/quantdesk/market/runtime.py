"""The market-data runtime of one process: providers, their guards, the cache and the counters.

Created in the app's lifespan (``app.state.market``), by a CLI command, or by a worker's job
resources (``MARKET``), and closed with its owner.
Every provider call goes through ``MarketRuntime.call``: it is skipped while the provider's
circuit breaker is open or its token bucket is empty, it is timed, and it never raises for
provider trouble; the outcome says what happened.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from quantdesk.jobs.resources import ResourceKey
from quantdesk.kit import metrics
from quantdesk.kit.breaker import CircuitBreaker
from quantdesk.kit.cache import TwoLayerCache
from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger
from quantdesk.kit.token_bucket import TokenBucketLimiter
from quantdesk.market.providers.base import Capability, Provider, ProviderError
from quantdesk.market.providers.registry import build_providers
from quantdesk.market.queue import DatabaseValidationQueue, ValidationQueue
from quantdesk.market.schemas import ProviderErrorInfo, ProviderHealth
from quantdesk.market.stats import MarketStats

_log = get_logger("quantdesk.market")

# Token-bucket burst: a few calls at once, never more than ~5 s worth of the provider's rate.
MAX_BURST = 5.0
# A call is abandoned this long after the provider's own timeout (yfinance threads can hang).
_TIMEOUT_MARGIN_SECONDS = 2.0
_DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class RateLimit:
    rate_per_second: float
    capacity: float


@dataclass(frozen=True)
class CallOutcome:
    """A provider call: ``answered`` with ``value`` (None = "no such symbol"), or an ``error``."""

    provider: str
    answered: bool
    value: Any = None
    error: ProviderErrorInfo | None = None


def provider_rate_limit(settings: Settings, name: str) -> RateLimit | None:
    """The token bucket of a provider from ``<name>_requests_per_minute``; None when unlimited."""
    per_minute = getattr(settings, f"{name}_requests_per_minute", None)
    if not isinstance(per_minute, int | float) or per_minute <= 0:
        return None
    rate = float(per_minute) / 60.0
    return RateLimit(rate_per_second=rate, capacity=max(1.0, min(MAX_BURST, rate * 5)))


def _timeout(settings: Settings, name: str) -> float:
    value = getattr(settings, f"{name}_timeout_seconds", None)
    seconds = float(value) if isinstance(value, int | float) else _DEFAULT_TIMEOUT_SECONDS
    return seconds + _TIMEOUT_MARGIN_SECONDS


class MarketRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        providers: list[Provider] | None = None,
        cache: TwoLayerCache | None = None,
        buckets: TokenBucketLimiter | None = None,
        queue: ValidationQueue | None = None,
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
        self.buckets = buckets or TokenBucketLimiter(settings.redis_url)
        self.queue: ValidationQueue = queue or DatabaseValidationQueue()
        self.stats = MarketStats()
        self.breakers = {
            p.name: CircuitBreaker(
                p.name,
                failure_threshold=settings.breaker_failure_threshold,
                cooldown_seconds=settings.breaker_cooldown_seconds,
            )
            for p in providers
        }
        self.rate_limits = {p.name: provider_rate_limit(settings, p.name) for p in providers}
        self._timeouts = {p.name: _timeout(settings, p.name) for p in providers}

    @property
    def live_providers(self) -> list[Provider]:
        """The providers whose answers can vouch for a symbol (not simulated)."""
        return [p for p in self.providers if not p.simulated]

    async def call(self, provider: Provider, capability: Capability, symbol: str) -> CallOutcome:
        """Ask one provider, guarded by its breaker and rate limit; never raises for its trouble."""
        name = provider.name
        if not provider.supports(capability):
            return self._skip(name, "unsupported", f"no {capability.value} capability", None)
        breaker = self.breakers[name]
        if breaker.state == "open":  # peek first: allow() would start a half-open probe
            return self._breaker_open(name, breaker)
        limit = self.rate_limits.get(name)
        if limit is not None:
            wait = await self.buckets.try_acquire(
                f"provider:{name}", rate_per_second=limit.rate_per_second, capacity=limit.capacity
            )
            if wait > 0:
                return self._skip(name, "rate_limited", "our rate limit for it is spent", wait)
        if not breaker.allow():  # half open with its one probe already out
            return self._breaker_open(name, breaker)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeouts[name]):
                value = await provider.fetch(capability, symbol)
        except ProviderError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            return self._failed(provider, exc.kind, exc.message, exc.retry_after, elapsed)
        except TimeoutError:
            elapsed = (time.perf_counter() - started) * 1000
            return self._failed(provider, "unavailable", "timed out", None, elapsed)
        except Exception as exc:  # an adapter bug must not become the user's 500
            elapsed = (time.perf_counter() - started) * 1000
            _log.warning("provider_call_crashed", provider=name, error=repr(exc))
            return self._failed(provider, "error", type(exc).__name__, None, elapsed)
        breaker.record_success()
        self.stats.provider_call(name, (time.perf_counter() - started) * 1000, error_kind=None)
        metrics.provider_call(name, "ok", time.perf_counter() - started, breaker.state)
        return CallOutcome(provider=name, answered=True, value=value)

    def _breaker_open(self, name: str, breaker: CircuitBreaker) -> CallOutcome:
        message = "circuit breaker open: it failed repeatedly"
        return self._skip(name, "breaker_open", message, breaker.retry_after)

    def _skip(self, name: str, kind: str, message: str, retry_after: float | None) -> CallOutcome:
        self.stats.provider_skipped(name, kind)
        metrics.provider_skipped(name, kind, self.breakers[name].state)
        info = ProviderErrorInfo(
            provider=name,
            kind=kind,
            message=message,
            retry_after=round(retry_after, 3) if retry_after is not None else None,
        )
        return CallOutcome(provider=name, answered=False, error=info)

    def _failed(
        self,
        provider: Provider,
        kind: str,
        message: str,
        retry_after: float | None,
        elapsed_ms: float,
    ) -> CallOutcome:
        breaker = self.breakers[provider.name]
        if kind == "unsupported":
            breaker.record_success()  # the provider answered, it just does not cover this symbol
        else:
            breaker.record_failure()
        self.stats.provider_call(provider.name, elapsed_ms, error_kind=kind)
        metrics.provider_call(provider.name, kind, elapsed_ms / 1000, breaker.state)
        info = ProviderErrorInfo(
            provider=provider.name, kind=kind, message=message, retry_after=retry_after
        )
        return CallOutcome(provider=provider.name, answered=False, error=info)

    async def health(self) -> list[ProviderHealth]:
        found = []
        for provider in self.providers:
            limit = self.rate_limits.get(provider.name)
            bucket: dict[str, Any] | None = None
            if limit is not None:
                bucket = await self.buckets.state(
                    f"provider:{provider.name}",
                    rate_per_second=limit.rate_per_second,
                    capacity=limit.capacity,
                )
                bucket["requests_per_minute"] = round(limit.rate_per_second * 60, 3)
            found.append(
                ProviderHealth(
                    name=provider.name,
                    simulated=provider.simulated,
                    capabilities=sorted(c.value for c in provider.capabilities),
                    breaker=self.breakers[provider.name].snapshot(),
                    rate_limiter=bucket,
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
        await self.buckets.aclose()


async def _close(runtime: MarketRuntime) -> None:
    await runtime.aclose()


# Jobs get the process's runtime with ``ctx.resources.get(MARKET)`` (built on first use there).
MARKET = ResourceKey[MarketRuntime]("market", build=MarketRuntime, close=_close)


async def get_market_runtime(request: Request) -> MarketRuntime:
    runtime: MarketRuntime = request.app.state.market
    return runtime


MarketRuntimeDep = Annotated[MarketRuntime, Depends(get_market_runtime)]
