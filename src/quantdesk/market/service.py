"""Business rules of market data. Other domains call this module (never the repository).

- ``validate_symbols``: the mixed strategy over many symbols (see ``market.validation``).
- ``check_symbols`` + ``admit_symbols``: what universes use when symbols the catalog lacks are
  added: first the providers are asked (no transaction open), then, in the caller's write
  transaction, valid ones get an asset row, "unknown for now" ones a *pending* row private to the
  user (queued for background validation), definitively invalid ones nothing.
- ``asset_with_market_data``: an asset with its latest quote and profile (``market.quotes``).
- bulk validation: ``request_bulk_validation``, ``bulk_results``.

Every function that may wait on a provider opens its own short transactions and must be called
with none open; those that take a session never call a provider.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.jobs import service as jobs_service
from quantdesk.jobs.batches import each_result
from quantdesk.jobs.context import JobContext
from quantdesk.kit.db import Database, after_commit
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound
from quantdesk.kit.orm import utcnow
from quantdesk.market import quotes, repository, validation
from quantdesk.market.engine import reads as engine_reads
from quantdesk.market.engine.schemas import Inventory, InventoryItem
from quantdesk.market.queue import QueuedSymbol
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import (
    MAX_VALIDATE_SYMBOLS,
    MarketProfile,
    MarketQuote,
    ProvidersHealth,
    ValidationBatch,
    ValidationCounts,
    ValidationResult,
    ValidationStats,
)
from quantdesk.models import Asset, Operation, OperationStatus

BULK_KIND = "bulk_validate_assets"
BULK_INPUT = "symbols"
# Provider-validated assets are re-checked after a day.
STALE_AFTER = timedelta(hours=24)
QUEUE_BACKOFF_BASE = timedelta(minutes=5)
QUEUE_BACKOFF_MAX = timedelta(hours=6)


def _counts(results: Sequence[ValidationResult]) -> ValidationCounts:
    counts = ValidationCounts()
    for result in results:
        setattr(counts, validation.outcome(result), getattr(counts, validation.outcome(result)) + 1)
    return counts


def distinct_inputs(symbols: Sequence[str]) -> list[str]:
    """The inputs once each (same canonical symbol, or the same text when it cannot be one)."""
    seen: dict[str, str] = {}
    for raw in symbols:
        seen.setdefault(validation.input_key(raw), raw)
    return list(seen.values())


async def validate_symbols(
    db: Database, *, runtime: MarketRuntime, user_id: uuid.UUID | None, symbols: Sequence[str]
) -> ValidationBatch:
    """One result per distinct symbol (with how many times it was given). Call with no
    transaction open: providers may be asked. ``user_id`` None: the system's own (the CLI)."""
    if len(distinct_inputs(symbols)) > MAX_VALIDATE_SYMBOLS:
        raise InvalidInput(
            f"At most {MAX_VALIDATE_SYMBOLS:,} distinct symbols per call; "
            "use validate_symbols_in_bulk for more",
            field="symbols",
            reason=f"more than {MAX_VALIDATE_SYMBOLS:,} distinct symbols",
            next_actions=["validate_symbols_in_bulk"],
        )
    run = await validation.validate(db, runtime, symbols, user_id=user_id)
    results = run.results()
    return ValidationBatch(results=results, counts=_counts(results))


# --- Admission of symbols the catalog lacks (universes) --------------------------------------


@dataclass(frozen=True)
class Admission:
    """What a symbol the catalog lacked became: an asset (maybe pending), or None (invalid)."""

    asset: Asset | None
    pending: bool
    result: ValidationResult


async def check_symbols(
    db: Database, *, runtime: MarketRuntime, user_id: uuid.UUID, symbols: Sequence[str]
) -> validation.Validation:
    """Ask cache, catalog and providers about canonical symbols, writing nothing (no transaction
    may be open); ``admit_symbols`` records the answers in the caller's transaction."""
    return await validation.prepare(db, runtime, list(dict.fromkeys(symbols)), user_id=user_id)


