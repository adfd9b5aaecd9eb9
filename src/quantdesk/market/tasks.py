"""Background jobs of market data: each adapts a job to ``market.service`` calls.

- ``validate_asset``: one queued symbol through the strategy.
- ``drain_validation_queue`` (every 5 min): due rows of the validation queue become
  ``validate_asset`` jobs (enqueues happen inside users' transactions, where a system job cannot
  be inserted under row-level security, and one symbol may be queued many times, so a drain rather
  than a job per enqueue).
- ``bulk_validate_assets``: up to 100,000 symbols in resumable batches of 10.
- ``refresh_stale_validations`` (hourly): provider-validated assets re-checked after a day.
- ``expire_market_watches`` (every 5 min): presence rows nobody renewed are deleted.
- ``trim_quota_ledger`` (hourly): provider debits older than any quota window are deleted.
- ``trim_refresh_queue`` (hourly): finished refresh-queue rows past their retention are deleted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs.batches import BatchJob
from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job
from quantdesk.kit.orm import utcnow
from quantdesk.market import quota, service, validation, watching
from quantdesk.market.engine import service as engine_service
from quantdesk.market.providers.base import Capability
from quantdesk.market.runtime import MARKET

BATCH_SIZE = 10
# At most this many queued symbols become jobs per drain (12 drains an hour: <= 600 lookups/h).
DRAIN_LIMIT = 50
# Re-checked per hourly run: with Alpha Vantage's 5 calls/min a run fits in its quota; the
# token buckets guard the rest.
REFRESH_LIMIT = 100


@job("validate_asset", queue="validation")
async def validate_asset(ctx: JobContext) -> dict[str, Any]:
    """Validate one queued symbol; a definite answer removes it from the queue, an "unknown"
    leaves it queued with backoff (``attempt`` comes from the drain)."""
    result = await service.validate_queued_symbol(
        ctx.resources.db,
        runtime=ctx.resources.get(MARKET),
        symbol=str(ctx.params["symbol"]),
        attempt=int(ctx.params.get("attempt", 1)),
    )
    return service.summary_of(result)


@job("drain_validation_queue", queue="validation", every=timedelta(minutes=5))
async def drain_validation_queue(ctx: JobContext) -> dict[str, Any]:
    """Request a ``validate_asset`` job for each due row of the validation queue (bounded)."""
    async with ctx.transaction() as session:
        symbols = await service.drain_queue(
            session, limit=int(ctx.params.get("limit", DRAIN_LIMIT))
        )
    return {"requested": len(symbols), "symbols": symbols}


class _BulkValidation(BatchJob[str, validation.Validation]):
    size = BATCH_SIZE
    noun = "symbols validated"

    def message(self, done: int, total: int) -> str:
        return f"{done} of {total} symbols validated"

    async def prepare(self, batch: Sequence[str]) -> validation.Validation:
        return await validation.prepare(
            self.ctx.resources.db, self.ctx.resources.get(MARKET), batch, user_id=self.ctx.owner_id
        )

    async def apply(
        self, session: AsyncSession, start: int, batch: Sequence[str], run: validation.Validation
    ) -> list[dict[str, Any]]:
        return await service.record_validation_batch(session, run)

    async def summarize(self, total: int) -> dict[str, Any]:
        return await service.summarize_bulk(self.ctx, total)


@job(service.BULK_KIND, queue="bulk_validation")
async def bulk_validate_assets(ctx: JobContext) -> dict[str, Any]:
    """Validate up to 100,000 distinct symbols (stored with the request) in batches of 10."""
    symbols = [str(s) for s in json.loads(await ctx.read_file(service.BULK_INPUT))]
    return await _BulkValidation(ctx, symbols).run()


class _Recheck(BatchJob[str, validation.Validation]):
    size = BATCH_SIZE
    noun = "stale assets checked"

    async def prepare(self, batch: Sequence[str]) -> validation.Validation:
        return await validation.recheck(
            self.ctx.resources.db, self.ctx.resources.get(MARKET), batch
        )

    async def apply(
        self, session: AsyncSession, start: int, batch: Sequence[str], run: validation.Validation
    ) -> list[dict[str, Any]]:
        outcomes = await service.record_recheck(session, run)
        return [{"symbol": s, "outcome": o} for s, o in zip(batch, outcomes, strict=True)]

    async def summarize(self, total: int) -> dict[str, Any]:
        return await service.summarize_recheck(self.ctx, total)


@job("refresh_stale_validations", queue="validation", every=timedelta(hours=1))
async def refresh_stale_validations(ctx: JobContext) -> dict[str, Any]:
    """Re-validate stale provider-validated assets, ``REFRESH_LIMIT`` a run."""
    runtime = ctx.resources.get(MARKET)
    if not any(p.supports(Capability.LOOKUP) for p in runtime.live_providers):
        return {"checked": 0, "skipped": "no live data provider is configured"}
    limit = int(ctx.params.get("limit", REFRESH_LIMIT))

    async def stale() -> list[str]:
        async with ctx.transaction(readonly=True) as session:
            return await service.stale_symbols(session, limit=limit)

    # Fixed by the first attempt, so a retry resumes over the same list.
    symbols = await ctx.pinned_list("symbols", stale)
    return await _Recheck(ctx, symbols).run()


@job("expire_market_watches", queue="maintenance", every=timedelta(minutes=5))
async def expire_market_watches(ctx: JobContext) -> dict[str, Any]:
    """Forget watches nobody renewed (a closed API client, a process that died)."""
    async with ctx.transaction() as session:
        expired = await watching.expire(session, now=utcnow())
    return {"expired": expired}


@job("trim_quota_ledger", queue="maintenance", every=timedelta(hours=1))
async def trim_quota_ledger(ctx: JobContext) -> dict[str, Any]:
    """Forget provider debits no quota window can see any more."""
    async with ctx.transaction() as session:
        trimmed = await quota.trim(session, now=utcnow())
    return {"trimmed": trimmed}


# Rows deleted per transaction: short transactions, however many rows a trim finds.
TRIM_BATCH = 5_000


@job("trim_refresh_queue", queue="maintenance", every=timedelta(hours=1))
async def trim_refresh_queue(ctx: JobContext) -> dict[str, Any]:
    """Delete completed and failed refresh-queue rows older than the retention, in batches."""
    retention = timedelta(hours=ctx.resources.settings.market_refresh_retention_hours)
    now, trimmed = utcnow(), 0
    while True:
        async with ctx.transaction() as session:
            found = await engine_service.trim(
                session, now=now, retention=retention, limit=TRIM_BATCH
            )
        trimmed += found
        if found < TRIM_BATCH:
            return {"trimmed": trimmed}
