"""The mixed validation strategy: cache → catalog → primary provider → fallbacks → "unknown".

Per symbol, the first layer that can answer decides:

1. **cache** (kind ``validation``): an earlier definite answer, from any process when Redis is on.
2. **catalog**: the assets table. A row the catalog or a provider vouched for is valid; a row a
   provider refuted is invalid; a *pending* row (added while providers were down) falls through.
3. **providers**: the ``lookup`` dataset through the provider chain (``MarketRuntime.fetch``,
   live providers only, in ``QUANTDESK_PROVIDERS`` order, skipping open breakers and spent
   quotas). A provider's answer is final: its info → valid, its definite
   "no such symbol" → invalid. Trouble (down, throttled, over quota, skipped) → the next one.
4. none could answer → ``valid="unknown"`` with ``retry_after`` (the smallest a provider or
   breaker gave, else the breaker cooldown), and the symbol is queued for background validation.

The simulated provider (``sim``) knows every well-formed symbol, so its "yes" proves nothing: it
is never asked to validate. When no live provider is configured (the embedded default), the
catalog is the whole world and a symbol it lacks is invalid (not cached: loading the catalog or
configuring a provider changes the answer at once).

The phases keep network I/O out of database transactions: the cache is read with none open, the
catalog in one short read-only transaction, the providers with none open (concurrently, bounded by
``validation_concurrency``), and what they said is recorded in the caller's write transaction
(``record``), whose commit is what publishes the definite answers to the cache: a rolled-back
write never leaves a "valid" behind in the cache.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol, lookup_key
from quantdesk.kit.db import Database, after_commit
from quantdesk.kit.orm import utcnow
from quantdesk.market.providers.datasets import LOOKUP, Dataset, SymbolInfo, SymbolQuery
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


def outcome(result: ValidationResult) -> str:
    if result.valid == "unknown":
        return "unknown"
    return "valid" if result.valid else "invalid"


@dataclass
class _ProviderAnswer:
    answered: bool
    source: str | None = None
    info: SymbolInfo | None = None
    errors: list[ProviderErrorInfo] = field(default_factory=list)


def _lookup_providers(runtime: MarketRuntime) -> list[str]:
    """The live providers that can look a symbol up: a simulated "yes" proves nothing."""
    return [p.name for p in runtime.live_providers if p.supports(Dataset.LOOKUP)]


async def _ask_providers(runtime: MarketRuntime, symbol: str) -> _ProviderAnswer:
    # A live provider's "no such symbol" is final: the next one is not asked.
    found = await runtime.fetch(
        LOOKUP,
        SymbolQuery(symbol=symbol),
        providers=_lookup_providers(runtime),
        stop_at_unknown=True,
    )
    errors = list(found.skipped)
    if found.answered:
        return _ProviderAnswer(True, found.provider, found.value, errors)
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


@dataclass
class Validation:
    """One run of the strategy over many inputs, phase by phase (see the module docstring)."""

    runtime: MarketRuntime
    now: datetime
    parsed: list[tuple[str, str | None, str | None]]  # (input, canonical or None, why not)
    unique: list[str]  # distinct canonical symbols, in input order
    verdicts: dict[str, ValidationResult] = field(default_factory=dict)
    to_cache: list[tuple[str, ValidationResult]] = field(default_factory=list)
    ask: dict[str, str] = field(default_factory=dict)  # input symbol -> spelling to ask
    answered: dict[str, ValidationResult] = field(default_factory=dict)  # by asked spelling
    unknown: dict[str, ValidationResult] = field(default_factory=dict)
    provider_info: dict[str, SymbolInfo] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def writes(self) -> bool:
        """Whether the providers said something the database must record."""
        return bool(self.answered or self.unknown)

    def by_symbol(self) -> dict[str, ValidationResult]:
        """The verdict per distinct canonical symbol."""
        return {symbol: self.verdicts[symbol] for symbol in self.unique}

    def results(self) -> list[ValidationResult]:
        """One result per distinct input (same canonical symbol, or the same malformed text),
        in first-seen order, with how many times it was given (``count``)."""
        counts: Counter[str] = Counter()
        first: dict[str, ValidationResult] = {}
        for raw, symbol, problem in self.parsed:
            key = _key(raw, symbol)
            counts[key] += 1
            if key in first:
                continue
            if symbol is None:
                first[key] = ValidationResult(
                    symbol=raw,
                    canonical_symbol=None,
                    valid=False,
                    checked_at=self.now,
                    reason=problem or "not a symbol",
                )
            else:
                first[key] = self.verdicts[symbol].model_copy(update={"symbol": raw})
        return [result.model_copy(update={"count": counts[key]}) for key, result in first.items()]


def input_key(raw: str) -> str:
    """Inputs with one key are one input: the canonical symbol, or the text that cannot be one."""
    try:
        symbol: str | None = canonical_symbol(raw)
    except InvalidSymbol:
        symbol = None
    return _key(raw, symbol)


def _key(raw: str, symbol: str | None) -> str:
    # A leading NUL keeps malformed text apart from every canonical symbol.
    return symbol if symbol is not None else f"\x00{raw}"


def begin(runtime: MarketRuntime, raws: Sequence[str]) -> Validation:
    parsed: list[tuple[str, str | None, str | None]] = []
    for raw in raws:
        try:
            parsed.append((raw, canonical_symbol(raw), None))
        except InvalidSymbol as exc:
            parsed.append((raw, None, str(exc)))
    unique = list(dict.fromkeys(c for _, c, _ in parsed if c is not None))
    return Validation(runtime=runtime, now=utcnow(), parsed=parsed, unique=unique)


async def from_cache(run: Validation) -> None:
    cache = run.runtime.cache
    wanted = [s for s in run.unique if s not in run.verdicts]
    found = await _each(wanted, lambda s: cache.get(CACHE_KIND, s), cache.redis_enabled)
    hits = 0
    for symbol, cached in zip(wanted, found, strict=True):
        if cached is not None:
            result = ValidationResult.model_validate(cached)
            run.verdicts[symbol] = result.model_copy(update={"from_cache": True})
            hits += 1
    run.runtime.stats.layer("cache", hits=hits, misses=len(wanted) - hits)


async def from_catalog(session: AsyncSession, run: Validation) -> None:
    """Answer from the assets table (reads only); the rest go to ``run.ask``."""
    symbols = [s for s in run.unique if s not in run.verdicts]
    if not symbols:
        return
    resolved = await asset_service.resolve_symbols(session, symbols)
    # resolve_symbols keeps one input per lookup key: BRK.B and BRK/B in one call share one.
    by_key = {lookup_key(a.symbol): a for a in resolved.values() if a is not None}
    for symbol, asset in list(resolved.items()):
        if asset is None:
            resolved[symbol] = by_key.get(lookup_key(symbol))
    for symbol, asset in resolved.items():
        if asset is None:
            run.ask[symbol] = symbol
        elif asset.validation_status == ValidationStatus.PENDING.value:
            run.ask[symbol] = asset.symbol
        else:
            result = _from_catalog(symbol, asset, run.now)
            run.verdicts[symbol] = result
            run.to_cache.append((symbol, result))
    run.runtime.stats.layer("catalog", hits=len(symbols) - len(run.ask), misses=len(run.ask))


async def from_providers(run: Validation) -> None:
    """Ask the providers about ``run.ask`` (no transaction may be open: this waits on them)."""
    runtime, now = run.runtime, run.now
    if not run.ask:
        return
    if not _lookup_providers(runtime):
        for symbol, target in run.ask.items():
            run.verdicts[symbol] = ValidationResult(
                symbol=symbol,
                canonical_symbol=target,
                valid=False,
                source=CATALOG,
                checked_at=now,
                reason="not in the catalog, and no live data provider to ask",
            )
        return
    gate = asyncio.Semaphore(runtime.settings.validation_concurrency)

    async def ask_one(target: str) -> _ProviderAnswer:
        async with gate:
            return await _ask_providers(runtime, target)

    targets = list(dict.fromkeys(run.ask.values()))
    answers = dict(zip(targets, await asyncio.gather(*(ask_one(t) for t in targets)), strict=True))
    answered = sum(1 for a in answers.values() if a.answered)
    runtime.stats.layer("providers", hits=answered, misses=len(answers) - answered)
    for symbol, target in run.ask.items():
        answer = answers[target]
        if answer.answered:
            result = _from_provider(symbol, target, answer, now)
            if answer.info is not None:
                run.provider_info[target] = answer.info
            run.answered[target] = result
            run.to_cache.append((symbol, result))
        else:
            result = ValidationResult(
                symbol=symbol,
                canonical_symbol=target,
                valid="unknown",
                checked_at=now,
                reason="no data provider could answer now",
                errors=answer.errors,
                retry_after=_retry_after(runtime, answer.errors),
                queued=True,
            )
            run.unknown[target] = result
        run.verdicts[symbol] = result


async def record(session: AsyncSession, run: Validation) -> None:
    """Record what the providers said (asset rows through the assets service, the queue) in the
    caller's transaction; the cache learns the definite answers once it commits."""
    valid = {t: r for t, r in run.answered.items() if r.valid is True}
    invalid = {t: r for t, r in run.answered.items() if r.valid is False}
    for target, result in valid.items():
        info = run.provider_info.get(target)
        await asset_service.record_valid(
            session,
            symbol=target,
            name=result.name or target,
            asset_class=result.asset_class or guess_asset_class(target),
            exchange=result.exchange,
            country=info.country if info else None,
            metadata=_metadata(info),
            source=result.source or "provider",
            now=run.now,
        )
    by_source: dict[str, list[str]] = {}
    for target, result in invalid.items():
        by_source.setdefault(result.source or "provider", []).append(target)
    for source, symbols in by_source.items():
        await asset_service.record_invalid(session, symbols=symbols, source=source, now=run.now)
    if run.answered:
        await run.runtime.queue.discard(session, list(run.answered))
    if run.unknown:
        queued = [
            QueuedSymbol(
                symbol=target,
                reason=_errors_text(result.errors),
                retry_after=result.retry_after or 0.0,
            )
            for target, result in run.unknown.items()
        ]
        await run.runtime.queue.enqueue(session, queued, now=run.now)

    async def publish() -> None:
        await remember(run)

    after_commit(session, publish)


