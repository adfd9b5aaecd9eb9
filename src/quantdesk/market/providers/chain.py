"""The one provider chain: ask for a dataset, the configured providers answer in order.

``ProviderChain.fetch(dataset, query)`` walks the providers that serve the dataset (primary, then
fallbacks), skipping a provider whose circuit breaker is open, whose quota gate refuses the call,
or that does not cover the query; the first provider that answers wins, and the outcome says who
it was and why each one before it was passed over. ``fetch_many`` does the same for many symbols,
grouping them into one call per ``max_symbols`` where the provider's API allows.

Every provider call goes through ``call``: quota taken first (``QuotaGate``, ``cost`` calls per
fetch), timed out, and never raising for provider trouble. A provider that says it is throttled
or over its plan (``ProviderThrottled`` / ``ProviderQuotaExceeded``) is not failing: the breaker
does not count it; its window is marked spent in the gate until ``Retry-After`` (else the end of
the window) and the chain moves on to the next provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel

from quantdesk.kit import metrics
from quantdesk.kit.breaker import CircuitBreaker
from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger
from quantdesk.market.providers.base import (
    BatchFetcher,
    Fetcher,
    Provider,
    ProviderError,
    make_query,
)
from quantdesk.market.providers.datasets import (
    Dataset,
    DatasetSpec,
    SymbolQuery,
    SymbolsQuery,
    spec_of,
)
from quantdesk.market.providers.gate import (
    MINUTE_WINDOW_SECONDS,
    QuotaGate,
    seconds_to_next_utc_day,
)
from quantdesk.market.schemas import ProviderErrorInfo
from quantdesk.market.stats import MarketStats

_log = get_logger("quantdesk.market")

# A call is abandoned this long after the provider's own timeout (yfinance threads can hang).
_TIMEOUT_MARGIN_SECONDS = 2.0
_DEFAULT_TIMEOUT_SECONDS = 30.0
# Provider calls of one fetch_many in flight at once, per provider.
_BATCH_CONCURRENCY = 4
# Error kinds that say "the provider works but refuses us for now": no breaker failure.
_WINDOW_SPENT = frozenset({"throttled", "quota_exceeded"})
# Skips decided before any request: no provider call was made.
_NOT_CALLED = frozenset({"breaker_open", "rate_limited", "unsupported"})

QueryT = TypeVar("QueryT", bound=BaseModel)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class CallOutcome:
    """One provider call: ``answered`` with ``value`` (None = "no such symbol"), or an ``error``
    (which is also why it was skipped, when no call was made)."""

    provider: str
    answered: bool
    value: Any = None
    error: ProviderErrorInfo | None = None


@dataclass(frozen=True)
class FetchOutcome(Generic[ResultT]):
    """The chain's answer for one query: who answered (``provider``) and who was passed over."""

    dataset: Dataset
    answered: bool
    provider: str | None = None
    value: ResultT | None = None
    skipped: tuple[ProviderErrorInfo, ...] = ()


@dataclass
class BatchOutcome(Generic[ResultT]):
    """The chain's answers for many symbols: per symbol its value and the provider that gave it;
    ``unanswered`` symbols no provider could answer now; ``calls`` provider calls were made."""

    dataset: Dataset
    values: dict[str, ResultT | None] = field(default_factory=dict)
    providers: dict[str, str] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)
    skipped: list[ProviderErrorInfo] = field(default_factory=list)
    calls: int = 0


def _timeout(settings: Settings, name: str) -> float:
    value = getattr(settings, f"{name}_timeout_seconds", None)
    seconds = float(value) if isinstance(value, int | float) else _DEFAULT_TIMEOUT_SECONDS
    return seconds + _TIMEOUT_MARGIN_SECONDS


