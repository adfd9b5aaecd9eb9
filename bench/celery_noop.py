"""Worker-side half of bench_jobs_celery (``QUANTDESK_CELERY_CONFIG=bench.celery_noop``).

Registers the no-op job kind (our path: claim, run, record) and a bare Celery no-op task (the same
broker and worker settings, nothing else), so the ratio of the two is our overhead.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job

NOOP_KIND = "bench_noop"
BARE_TASK = "bench.bare_noop"


@job(NOOP_KIND)
async def _bench_noop(ctx: JobContext) -> dict[str, Any] | None:
    return None


def _bare_noop() -> None:
    return None


shared_task(name=BARE_TASK, ignore_result=True)(_bare_noop)