async def admit_symbols(
    session: AsyncSession, run: validation.Validation, *, owner_id: uuid.UUID
) -> dict[str, Admission]:
    """Record ``run`` (from ``check_symbols``) in the caller's transaction: asset rows for valid
    symbols, private pending rows for "unknown for now" ones; the asset of each symbol."""
    await validation.record(session, run)
    by_symbol = run.by_symbol()
    unknown = {r.canonical_symbol or s: r for s, r in by_symbol.items() if r.valid == "unknown"}
    await asset_service.admit_pending(
        session,
        owner_id=owner_id,
        symbols=list(unknown),
        asset_classes={
            s: validation.guess_asset_class(s, r.asset_class) for s, r in unknown.items()
        },
        now=utcnow(),
    )
    targets = {s: r.canonical_symbol or s for s, r in by_symbol.items() if r.valid is not False}
    found = await asset_service.resolve_symbols(session, list(dict.fromkeys(targets.values())))
    admissions: dict[str, Admission] = {}
    for symbol, result in by_symbol.items():
        target = targets.get(symbol)
        asset = found.get(target) if target else None
        if target is not None and asset is None and result.valid is True:
            # A cached "valid" whose row is gone: write it again (the cache outlived a restore).
            await _record_valid(session, target, result, utcnow())
            asset = (await asset_service.resolve_symbols(session, [target]))[target]
        pending = asset is not None and result.valid == "unknown"
        admissions[symbol] = Admission(asset=asset, pending=pending, result=result)
    validation.finish_stats(run)
    return admissions


async def _record_valid(
    session: AsyncSession, symbol: str, result: ValidationResult, now: datetime
) -> None:
    """An asset row for a "valid" answer (from the cache, or a re-check) of ``symbol``."""
    await asset_service.record_valid(
        session,
        symbol=symbol,
        name=result.name or symbol,
        asset_class=result.asset_class or validation.guess_asset_class(symbol),
        exchange=result.exchange,
        country=None,
        metadata={},
        source=result.source or "provider",
        now=now,
    )


# --- An asset with its market data ------------------------------------------------------------


async def asset_with_market_data(
    db: Database, *, runtime: MarketRuntime, viewer_id: uuid.UUID, symbol: str
) -> tuple[Asset, list[str], MarketQuote | None, MarketProfile | None]:
    """The asset (404 for a pending one the viewer did not ask for), its indices, and its latest
    quote and profile. Reads in one short transaction, then providers with none open."""
    async with db.transaction(user_id=viewer_id, readonly=True) as session:
        asset, indices = await asset_service.get_asset(session, symbol=symbol, viewer_id=viewer_id)
        known = await quotes.load_known(session, asset.id)
    quote, profile = await quotes.market_data(db, runtime, asset, known, user_id=viewer_id)
    return asset, indices, quote, profile


async def tradable_inventory(
    db: Database,
    *,
    viewer_id: uuid.UUID,
    asset_class: str | None,
    limit: int,
    after: str | None,
) -> Inventory:
    """A page of tradable assets with their latest quotes (``engine.reads.listed_quotes``)."""
    async with db.transaction(user_id=viewer_id, readonly=True) as session:
        assets = await asset_service.list_valid_assets(
            session, asset_class=asset_class, after=after, limit=limit
        )
    quotes = await engine_reads.listed_quotes(db, [a.symbol for a in assets])
    items = []
    for asset in assets:
        quote = quotes.get(asset.symbol)
        value = quote.value if quote is not None and isinstance(quote.value, dict) else {}
        items.append(
            InventoryItem(
                symbol=asset.symbol, name=asset.name, asset_class=asset.asset_class,
                exchange=asset.exchange, price=_decimal(value.get("price")),
                market_cap=_decimal(value.get("market_cap")) or asset.market_cap,
                volume=_decimal(value.get("volume")),
                change_percent=_decimal(value.get("change_percent")),
                as_of=quote.as_of if quote is not None else None,
                source=quote.source if quote is not None else None,
                stale=quote.stale if quote is not None else True,
                queued=quote.queued if quote is not None else False,
            )
        )  # fmt: skip
    next_cursor = assets[-1].symbol if len(assets) == limit else None
    return Inventory(items=items, next_cursor=next_cursor)


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        found = Decimal(str(value))
    except ArithmeticError:
        return None
    return found if found.is_finite() else None


