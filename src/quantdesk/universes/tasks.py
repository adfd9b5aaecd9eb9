"""Background jobs of universes: CSV import and export.

Import: the request checks the file (a bad file is a 422 at once) and the universe, saves the
upload at ``<export_dir>/uploads/<operation id>.csv`` and asks for ``import_universe_csv``. The
job adds the rows in chunks of ``IMPORT_CHUNK`` through the same membership code as
``add_assets_to_universe``; each chunk's changes and its checkpoint commit together, so a retried
run resumes after the last committed chunk. As with the synchronous import, the valid rows are
added and the others reported: a file is not all or nothing. Per-row results go to a JSON-lines
file; the result keeps counts, the first ``INLINE_RESULTS`` rows and a link to the full list.

Export: ``export_universe_csv`` renders the members (``csv_io``) to
``<export_dir>/universes/<operation id>.csv``; the result links to the owner-only download.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

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
from quantdesk.models import Operation, OperationStatus
from quantdesk.universes import csv_io, membership, repository, service
from quantdesk.universes.errors import UniverseNotFound
from quantdesk.universes.schemas import ImportRowResult

IMPORT_CHUNK = 1000
INLINE_RESULTS = 1000
UPLOADS_AREA = "uploads"
IMPORTS_AREA = "imports"
EXPORTS_AREA = "universes"
API_PREFIX = "/api/v1/universes"


def upload_path(settings: Settings, operation_id: uuid.UUID) -> Path:
    return operation_file(settings, UPLOADS_AREA, operation_id, ".csv")


def import_results_path(settings: Settings, operation_id: uuid.UUID) -> Path:
    return operation_file(settings, IMPORTS_AREA, operation_id, RESULTS_SUFFIX)


def export_path(settings: Settings, operation_id: uuid.UUID) -> Path:
    return operation_file(settings, EXPORTS_AREA, operation_id, ".csv")


def export_url(universe_id: uuid.UUID, operation_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/{universe_id}/exports/{operation_id}"


def import_results_url(universe_id: uuid.UUID, operation_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/{universe_id}/imports/{operation_id}/results"


IMPORT_KIND = "import_universe_csv"
EXPORT_KIND = "export_universe_csv"


class JobFileNotFound(NotFound):
    code = "job_file_not_found"
    message = "No such file: unknown operation, another universe's, or expired"


class JobNotFinished(Conflict):
    code = "operation_not_finished"
    message = "The operation has not succeeded (yet): its file does not exist"


# --- Asked by the endpoints -------------------------------------------------------------------


async def _ensure_owned(session: AsyncSession, owner_id: uuid.UUID, universe_id: uuid.UUID) -> None:
    if await repository.get_universe(session, owner_id=owner_id, universe_id=universe_id) is None:
        raise UniverseNotFound()


async def request_import(
    session: AsyncSession,
    *,
    settings: Settings,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    content: bytes,
) -> Operation:
    """Check the file (422 now, not a failed job later) and the universe, save the upload, and
    ask for the import job (sent once the request's transaction commits)."""
    csv_io.parse_members(content)
    await _ensure_owned(session, owner_id, universe_id)
    operation = await jobs_service.request_job(
        session, kind=IMPORT_KIND, owner_id=owner_id, params={"universe_id": str(universe_id)}
    )
    # Written before the commit, so the job always finds it; a rolled-back request leaves an
    # orphan file that cleanup_expired removes after the retention period.
    write_atomically(upload_path(settings, operation.id), content)
    return operation


async def request_export(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> Operation:
    await _ensure_owned(session, owner_id, universe_id)
    return await jobs_service.request_job(
        session, kind=EXPORT_KIND, owner_id=owner_id, params={"universe_id": str(universe_id)}
    )


async def finished_file(
    session: AsyncSession,
    *,
    settings: Settings,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    operation_id: uuid.UUID,
    kind: str,
) -> tuple[Operation, Path]:
    """The file a succeeded import/export of this owner's universe wrote; 404 for anyone else."""
    try:
        operation = await jobs_service.get_operation(
            session, owner_id=owner_id, operation_id=operation_id
        )
    except NotFound:
        raise JobFileNotFound() from None
    if operation.kind != kind or operation.params.get("universe_id") != str(universe_id):
        raise JobFileNotFound()
    if operation.status != OperationStatus.SUCCEEDED:
        raise JobNotFinished(next_actions=["get_operation"])
    path = (
        export_path(settings, operation.id)
        if kind == EXPORT_KIND
        else import_results_path(settings, operation.id)
    )
    if not path.is_file():
        raise JobFileNotFound()
    return operation, path


# --- The jobs ---------------------------------------------------------------------------------


def _owner(ctx: JobContext) -> uuid.UUID:
    if ctx.owner_id is None:
        raise ValueError(f"{ctx.kind} needs an owner")
    return ctx.owner_id


@job(IMPORT_KIND, queue="bulk_validation")
async def import_universe_csv(ctx: JobContext) -> dict[str, Any]:
    owner_id = _owner(ctx)
    universe_id = uuid.UUID(str(ctx.params["universe_id"]))
    settings = ctx.resources.settings
    rows = csv_io.parse_members(upload_path(settings, ctx.operation_id).read_bytes())
    total = len(rows)
    results_path = import_results_path(settings, ctx.operation_id)
    start = min(max(ctx.resume_from, 0), total)
    keep_first(results_path, start)
    with results_path.open("a", encoding="utf-8") as out:
        for begin in range(start, total, IMPORT_CHUNK):
            await ctx.check_cancelled()
            chunk = rows[begin : begin + IMPORT_CHUNK]
            items = [membership.AddItem(row.symbol, row.metadata) for row in chunk]
            async with ctx.transaction() as session:
                to_add = await membership.prepare_additions(
                    session,
                    owner_id=owner_id,
                    universe_id=universe_id,
                    add=items,
                    market=ctx.resources.market,
                )
                now = utcnow()
                universe = await membership.lock_universe(
                    session, owner_id=owner_id, universe_id=universe_id, now=now
                )
                results, _ = await membership.apply_changes(
                    session, universe=universe, add=items, remove=[], now=now, to_add=to_add
                )
                out.write(
                    "".join(
                        result_line(
                            begin + j,
                            ImportRowResult(
                                row=row.row,
                                input=csv_io.echo(row.symbol),
                                symbol=result.symbol,
                                status=result.status,
                                reason=result.reason,
                            ).model_dump(mode="json"),
                        )
                        for j, (row, result) in enumerate(zip(chunk, results, strict=True))
                    )
                )
                out.flush()
                done = begin + len(chunk)
                await ctx.checkpoint(session, done, total, f"{done} of {total} rows imported")
    return await _import_summary(ctx, owner_id, universe_id, total)


async def _import_summary(
    ctx: JobContext, owner_id: uuid.UUID, universe_id: uuid.UUID, total: int
) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    inline: list[dict[str, Any]] = []
    for item in read_results(import_results_path(ctx.resources.settings, ctx.operation_id)):
        counts[str(item.get("status"))] += 1
        if len(inline) < INLINE_RESULTS:
            inline.append({k: v for k, v in item.items() if k != "i"})
    async with ctx.transaction() as session:
        asset_count = await repository.count_members(
            session, owner_id=owner_id, universe_id=universe_id
        )
    return {
        "universe_id": str(universe_id),
        "row_count": total,
        "counts": membership.count_statuses(counts.elements()).model_dump(),
        "asset_count": asset_count,
        "results": inline,
        "results_truncated": total > len(inline),
        "results_url": import_results_url(universe_id, ctx.operation_id),
    }


@job(EXPORT_KIND, queue="maintenance")
async def export_universe_csv(ctx: JobContext) -> dict[str, Any]:
    owner_id = _owner(ctx)
    universe_id = uuid.UUID(str(ctx.params["universe_id"]))
    async with ctx.transaction() as session:
        detail = await service.get_universe_detail(
            session, owner_id=owner_id, universe_id=universe_id
        )
    content = csv_io.render_members(detail.assets).encode("utf-8")
    write_atomically(export_path(ctx.resources.settings, ctx.operation_id), content)
    return {
        "universe_id": str(universe_id),
        "name": detail.name,
        "row_count": len(detail.assets),
        "bytes": len(content),
        "download_url": export_url(universe_id, ctx.operation_id),
    }