async def remember(run: Validation) -> None:
    """Cache the definite answers of the catalog and the providers ("unknown" never is)."""
    cache = run.runtime.cache
    items, run.to_cache = run.to_cache, []

    async def store(item: tuple[str, ValidationResult]) -> None:
        symbol, result = item
        payload = result.model_dump(mode="json", exclude={"errors", "count"})
        await cache.set(CACHE_KIND, symbol, payload, _ttl(run.runtime, result))

    await _each(items, store, cache.redis_enabled)


def _ttl(runtime: MarketRuntime, result: ValidationResult) -> int:
    full = runtime.settings.cache_ttl_validation_seconds
    return full if result.valid is True else min(full, NOT_FOUND_TTL_SECONDS)


def finish_stats(run: Validation) -> None:
    outcomes: Counter[str] = Counter(outcome(r) for r in run.results())
    run.runtime.stats.validation((time.perf_counter() - run.started) * 1000, outcomes)


async def prepare(
    db: Database,
    runtime: MarketRuntime,
    raws: Sequence[str],
    *,
    user_id: uuid.UUID | None = None,
) -> Validation:
    """Phases 1-3: everything but the writes (cache, a read-only catalog transaction, providers).

    Opens and closes its own short transaction; call it with none open.
    """
    run = begin(runtime, raws)
    await from_cache(run)
    if any(s not in run.verdicts for s in run.unique):
        async with db.transaction(user_id=user_id, system=user_id is None, readonly=True) as s:
            await from_catalog(s, run)
    await from_providers(run)
    return run


async def validate(
    db: Database,
    runtime: MarketRuntime,
    raws: Sequence[str],
    *,
    user_id: uuid.UUID | None = None,
) -> Validation:
    """The whole strategy: ``prepare``, then a short write transaction only when providers said
    something to record. Never raises for provider trouble; call it with no transaction open."""
    run = await prepare(db, runtime, raws, user_id=user_id)
    if run.writes:
        async with db.transaction(user_id=user_id, system=user_id is None) as session:
            await record(session, run)
    else:
        await remember(run)
    finish_stats(run)
    return run


async def recheck(db: Database, runtime: MarketRuntime, symbols: Sequence[str]) -> Validation:
    """Ask the providers again about assets they vouched for (no cache, no catalog layer)."""
    run = begin(runtime, symbols)
    run.ask = {symbol: symbol for symbol in run.unique}
    await from_providers(run)
    return run


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
