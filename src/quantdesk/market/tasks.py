"""Background jobs of market data: validate one queued symbol, validate many in batches, turn the
validation queue into jobs, and refresh stale validations.

The validation queue (``market.queue``) is a table of symbols no provider could answer. Issue 4
fulfils that hook with a drain rather than a job per enqueue: enqueues happen inside users'
transactions (where a system job cannot be inserted under row-level security) and one symbol may be
queued many times. ``drain_validation_queue`` (every 5 min, see ``jobs.schedule``) claims at most
``DRAIN_LIMIT`` due rows, pushes each row's ``next_attempt_at`` back with exponential backoff (the
claim: the next drain skips it) and requests one ``validate_asset`` job per row.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import service as jobs_service
from quantdesk.jobs.context import JobContext
from quantdesk.jobs.files import (
    RESULTS_SUFFIX,
    keep_first,
    operation_file,
    read_results,
    result_line,
    write_atomically,
)
from quantdesk.jobs.registry import job
from quantdesk.kit.config import Settings
from quantdesk.kit.errors import Conflict, NotFound
from quantdesk.kit.orm import utcnow
from quantdesk.market import repository, service, validation
from quantdesk.market.providers.base import Capability
from quantdesk.market.queue import QueuedSymbol
from quantdesk.market.schemas import MAX_BULK_VALIDATE_SYMBOLS, ValidationResult
from quantdesk.models import Asset, Operation, OperationStatus, ValidationStatus

BULK_KIND = "bulk_validate_assets"
BATCH_SIZE = 10
MAX_BULK_SYMBOLS = MAX_BULK_VALIDATE_SYMBOLS
# The result row keeps counts and a few results; the full list is the results file.
SAMPLE_SIZE = 20
NOT_VALID_SAMPLE_SIZE = 100
# At most this many queued symbols become jobs per drain (12 drains an hour: <= 600 lookups/h).
DRAIN_LIMIT = 50
QUEUE_BACKOFF_BASE = timedelta(minutes=5)
QUEUE_BACKOFF_MAX = timedelta(hours=6)
RESULTS_AREA = "validations"
INPUTS_AREA = "bulk_inputs"
# Cancellation is read between batches, at most this often (a read of its own each time).
CANCEL_CHECK_SECONDS = 0.5
# Provider-validated assets are re-checked after a day, at most this many per hourly run: with
# Alpha Vantage's 5 calls/min a run fits in its quota; the token buckets guard the rest.
STALE_AFTER = timedelta(hours=24)
REFRESH_LIMIT = 100


def queue_backoff(attempt: int) -> timedelta:
    """5 min, 10, 20, ... capped at 6 h: a symbol providers keep failing on costs little quota."""
    doublings = min(max(0, attempt - 1), 16)  # capped before multiplying: no overflow
    return min(QUEUE_BACKOFF_MAX, QUEUE_BACKOFF_BASE * (1 << doublings))


def _outcome(result: ValidationResult) -> str:
    if result.valid == "unknown":
        return "unknown"
    return "valid" if result.valid else "invalid"


def _summary_of(result: ValidationResult) -> dict[str, Any]:
    return {
        "symbol": result.symbol,
        "canonical_symbol": result.canonical_symbol,
        "valid": result.valid,
        "source": result.source,
        "reason": result.reason,
    }


@job("validate_asset", queue="validation")
async def validate_asset(ctx: JobContext) -> dict[str, Any]:
    """Validate one symbol through the strategy; a definite answer removes it from the queue, an
    "unknown" leaves it queued with backoff (``attempt`` comes from the drain)."""
    symbol = str(ctx.params["symbol"])
    attempt = int(ctx.params.get("attempt", 1))
    runtime = ctx.resources.market
    async with ctx.transaction() as session:
        batch = await service.validate_symbols(session, runtime=runtime, symbols=[symbol])
        result = batch.results[0]
        canonical = result.canonical_symbol or symbol
        if result.valid == "unknown":
            # The strategy re-queued it with the provider's retry-after; wait at least the backoff.
            wait = max(result.retry_after or 0.0, queue_backoff(attempt).total_seconds())
            reason = result.reason or "no data provider could answer"
            await runtime.queue.enqueue(
                session, [QueuedSymbol(canonical, reason, wait)], now=utcnow()
            )
        else:  # answered by the cache or the catalog too: the strategy only discards provider ones
            await runtime.queue.discard(session, [canonical])
    return _summary_of(result)


@job("drain_validation_queue", queue="validation")
async def drain_validation_queue(ctx: JobContext) -> dict[str, Any]:
    """Request a ``validate_asset`` job for each due row of the validation queue (bounded)."""
    limit = int(ctx.params.get("limit", DRAIN_LIMIT))
    now = utcnow()
    requested: list[str] = []
    async with ctx.transaction() as session:
        rows = await repository.list_queued_validations(session, due_before=now, limit=limit)
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + queue_backoff(row.attempts)
            await jobs_service.request_job(
                session,
                kind="validate_asset",
                owner_id=None,
                params={"symbol": row.symbol, "attempt": row.attempts},
            )
            requested.append(row.symbol)
    return {"requested": len(requested), "symbols": requested}


def bulk_results_path_for(settings: Settings, operation_id: uuid.UUID) -> Path:
    """The JSON-lines file of a bulk validation's per-symbol results."""
    return operation_file(settings, RESULTS_AREA, operation_id, RESULTS_SUFFIX)


