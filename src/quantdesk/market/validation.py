"""The mixed validation strategy: cache → catalog → primary provider → fallbacks → "unknown".

Per symbol, the first layer that can answer decides:

1. **cache** (kind ``validation``): an earlier definite answer, from any process when Redis is on.
2. **catalog**: the assets table. A row the catalog or a provider vouched for is valid; a row a
   provider refuted is invalid; a *pending* row (added while providers were down) falls through.
3. **providers**, in ``QUANTDESK_PROVIDERS`` order, each behind its circuit breaker and token
   bucket (``MarketRuntime.call``). A provider's answer is final: its info → valid, its definite
   "no such symbol" → invalid. Trouble (down, throttled, over quota, skipped) → the next one.
4. none could answer → ``valid="unknown"`` with ``retry_after`` (the smallest a provider or
   breaker gave, else the breaker cooldown), and the symbol is queued for background validation.

The simulated provider (``sim``) knows every well-formed symbol, so its "yes" proves nothing: it
is never asked to validate. When no live provider is configured (the embedded default), the
catalog is the whole world and a symbol it lacks is invalid (not cached: loading the catalog or
configuring a provider changes the answer at once). Sim's quotes and profiles are still served,
labelled ``source: "sim"`` (see ``market.quotes``).

Definite answers are cached (not-found for a shorter time); "unknown" never is. Provider calls for
many symbols run concurrently (``validation_concurrency``); database writes happen afterwards, one
after another, in the caller's session (a session is not safe for concurrent use).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol, lookup_key
from quantdesk.kit.orm import utcnow
from quantdesk.market import repository
from quantdesk.market.providers.base import Capability, SymbolInfo
from quantdesk.market.queue import QueuedSymbol
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import ProviderErrorInfo, ValidationResult
from quantdesk.models import Asset, AssetClass, ValidationStatus

CACHE_KIND = "validation"
# A "no such symbol" may become wrong (a new listing), so it is trusted for at most a day.
NOT_FOUND_TTL_SECONDS = 24 * 3600
CATALOG = "catalog"
_CACHE_CONCURRENCY = 64  # Redis round trips in flight at once for one validation call
T = TypeVar("T")
R = TypeVar("R")

_ASSET_CLASS_ALIASES = {
    "stock": AssetClass.EQUITY,
    "common stock": AssetClass.EQUITY,
    "equity": AssetClass.EQUITY,
    "etf": AssetClass.ETF,
    "fund": AssetClass.ETF,
    "mutualfund": AssetClass.ETF,
    "crypto": AssetClass.CRYPTO,
    "cryptocurrency": AssetClass.CRYPTO,
    "index": AssetClass.INDEX,
    "currency": AssetClass.CURRENCY,
    "forex": AssetClass.CURRENCY,
}


def guess_asset_class(symbol: str, reported: str | None = None) -> str:
    """Our asset class for a provider's label (or, without one, from the symbol's shape)."""
    known = _ASSET_CLASS_ALIASES.get((reported or "").strip().lower())
    if known is not None:
        return known.value
    if symbol.endswith("-USD"):
        return AssetClass.CRYPTO.value
    if symbol.startswith("^"):
        return AssetClass.INDEX.value
    if symbol.endswith("=X"):
        return AssetClass.CURRENCY.value
    return AssetClass.EQUITY.value


def catalog_vouches(asset: Asset) -> bool:
    """The row is a known-real asset: validated, or loaded by the catalog (its rows are real)."""
    return asset.validation_status == ValidationStatus.VALID.value or (
        asset.is_validated and asset.validation_source == CATALOG
    )


@dataclass
class _ProviderAnswer:
    answered: bool
    source: str | None = None
    info: SymbolInfo | None = None
    errors: list[ProviderErrorInfo] = field(default_factory=list)


@dataclass
class ValidationRun:
    """Results per input, in order, and the definite provider answers behind them."""

    results: list[ValidationResult]
    by_symbol: dict[str, ValidationResult]  # keyed by the canonical spelling of each input
    provider_info: dict[str, SymbolInfo] = field(default_factory=dict)


async def _ask_providers(runtime: MarketRuntime, symbol: str) -> _ProviderAnswer:
    errors: list[ProviderErrorInfo] = []
    for provider in runtime.live_providers:
        if not provider.supports(Capability.LOOKUP):
            continue
        outcome = await runtime.call(provider, Capability.LOOKUP, symbol)
        if outcome.answered:
            info = outcome.value if isinstance(outcome.value, SymbolInfo) else None
            return _ProviderAnswer(True, provider.name, info, errors)
        if outcome.error is not None:
            errors.append(outcome.error)
    return _ProviderAnswer(False, errors=errors)


def _retry_after(runtime: MarketRuntime, errors: Sequence[ProviderErrorInfo]) -> float:
    known = [e.retry_after for e in errors if e.retry_after is not None and e.retry_after > 0]
    return round(min(known), 3) if known else runtime.settings.breaker_cooldown_seconds


def _from_catalog(symbol: str, asset: Asset, now: datetime) -> ValidationResult:
    valid = catalog_vouches(asset)
    return ValidationResult(
        symbol=symbol,
        canonical_symbol=asset.symbol,
        valid=valid,
        source=CATALOG,
        name=asset.name,
        exchange=asset.exchange,
        asset_class=asset.asset_class,
        checked_at=now,
        reason=None
        if valid
        else f"{asset.validation_source or 'a provider'} reported no such symbol",
    )


def _from_provider(
    symbol: str, target: str, answer: _ProviderAnswer, now: datetime
) -> ValidationResult:
    info = answer.info
    return ValidationResult(
        symbol=symbol,
        canonical_symbol=target,
        valid=info is not None,
        source=answer.source,
        name=(info.name if info else None) or (target if info else None),
        exchange=info.exchange if info else None,
        asset_class=guess_asset_class(target, info.asset_class) if info else None,
        checked_at=now,
        reason=None if info else f"{answer.source} reports no such symbol",
        errors=answer.errors,
    )


class _Validation:
    """One call of the strategy over many symbols."""

    def __init__(self, session: AsyncSession, runtime: MarketRuntime, now: datetime) -> None:
        self.session = session
        self.runtime = runtime
        self.now = now
        self.verdicts: dict[str, ValidationResult] = {}
        self.to_cache: list[tuple[str, ValidationResult]] = []
        self.provider_info: dict[str, SymbolInfo] = {}
        # By the spelling providers were asked about: definite answers, and "cannot tell now".
        self.answered: dict[str, ValidationResult] = {}
        self.unknown: dict[str, ValidationResult] = {}
        self.pending_rows: dict[str, Asset] = {}  # loaded ORM rows the writes below change

    async def from_cache(self, symbols: list[str]) -> list[str]:
        cache = self.runtime.cache
        found = await _each(symbols, lambda s: cache.get(CACHE_KIND, s), cache.redis_enabled)
        misses = []
        for symbol, cached in zip(symbols, found, strict=True):
            if cached is None:
                misses.append(symbol)
                continue
            result = ValidationResult.model_validate(cached)
            self.verdicts[symbol] = result.model_copy(update={"from_cache": True})
        self.runtime.stats.layer("cache", hits=len(symbols) - len(misses), misses=len(misses))
        return misses

    async def from_catalog(self, symbols: list[str]) -> dict[str, str]:
        """Answer from the assets table; the rest, as {symbol: spelling to ask providers}."""
        if not symbols:
            return {}
        resolved = await asset_service.resolve_symbols(self.session, symbols)
        # resolve_symbols keeps one input per lookup key: BRK.B and BRK/B in one call share one.
        by_key = {lookup_key(a.symbol): a for a in resolved.values() if a is not None}
        for symbol, asset in resolved.items():
            if asset is None:
                resolved[symbol] = by_key.get(lookup_key(symbol))
        ask: dict[str, str] = {}
        for symbol, asset in resolved.items():
            if asset is None:
                ask[symbol] = symbol
                continue
            if asset.validation_status == ValidationStatus.PENDING.value:
                ask[symbol] = asset.symbol
                self.pending_rows[asset.symbol] = asset
                continue
            result = _from_catalog(symbol, asset, self.now)
            self.verdicts[symbol] = result
            self.to_cache.append((symbol, result))
        self.runtime.stats.layer("catalog", hits=len(symbols) - len(ask), misses=len(ask))
        return ask

    async def from_providers(self, ask: dict[str, str]) -> None:
        if not ask:
            return
        if not any(p.supports(Capability.LOOKUP) for p in self.runtime.live_providers):
            for symbol, target in ask.items():
                self.verdicts[symbol] = ValidationResult(
                    symbol=symbol,
                    canonical_symbol=target,
                    valid=False,
                    source=CATALOG,
                    checked_at=self.now,
                    reason="not in the catalog, and no live data provider to ask",
                )
            return
        gate = asyncio.Semaphore(self.runtime.settings.validation_concurrency)

        async def ask_one(target: str) -> _ProviderAnswer:
            async with gate:
                return await _ask_providers(self.runtime, target)

        targets = list(dict.fromkeys(ask.values()))
        answers = dict(
            zip(targets, await asyncio.gather(*(ask_one(t) for t in targets)), strict=True)
        )
        answered = sum(1 for a in answers.values() if a.answered)
        self.runtime.stats.layer("providers", hits=answered, misses=len(answers) - answered)
        for symbol, target in ask.items():
            answer = answers[target]
            if answer.answered:
                result = _from_provider(symbol, target, answer, self.now)
                if answer.info is not None:
                    self.provider_info[target] = answer.info
                self.answered[target] = result
                self.to_cache.append((symbol, result))
            else:
                result = ValidationResult(
                    symbol=symbol,
                    canonical_symbol=target,
                    valid="unknown",
                    checked_at=self.now,
                    reason="no data provider could answer now",
                    errors=answer.errors,
                    retry_after=_retry_after(self.runtime, answer.errors),
                    queued=True,
                )
                self.unknown[target] = result
            self.verdicts[symbol] = result

    async def write(self) -> None:
        """Record this run's provider answers: asset rows and the queue. Sequential, in session."""
        valid = {t: r for t, r in self.answered.items() if r.valid is True}
        invalid = {t: r for t, r in self.answered.items() if r.valid is False}
        for target, result in valid.items():
            info = self.provider_info.get(target)
            await repository.upsert_validated_asset(
                self.session,
                symbol=target,
                lookup_key=lookup_key(target),
                name=(result.name or target)[:255],
                asset_class=result.asset_class or guess_asset_class(target),
                exchange=result.exchange[:32] if result.exchange else None,
                country=info.country[:64] if info and info.country else None,
                metadata=_metadata(info),
                source=result.source or "provider",
                now=self.now,
            )
        by_source: dict[str, list[str]] = {}
        for target, result in invalid.items():
            by_source.setdefault(result.source or "provider", []).append(target)
        for source, symbols in by_source.items():
            await repository.mark_invalid(
                self.session, symbols=symbols, source=source, now=self.now
            )
        for target in [*valid, *invalid]:
            if target in self.pending_rows:  # written through Core: reload what this session holds
                await self.session.refresh(self.pending_rows[target])
        if self.answered:
            await self.runtime.queue.discard(self.session, list(self.answered))
        if self.unknown:
            queued = [
                QueuedSymbol(
                    symbol=target,
                    reason=_errors_text(result.errors),
                    retry_after=result.retry_after or 0.0,
                )
                for target, result in self.unknown.items()
            ]
            await self.runtime.queue.enqueue(self.session, queued, now=self.now)

    async def remember(self) -> None:
        """Cache the definite answers of the catalog and the providers ("unknown" never is)."""
        cache = self.runtime.cache

        async def store(item: tuple[str, ValidationResult]) -> None:
            symbol, result = item
            payload = result.model_dump(mode="json", exclude={"errors"})
            await cache.set(CACHE_KIND, symbol, payload, self._ttl(result))

        await _each(self.to_cache, store, cache.redis_enabled)

    def _ttl(self, result: ValidationResult) -> int:
        full = self.runtime.settings.cache_ttl_validation_seconds
        return full if result.valid is True else min(full, NOT_FOUND_TTL_SECONDS)