class ProviderChain:
    def __init__(
        self,
        settings: Settings,
        providers: list[Provider],
        *,
        gate: QuotaGate,
        stats: MarketStats,
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.gate = gate
        self.stats = stats
        self.breakers = {
            p.name: CircuitBreaker(
                p.name,
                failure_threshold=settings.breaker_failure_threshold,
                cooldown_seconds=settings.breaker_cooldown_seconds,
            )
            for p in providers
        }
        self._timeouts = {p.name: _timeout(settings, p.name) for p in providers}
        self._by_name = {p.name: p for p in providers}

    # --- who serves what ------------------------------------------------------------------------

    def providers_for(self, dataset: Dataset, names: Sequence[str] | None = None) -> list[Provider]:
        """The providers serving ``dataset``, in chain order (or in the order of ``names``)."""
        if names is None:
            chosen = self.providers
        else:
            unknown = [name for name in names if name not in self._by_name]
            if unknown:
                raise ValueError(f"provider(s) {', '.join(unknown)} not in this chain")
            chosen = [self._by_name[name] for name in names]
        return [p for p in chosen if p.supports(dataset)]

    # --- one guarded call -----------------------------------------------------------------------

    async def call(
        self,
        provider: Provider,
        dataset: Dataset,
        query: BaseModel | str | None = None,
        *,
        prepaid: bool = False,
    ) -> CallOutcome:
        """Ask one provider, guarded by its breaker and quota; never raises for its trouble.

        ``prepaid``: the call's quota was debited already (a refresh-queue claim debits the
        ledger in the transaction that takes the rows), so the gate is not asked again."""
        name = provider.name
        fetcher = provider.fetchers.get(dataset)
        if fetcher is None:
            return self._skip(name, "unsupported", f"no {dataset.value} dataset", None)
        model = make_query(dataset, query)
        if not fetcher.covers(model):
            return self._skip(name, "unsupported", f"does not cover this {dataset.value}", None)
        return await self._guarded(provider, fetcher, lambda: fetcher.fetch(model), prepaid=prepaid)

    async def call_batch(
        self, provider: Provider, dataset: Dataset, symbols: Sequence[str], *, prepaid: bool = False
    ) -> CallOutcome:
        """One call for up to the fetcher's ``max_symbols`` symbols; the value maps each asked
        symbol to its answer (None: unknown to the provider). Only for a ``BatchFetcher``."""
        fetcher = provider.fetchers.get(dataset)
        if not isinstance(fetcher, BatchFetcher):
            return self._skip(provider.name, "unsupported", f"no {dataset.value} batches", None)
        query = SymbolsQuery(symbols=tuple(symbols))
        return await self._guarded(
            provider, fetcher, lambda: fetcher.fetch_many(query), prepaid=prepaid
        )

    async def _guarded(
        self,
        provider: Provider,
        fetcher: Fetcher[Any, Any],
        work: Callable[[], Awaitable[Any]],
        *,
        prepaid: bool = False,
    ) -> CallOutcome:
        name = provider.name
        breaker = self.breakers[name]
        if breaker.state == "open":  # peek first: allow() would start a half-open probe
            return self._breaker_open(name, breaker)
        if not prepaid:
            wait = await self.gate.try_take(name, fetcher.cost)
            if wait > 0:
                return self._skip(name, "rate_limited", "its quota is spent for now", wait)
        if not breaker.allow():  # half open with its one probe already out
            return self._breaker_open(name, breaker)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeouts[name]):
                value = await work()
        except ProviderError as exc:
            return await self._failed(provider, exc.kind, exc.message, exc.retry_after, started)
        except TimeoutError:
            return await self._failed(provider, "unavailable", "timed out", None, started)
        except Exception as exc:  # an adapter bug must not become the user's 500
            _log.warning("provider_call_crashed", provider=name, error=repr(exc))
            return await self._failed(provider, "error", type(exc).__name__, None, started)
        breaker.record_success()
        elapsed = time.perf_counter() - started
        self.stats.provider_call(name, elapsed * 1000, error_kind=None)
        metrics.provider_call(name, "ok", elapsed, breaker.state)
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

    async def _failed(
        self,
        provider: Provider,
        kind: str,
        message: str,
        retry_after: float | None,
        started: float,
    ) -> CallOutcome:
        elapsed_ms = (time.perf_counter() - started) * 1000
        breaker = self.breakers[provider.name]
        if kind in _WINDOW_SPENT:
            # It answered, it just will not serve us now: the gate waits, the breaker does not.
            # Without Retry-After, the window it named is spent until it resets (the error still
            # reports only what the provider said; later calls are skipped with the wait).
            window = retry_after
            if window is None:
                window = MINUTE_WINDOW_SECONDS if kind == "throttled" else seconds_to_next_utc_day()
            await self.gate.mark_spent(provider.name, window)
            breaker.record_success()
        elif kind == "unsupported":
            breaker.record_success()  # the provider answered, it just does not cover this
        else:
            breaker.record_failure()
        self.stats.provider_call(provider.name, elapsed_ms, error_kind=kind)
        metrics.provider_call(provider.name, kind, elapsed_ms / 1000, breaker.state)
        info = ProviderErrorInfo(
            provider=provider.name,
            kind=kind,
            message=message,
            retry_after=round(retry_after, 3) if retry_after is not None else None,
        )
        return CallOutcome(provider=provider.name, answered=False, error=info)

    # --- the chain ------------------------------------------------------------------------------

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
        """The first answer with data of the providers serving ``dataset`` (``providers``: these,
        in this order, instead of the configured chain). Never raises for provider trouble.

        A provider that knows nothing (``None``, ``[]``) passes the question on, and the outcome
        is its empty answer only if no later provider has data; with ``stop_at_unknown`` its
        answer is final (validation: "no such symbol" from a live provider settles it).
        """
        spec = dataset if isinstance(dataset, DatasetSpec) else spec_of(dataset)
        model = make_query(spec.dataset, query)
        skipped: list[ProviderErrorInfo] = []
        empty: CallOutcome | None = None
        for provider in self.providers_for(spec.dataset, providers):
            outcome = await self.call(provider, spec.dataset, model)
            if outcome.answered and not spec.accepts(outcome.value):
                outcome = self._malformed(provider, spec, outcome.value)
            if not outcome.answered:
                if outcome.error is not None:
                    skipped.append(outcome.error)
                continue
            if stop_at_unknown or _has_data(outcome.value):
                return FetchOutcome(
                    spec.dataset, True, provider.name, outcome.value, tuple(skipped)
                )
            empty = empty or outcome
        if empty is not None:
            return FetchOutcome(spec.dataset, True, empty.provider, empty.value, tuple(skipped))
        return FetchOutcome(spec.dataset, False, skipped=tuple(skipped))

    def _malformed(
        self, provider: Provider, spec: DatasetSpec[Any, Any], value: object
    ) -> CallOutcome:
        _log.warning(
            "provider_answer_malformed",
            provider=provider.name,
            dataset=spec.dataset.value,
            got=type(value).__name__,
        )
        message = f"answered {type(value).__name__}, not {spec.item.__name__}"
        info = ProviderErrorInfo(provider=provider.name, kind="error", message=message)
        return CallOutcome(provider=provider.name, answered=False, error=info)

    async def fetch_many(
        self,
        dataset: DatasetSpec[Any, ResultT] | Dataset | str,
        symbols: Sequence[str],
        *,
        providers: Sequence[str] | None = None,
    ) -> BatchOutcome[ResultT]:
        """``dataset`` for every symbol: each provider in turn gets the symbols still without
        data, in calls of up to its ``max_symbols`` (one call per symbol when it cannot batch).

        Only for datasets asked by a bare symbol (quote, profile, ratios-ttm...). A symbol every
        answering provider said it does not know has the value ``None`` (or ``[]``); a symbol no
        provider could answer now is in ``unanswered``.
        """
        spec: DatasetSpec[Any, Any] = (
            dataset if isinstance(dataset, DatasetSpec) else spec_of(dataset)
        )
        if not spec.per_symbol or set(spec.query.model_fields) != {"symbol"}:
            raise ValueError(f"{spec.dataset.value} is not asked by symbol alone: use fetch")
        wanted = list(dict.fromkeys(SymbolQuery(symbol=s).symbol for s in symbols))
        result: BatchOutcome[ResultT] = BatchOutcome(spec.dataset)
        remaining = wanted
        for provider in self.providers_for(spec.dataset, providers):
            if not remaining:
                break
            remaining = await self._provider_batch(provider, spec, remaining, result)
        result.unanswered = [s for s in remaining if s not in result.values]
        return result

    async def _provider_batch(
        self,
        provider: Provider,
        spec: DatasetSpec[Any, Any],
        symbols: list[str],
        result: BatchOutcome[ResultT],
    ) -> list[str]:
        """Ask ``provider`` about ``symbols``; the ones still without data."""
        fetcher = provider.fetchers[spec.dataset]
        groups: list[list[str]]
        if isinstance(fetcher, BatchFetcher):
            covered = [s for s in symbols if fetcher.covers_symbol(s)]
            size = max(1, fetcher.max_symbols)
            groups = [covered[i : i + size] for i in range(0, len(covered), size)]
        else:
            groups = [[s] for s in symbols]
        gate = asyncio.Semaphore(_BATCH_CONCURRENCY)

        async def ask(group: list[str]) -> tuple[list[str], CallOutcome]:
            async with gate:
                if isinstance(fetcher, BatchFetcher):
                    return group, await self.call_batch(provider, spec.dataset, group)
                return group, await self.call(provider, spec.dataset, group[0])

        found: set[str] = set()
        for group, outcome in await asyncio.gather(*(ask(g) for g in groups)):
            if outcome.error is not None:
                if outcome.error.kind not in _NOT_CALLED:
                    result.calls += 1
                result.skipped.append(outcome.error)
                continue
            result.calls += 1
            batch = isinstance(fetcher, BatchFetcher)
            values = outcome.value if batch else {group[0]: outcome.value}
            for symbol in group:
                value = values.get(symbol)
                if not spec.accepts(value):
                    continue
                if _has_data(value):
                    found.add(symbol)
                elif symbol in result.values:
                    continue  # an earlier provider's "unknown" stands
                result.values[symbol] = value
                result.providers[symbol] = provider.name
        return [s for s in symbols if s not in found]


def _has_data(value: object) -> bool:
    return value is not None and value != []
