"""Periodic maintenance of the jobs machinery itself (see ``jobs.schedule`` for how often).

- ``cleanup_expired``: deletes finished operations (succeeded, failed, cancelled) that finished
  more than ``operations_retention_days`` ago, with their progress (columns of the row) and their
  files (``jobs.files``: exports, uploads, per-item results). Files whose operation no longer
  exists (an upload whose request rolled back, a row deleted earlier) go once they are as old.

``refresh_stale_validations`` is market data's job and lives with its domain
(``quantdesk.market.tasks``), like every domain's jobs; the schedule names both.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.files import export_root
from quantdesk.jobs.registry import job
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation
from quantdesk.models.operation import OperationStatus

# Deleted per statement, so one run never holds a huge delete (and its locks) at once.
DELETE_CHUNK = 500


def _operation_id(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name.split(".", 1)[0])
    except ValueError:
        return None


@job("cleanup_expired", queue="maintenance")
async def cleanup_expired(ctx: JobContext) -> dict[str, Any]:
    settings = ctx.resources.settings
    cutoff = utcnow() - timedelta(days=settings.operations_retention_days)
    deleted = 0
    while True:
        async with ctx.transaction() as session:
            ids = list(
                (
                    await session.execute(
                        select(Operation.id)
                        .where(
                            Operation.status.in_(OperationStatus.FINISHED),
                            Operation.finished_at < cutoff,
                            Operation.id != ctx.operation_id,
                        )
                        .limit(DELETE_CHUNK)
                    )
                ).scalars()
            )
            if ids:
                await session.execute(delete(Operation).where(Operation.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < DELETE_CHUNK:
            break
    files = await _remove_expired_files(ctx, cutoff)
    return {"operations_deleted": deleted, "files_deleted": files}


async def _remove_expired_files(ctx: JobContext, cutoff: datetime) -> int:
    root = export_root(ctx.resources.settings)
    if not root.is_dir():
        return 0
    candidates: dict[uuid.UUID, list[Any]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        operation_id = _operation_id(path.name)
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        if operation_id is not None and modified < cutoff:
            candidates.setdefault(operation_id, []).append(path)
    if not candidates:
        return 0
    async with ctx.transaction() as session:
        alive = set(
            (
                await session.execute(
                    select(Operation.id).where(Operation.id.in_(list(candidates)))
                )
            ).scalars()
        )
    removed = 0
    for operation_id, paths in candidates.items():
        if operation_id in alive:  # still listed (e.g. running a long time): keep its files
            continue
        for path in paths:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
