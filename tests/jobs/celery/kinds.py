"""Job kinds of the Celery tests (imported by test workers through ``worker_config``)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job

EFFECTS_TABLE = "celery_test_effects"
CREATE_EFFECTS = (
    f"CREATE TABLE IF NOT EXISTS {EFFECTS_TABLE} "
    "(operation_id VARCHAR(36) NOT NULL, item INTEGER NOT NULL, worker VARCHAR(200) NOT NULL)"
)


@job("test_celery_items", queue="bulk_validation")
async def apply_items(ctx: JobContext) -> dict[str, Any] | None:
    """Apply one effect per item, each committed with its checkpoint; pause between items.

    A run that dies between two items leaves exactly the committed ones; the next run resumes
    from the checkpoint, so every item's effect exists once.
    """
    total = int(ctx.params["items"])
    pause = float(ctx.params.get("pause", 0))
    for item in range(ctx.resume_from, total):
        async with ctx.transaction() as session:
            await session.execute(
                text(
                    f"INSERT INTO {EFFECTS_TABLE} (operation_id, item, worker) "
                    "VALUES (:operation_id, :item, :worker)"
                ),
                {"operation_id": str(ctx.operation_id), "item": item, "worker": ctx.worker_id},
            )
            await ctx.checkpoint(session, item + 1, total, f"item {item + 1} of {total}")
        await asyncio.sleep(pause)
    return {"items": total, "resumed_from": ctx.resume_from, "worker": ctx.worker_id}