def validation_stats(runtime: MarketRuntime) -> ValidationStats:
    return runtime.stats.snapshot(
        provider_names=[p.name for p in runtime.providers], cache=runtime.cache.stats()
    )


async def providers_health(runtime: MarketRuntime) -> ProvidersHealth:
    return ProvidersHealth(providers=await runtime.health(), cache=runtime.cache.stats())


# --- Bulk validation ------------------------------------------------------------------------


class BulkResultsNotFound(NotFound):
    code = "bulk_results_not_found"
    message = "No such bulk validation among yours, or its results expired"


class BulkNotStarted(Conflict):
    code = "operation_not_finished"
    message = "The bulk validation has not started yet: there are no results"


async def request_bulk_validation(
    session: AsyncSession, *, owner_id: uuid.UUID, symbols: Sequence[str]
) -> Operation:
    """Ask for a bulk validation of the distinct symbols; they are stored with the operation
    (not in its params), so reading the operation stays small at 100,000 symbols."""
    distinct = distinct_inputs(symbols)
    operation = await jobs_service.request_job(
        session,
        kind=BULK_KIND,
        owner_id=owner_id,
        params={"symbol_count": len(distinct), "input_count": len(symbols)},
    )
    await jobs_service.attach_file(
        session,
        operation=operation,
        name=BULK_INPUT,
        content=json.dumps(distinct).encode(),
        media_type="application/json",
    )
    return operation


