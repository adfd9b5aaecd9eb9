"""Periodic maintenance of the jobs machinery itself.

- ``cleanup_expired`` (every 6 h): deletes finished operations (succeeded, failed, cancelled) that
  finished more than ``operations_retention_days`` ago, with their files and per-item results
  (rows of their own, deleted with them).

Every domain's jobs live with their domain (``<domain>/tasks.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quantdesk.jobs import service
from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job
from quantdesk.kit.orm import utcnow

# Deleted per transaction, so one run never holds a huge delete (and its locks) at once.
DELETE_CHUNK = 500


@job("cleanup_expired", queue="maintenance", every=timedelta(hours=6))
async def cleanup_expired(ctx: JobContext) -> dict[str, Any]:
    cutoff = utcnow() - timedelta(days=ctx.resources.settings.operations_retention_days)
    deleted = 0
    while True:
        async with ctx.transaction() as session:
            count = await service.delete_expired(
                session, before=cutoff, keep=ctx.operation_id, limit=DELETE_CHUNK
            )
        deleted += count
        if count < DELETE_CHUNK:
            return {"operations_deleted": deleted}
