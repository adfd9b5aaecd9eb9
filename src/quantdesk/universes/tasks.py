"""Background jobs of universes (CSV import and export): each adapts a job to service calls.

Import: the request stored the file with the operation (``service.request_import``); the job adds
its rows in chunks of ``IMPORT_CHUNK`` through the same membership code as
``add_assets_to_universe``: the market is asked about a chunk's unknown symbols with no transaction
open, then the chunk's changes, its per-row results and its checkpoint commit together, so a
retried run resumes after the last committed chunk. Valid rows are added and the others reported:
a file is not all or nothing.

Export: the members' CSV is stored with the operation, in the transaction that marks it complete.

``watch_active_universes`` (every 5 min): the members of recently active users' universes become
background watches of the market engine, refreshed more often while the service is active.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs.batches import BatchJob, each_result
from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job
from quantdesk.kit import activity
from quantdesk.kit.orm import utcnow
from quantdesk.market.runtime import MARKET
from quantdesk.universes import csv_io, membership, service

IMPORT_CHUNK = 1000
INLINE_RESULTS = 1000


def _owner(ctx: JobContext) -> uuid.UUID:
    if ctx.owner_id is None:
        raise ValueError(f"{ctx.kind} needs an owner")
    return ctx.owner_id


class _Import(BatchJob[csv_io.CsvRow, membership.Additions]):
    size = IMPORT_CHUNK

    def __init__(self, ctx: JobContext, rows: Sequence[csv_io.CsvRow]) -> None:
        super().__init__(ctx, rows)
        self.owner_id = _owner(ctx)
        self.universe_id = uuid.UUID(str(ctx.params["universe_id"]))

    def message(self, done: int, total: int) -> str:
        return f"{done} of {total} rows imported"

    async def prepare(self, batch: Sequence[csv_io.CsvRow]) -> membership.Additions:
        items = [membership.AddItem(row.symbol, row.metadata) for row in batch]
        return await membership.check_additions(
            self.ctx.resources.db,
            owner_id=self.owner_id,
            universe_id=self.universe_id,
            symbols=membership.symbols_of(items),
            market=self.ctx.resources.get(MARKET),
        )

    async def apply(
        self,
        session: AsyncSession,
        start: int,
        batch: Sequence[csv_io.CsvRow],
        additions: membership.Additions,
    ) -> list[dict[str, Any]]:
        items = [membership.AddItem(row.symbol, row.metadata) for row in batch]
        results, _ = await membership.add_items(
            session, additions, owner_id=self.owner_id, universe_id=self.universe_id, add=items
        )
        return service.import_row_results(batch, results)

    async def summarize(self, total: int) -> dict[str, Any]:
        counts: Counter[str] = Counter()
        inline: list[dict[str, Any]] = []

        def visit(item: dict[str, Any]) -> None:
            counts[str(item.get("status"))] += 1
            if len(inline) < INLINE_RESULTS:
                inline.append({k: v for k, v in item.items() if k != "i"})

        await each_result(self.ctx, visit)
        async with self.ctx.transaction(readonly=True) as session:
            asset_count = await service.member_count(
                session, owner_id=self.owner_id, universe_id=self.universe_id
            )
        return {
            "universe_id": str(self.universe_id),
            "row_count": total,
            "counts": membership.count_statuses(counts.elements()).model_dump(),
            "asset_count": asset_count,
            "results": inline,
            "results_truncated": total > len(inline),
            "results_url": service.import_results_url(self.universe_id, self.ctx.operation_id),
        }


@job(service.IMPORT_KIND, queue="bulk_validation")
async def import_universe_csv(ctx: JobContext) -> dict[str, Any]:
    rows = csv_io.parse_members(await ctx.read_file(service.UPLOAD_FILE))
    return await _Import(ctx, rows).run()


@job(service.EXPORT_KIND, queue="maintenance")
async def export_universe_csv(ctx: JobContext) -> dict[str, Any]:
    owner_id = _owner(ctx)
    universe_id = uuid.UUID(str(ctx.params["universe_id"]))
    async with ctx.transaction() as session:
        name, text, rows = await service.export_csv(
            session, owner_id=owner_id, universe_id=universe_id
        )
        content = text.encode("utf-8")
        await ctx.write_file(session, service.EXPORT_FILE, content, "text/csv")
        await ctx.checkpoint(session, rows, rows, f"{rows} members exported")
    return {
        "universe_id": str(universe_id),
        "name": name,
        "row_count": rows,
        "bytes": len(content),
        "download_url": service.export_url(universe_id, ctx.operation_id),
    }


WATCH_EVERY = timedelta(minutes=5)


@job("watch_active_universes", queue="maintenance", every=WATCH_EVERY)
async def watch_active_universes(ctx: JobContext) -> dict[str, Any]:
    """Renew the background watches of active users' universes (held for three runs, so they
    lapse once their owners stop coming back)."""
    settings = ctx.resources.settings
    now = utcnow()
    refresh = (
        settings.market_background_refresh_active_seconds
        if activity.is_active()
        else settings.market_background_refresh_idle_seconds
    )
    async with ctx.transaction() as session:
        counts = await service.watch_active_universes(
            session,
            now=now,
            active_since=now - timedelta(hours=settings.market_active_user_hours),
            refresh_seconds=refresh,
            hold_seconds=3 * WATCH_EVERY.total_seconds(),
        )
    return {**counts, "refresh_seconds": refresh}