async def bulk_results(
    db: Database, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """Every symbol's result of the owner's bulk validation so far (finished, cancelled, or
    running), as JSON lines; 404 for anyone else's."""
    async with db.transaction(user_id=owner_id, readonly=True) as session:
        operation = await jobs_service.find_operation(
            session, owner_id=owner_id, operation_id=operation_id
        )
    if operation is None or operation.kind != BULK_KIND:
        raise BulkResultsNotFound()
    if operation.status == OperationStatus.PENDING and operation.progress_done == 0:
        raise BulkNotStarted(next_actions=["get_operation"])

    async def lines() -> AsyncIterator[bytes]:
        async for item in jobs_service.stream_results(
            db, owner_id=owner_id, operation_id=operation_id
        ):
            yield (json.dumps(item, separators=(",", ":"), default=str) + "\n").encode()

    return lines()


# --- The validation queue and stale validations (background) ---------------------------------


def queue_backoff(attempt: int) -> timedelta:
    """5 min, 10, 20, ... capped at 6 h: a symbol providers keep failing on costs little quota."""
    doublings = min(max(0, attempt - 1), 16)  # capped before multiplying: no overflow
    return min(QUEUE_BACKOFF_MAX, QUEUE_BACKOFF_BASE * (1 << doublings))


async def requeue_or_settle(
    session: AsyncSession, *, runtime: MarketRuntime, result: ValidationResult, attempt: int
) -> None:
    """After a background validation of a queued symbol: "unknown" stays queued (at least the
    backoff away), a definite answer (from any layer) leaves the queue."""
    symbol = result.canonical_symbol or result.symbol
    if result.valid == "unknown":
        wait = max(result.retry_after or 0.0, queue_backoff(attempt).total_seconds())
        reason = result.reason or "no data provider could answer"
        await runtime.queue.enqueue(session, [QueuedSymbol(symbol, reason, wait)], now=utcnow())
    else:
        await runtime.queue.discard(session, [symbol])


async def drain_queue(session: AsyncSession, *, limit: int) -> list[str]:
    """Request one ``validate_asset`` job per due row of the queue (each pushed back first)."""
    claimed = await repository.claim_queued_validations(
        session, now=utcnow(), limit=limit, backoff=queue_backoff
    )
    await jobs_service.request_jobs(
        session,
        kind="validate_asset",
        owner_id=None,
        params=[{"symbol": symbol, "attempt": attempt} for symbol, attempt in claimed],
    )
    return [symbol for symbol, _ in claimed]


async def stale_symbols(session: AsyncSession, *, limit: int) -> list[str]:
    """Valid assets a provider vouched for more than ``STALE_AFTER`` ago, oldest first.

    Catalog rows are left alone: the offline catalog vouches for them, and a provider that does
    not cover a market (FMP and VOD.L) must not refute a listing the catalog knows.
    """
    return await asset_service.stale_validated_symbols(
        session, before=utcnow() - STALE_AFTER, exclude_source=validation.CATALOG, limit=limit
    )


async def record_recheck(session: AsyncSession, run: validation.Validation) -> list[str]:
    """Record a re-check of valid assets: "valid" renews them, "no such symbol" makes them
    invalid, "cannot tell now" keeps the old verdict (retried next run). Outcomes in order."""
    now = utcnow()
    refuted: dict[str, list[str]] = {}
    outcomes: list[str] = []
    for symbol, result in run.by_symbol().items():
        outcome = validation.outcome(result)
        outcomes.append(outcome)
        if outcome == "valid":
            await _record_valid(session, symbol, result, now)
        elif outcome == "invalid":
            refuted.setdefault(result.source or "provider", []).append(symbol)
    for source, symbols in refuted.items():
        await asset_service.record_invalid(
            session, symbols=symbols, source=source, now=now, only_pending=False
        )
    await run.runtime.queue.discard(session, list(run.unique))  # a valid asset is never queued

    async def publish() -> None:
        await validation.remember(run)

    after_commit(session, publish)
    return outcomes


async def validate_queued_symbol(
    db: Database, *, runtime: MarketRuntime, symbol: str, attempt: int
) -> ValidationResult:
    """A background validation of a queued symbol: the strategy, then the queue settled in the
    same short transaction (see ``requeue_or_settle``). Call with no transaction open."""
    run = await validation.prepare(db, runtime, [symbol])
    result = run.results()[0]
    async with db.transaction(system=True) as session:
        if run.writes:
            await validation.record(session, run)
        else:
            after_commit(session, lambda: validation.remember(run))
        await requeue_or_settle(session, runtime=runtime, result=result, attempt=attempt)
    validation.finish_stats(run)
    return result


async def record_validation_batch(
    session: AsyncSession, run: validation.Validation
) -> list[dict[str, Any]]:
    """Record a prepared batch (``validation.prepare``) in the job's transaction; a summary per
    input, in order."""
    if run.writes:
        await validation.record(session, run)
    else:
        after_commit(session, lambda: validation.remember(run))
    validation.finish_stats(run)
    return [summary_of(result) for result in run.results()]


SAMPLE_SIZE = 20
NOT_VALID_SAMPLE_SIZE = 100


async def summarize_bulk(ctx: JobContext, total: int) -> dict[str, Any]:
    """Counts of distinct symbols by outcome, a sample, and where every result is."""
    counts: Counter[str] = Counter()
    sample: list[dict[str, Any]] = []
    not_valid: list[dict[str, Any]] = []

    def visit(item: dict[str, Any]) -> None:
        valid = item.get("valid")
        outcome = "unknown" if valid == "unknown" else ("valid" if valid is True else "invalid")
        counts[outcome] += 1
        if len(sample) < SAMPLE_SIZE:
            sample.append(item)
        if outcome != "valid" and len(not_valid) < NOT_VALID_SAMPLE_SIZE:
            not_valid.append(item)

    await each_result(ctx, visit)
    return {
        "total": total,
        "input_count": int(ctx.params.get("input_count", total)),
        "done": sum(counts.values()),
        "counts": {k: counts[k] for k in ("valid", "invalid", "unknown")},
        "sample": sample,
        "not_valid_sample": not_valid,
        "results_url": f"/api/v1/assets/validate/bulk/{ctx.operation_id}/results",
    }


async def summarize_recheck(ctx: JobContext, total: int) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    await each_result(ctx, lambda item: counts.update([str(item.get("outcome"))]) and None)
    return {
        "checked": sum(counts.values()),
        **{k: counts[k] for k in ("valid", "invalid", "unknown")},
    }


def summary_of(result: ValidationResult) -> dict[str, Any]:
    return {
        "symbol": result.symbol,
        "canonical_symbol": result.canonical_symbol,
        "valid": result.valid,
        "count": result.count,
        "source": result.source,
        "reason": result.reason,
    }