async def _each(
    items: Sequence[T], work: Callable[[T], Awaitable[R]], concurrently: bool
) -> list[R]:
    """``work`` for every item: one after another in process (no awaiting happens), concurrently
    (bounded) when each is a Redis round trip, so 1,000 symbols do not cost 1,000 round trips."""
    if not concurrently:
        return [await work(item) for item in items]
    gate = asyncio.Semaphore(_CACHE_CONCURRENCY)

    async def guarded(item: T) -> R:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(guarded(item) for item in items)))


def _metadata(info: SymbolInfo | None) -> dict[str, Any]:
    if info is None:
        return {}
    found = {"currency": info.currency, "provider_symbol": info.symbol}
    if info.asset_class:
        found["provider_asset_class"] = info.asset_class
    return {k: v for k, v in found.items() if v}


def _errors_text(errors: Sequence[ProviderErrorInfo]) -> str:
    if not errors:
        return "no data provider could answer"
    return "; ".join(f"{e.provider}: {e.kind} ({e.message})" for e in errors)


def _malformed(raw: str, reason: str, now: datetime) -> ValidationResult:
    return ValidationResult(
        symbol=raw, canonical_symbol=None, valid=False, checked_at=now, reason=reason
    )


async def validate(
    session: AsyncSession, runtime: MarketRuntime, raws: Sequence[str]
) -> ValidationRun:
    """Validate every input (any spelling); never raises for provider trouble."""
    started = time.perf_counter()
    now = utcnow()
    parsed: list[tuple[str, str | None, str | None]] = []
    for raw in raws:
        try:
            parsed.append((raw, canonical_symbol(raw), None))
        except InvalidSymbol as exc:
            parsed.append((raw, None, str(exc)))
    unique = list(dict.fromkeys(c for _, c, _ in parsed if c is not None))

    run = _Validation(session, runtime, now)
    misses = await run.from_cache(unique)
    ask = await run.from_catalog(misses)
    await run.from_providers(ask)
    await run.write()
    await run.remember()

    results = []
    outcomes: Counter[str] = Counter()
    for raw, symbol, problem in parsed:
        if symbol is None:
            result = _malformed(raw, problem or "not a symbol", now)
        else:
            result = run.verdicts[symbol].model_copy(update={"symbol": raw})
        outcomes[_outcome(result)] += 1
        results.append(result)
    runtime.stats.validation((time.perf_counter() - started) * 1000, outcomes)
    by_symbol = {c: run.verdicts[c] for c in unique}
    return ValidationRun(results=results, by_symbol=by_symbol, provider_info=run.provider_info)


def _outcome(result: ValidationResult) -> str:
    if result.valid == "unknown":
        return "unknown"
    return "valid" if result.valid else "invalid"