def bulk_results_path(ctx: JobContext) -> Path:
    return bulk_results_path_for(ctx.resources.settings, ctx.operation_id)


class BulkResultsNotFound(NotFound):
    code = "bulk_results_not_found"
    message = "No such bulk validation among yours, or its results expired"


class BulkNotFinished(Conflict):
    code = "operation_not_finished"
    message = "The bulk validation has not succeeded (yet)"


async def bulk_results_file(
    session: AsyncSession, *, settings: Settings, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> Path:
    """The per-symbol results file of the owner's succeeded bulk validation; 404 for others."""
    try:
        operation = await jobs_service.get_operation(
            session, owner_id=owner_id, operation_id=operation_id
        )
    except NotFound:
        raise BulkResultsNotFound() from None
    if operation.kind != BULK_KIND:
        raise BulkResultsNotFound()
    if operation.status != OperationStatus.SUCCEEDED:
        raise BulkNotFinished(next_actions=["get_operation"])
    path = bulk_results_path_for(settings, operation.id)
    if not path.is_file():
        raise BulkResultsNotFound()
    return path


def bulk_inputs_path(settings: Settings, operation_id: uuid.UUID) -> Path:
    return operation_file(settings, INPUTS_AREA, operation_id, ".json")


async def request_bulk_validation(
    session: AsyncSession, *, settings: Settings, owner_id: uuid.UUID, symbols: list[str]
) -> Operation:
    """Ask for a bulk validation; the symbols go to a file, not the row's params, so reading the
    operation (every poll, progress event and WebSocket frame) stays small at 100,000 symbols."""
    operation = await jobs_service.request_job(
        session, kind=BULK_KIND, owner_id=owner_id, params={"symbol_count": len(symbols)}
    )
    write_atomically(bulk_inputs_path(settings, operation.id), json.dumps(symbols).encode())
    return operation


def _bulk_symbols(ctx: JobContext) -> list[str]:
    """``params["symbols"]`` when given inline (small requests), else the request's file."""
    inline = ctx.params.get("symbols")
    if inline is not None:
        return [str(s) for s in inline]
    path = bulk_inputs_path(ctx.resources.settings, ctx.operation_id)
    return [str(s) for s in json.loads(path.read_text(encoding="utf-8"))]


@job(BULK_KIND, queue="bulk_validation")
async def bulk_validate_assets(ctx: JobContext) -> dict[str, Any]:
    """Validate up to 100,000 symbols in batches of 10.

    Each batch's database effects and its checkpoint (progress) commit in one transaction, so a
    retried run starts at ``resume_from`` and never applies a batch twice. Per-symbol results go to
    a JSON-lines file (written before the commit; lines of uncommitted batches are dropped on
    resume); the result keeps counts and samples. Cancellable between batches.
    """
    symbols = _bulk_symbols(ctx)
    total = len(symbols)
    runtime = ctx.resources.market
    path = bulk_results_path(ctx)
    start = min(max(ctx.resume_from, 0), total)
    keep_first(path, start)
    last_check = -CANCEL_CHECK_SECONDS
    with path.open("a", encoding="utf-8") as out:
        for begin in range(start, total, BATCH_SIZE):
            if time.monotonic() - last_check >= CANCEL_CHECK_SECONDS:
                await ctx.check_cancelled()
                last_check = time.monotonic()
            chunk = symbols[begin : begin + BATCH_SIZE]
            async with ctx.transaction() as session:
                batch = await service.validate_symbols(session, runtime=runtime, symbols=chunk)
                out.write(
                    "".join(
                        result_line(begin + j, _summary_of(r)) for j, r in enumerate(batch.results)
                    )
                )
                out.flush()
                done = begin + len(chunk)
                await ctx.checkpoint(session, done, total, f"{done} of {total} symbols validated")
    return summarise_results(ctx, total)


def summarise_results(ctx: JobContext, total: int) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    sample: list[dict[str, Any]] = []
    not_valid: list[dict[str, Any]] = []
    for item in read_results(bulk_results_path(ctx)):
        valid = item.get("valid")
        outcome = "unknown" if valid == "unknown" else ("valid" if valid is True else "invalid")
        counts[outcome] += 1
        if len(sample) < SAMPLE_SIZE:
            sample.append(item)
        if outcome != "valid" and len(not_valid) < NOT_VALID_SAMPLE_SIZE:
            not_valid.append(item)
    return {
        "total": total,
        "counts": {k: counts[k] for k in ("valid", "invalid", "unknown")},
        "sample": sample,
        "not_valid_sample": not_valid,
        "results_url": f"/api/v1/assets/validate/bulk/{ctx.operation_id}/results",
    }


async def _stale_assets(session: AsyncSession, *, limit: int) -> list[Asset]:
    """Valid assets a provider vouched for more than ``STALE_AFTER`` ago, oldest first.

    Catalog rows are left alone: the offline catalog vouches for them, and a provider that does
    not cover a market (FMP and VOD.L) must not refute a listing the catalog knows.
    """
    stmt = (
        select(Asset)
        .where(
            Asset.validation_status == ValidationStatus.VALID.value,
            Asset.validation_source.is_not(None),
            Asset.validation_source != validation.CATALOG,
            Asset.last_validated_at < utcnow() - STALE_AFTER,
        )
        .order_by(Asset.last_validated_at, Asset.id)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars().all())


@job("refresh_stale_validations", queue="validation")
async def refresh_stale_validations(ctx: JobContext) -> dict[str, Any]:
    """Re-validate stale provider-validated assets through the strategy, ``REFRESH_LIMIT`` a run.

    The strategy answers known rows from the catalog layer, so each stale row is presented to it
    as *pending* (in memory only: nothing is written while providers are asked, so SQLite's single
    writer is not held). A provider's "valid" renews ``last_validated_at``, its "no such symbol"
    makes the asset invalid, and "cannot tell now" keeps the old verdict (retried next run).
    """
    runtime = ctx.resources.market
    if not any(p.supports(Capability.LOOKUP) for p in runtime.live_providers):
        return {"checked": 0, "skipped": "no live data provider is configured"}
    limit = int(ctx.params.get("limit", REFRESH_LIMIT))
    async with ctx.transaction() as session:
        symbols = [asset.symbol for asset in await _stale_assets(session, limit=limit)]
    outcomes: Counter[str] = Counter()
    for begin in range(0, len(symbols), BATCH_SIZE):
        await ctx.check_cancelled()
        async with ctx.transaction() as session:
            for outcome in await _refresh_batch(session, ctx, symbols[begin : begin + BATCH_SIZE]):
                outcomes[outcome] += 1
            done = min(begin + BATCH_SIZE, len(symbols))
            await ctx.checkpoint(session, done, len(symbols), f"{done} stale assets checked")
    return {"checked": len(symbols), **{k: outcomes[k] for k in ("valid", "invalid", "unknown")}}


async def _refresh_batch(session: AsyncSession, ctx: JobContext, symbols: list[str]) -> list[str]:
    runtime = ctx.resources.market
    rows = {
        a.symbol: a
        for a in (await session.execute(select(Asset).where(Asset.symbol.in_(symbols)))).scalars()
    }
    now = utcnow()
    outcomes = []
    with session.no_autoflush:
        for asset in rows.values():
            await runtime.cache.delete(validation.CACHE_KIND, asset.symbol)
            asset.validation_status = ValidationStatus.PENDING.value
        run = await validation.validate(session, runtime, list(rows))
    for symbol, asset in rows.items():
        result = run.by_symbol[symbol]
        outcome = _outcome(result)
        outcomes.append(outcome)
        if outcome == "invalid":  # mark_invalid skipped it: the row was pending in memory only
            asset.validation_status = ValidationStatus.INVALID.value
            asset.is_validated = False
            asset.last_validated_at = now
            asset.validation_source = result.source
            asset.updated_at = now
        elif outcome == "unknown":  # keep the earlier verdict; no queue entry for a valid asset
            asset.validation_status = ValidationStatus.VALID.value
            await runtime.queue.discard(session, [symbol])
    await session.flush()
    return outcomes
