"""The hourly ``trim_refresh_queue`` job: finished rows past the retention go, in batches of
short transactions; recent, pending and processing rows stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import tasks as market_tasks
from quantdesk.models import RefreshRequest
from tests.jobs.tasks_support import (
    clean_jobs,
    job_resources,
    operation_row,
    paused_executor,
    request,
    run,
)

__all__ = ["clean_jobs", "paused_executor"]  # fixtures, imported to be found by pytest


@pytest.mark.usefixtures("paused_executor")
async def test_the_job_trims_old_finished_rows_in_batches(
    app: FastAPI, edb: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(market_tasks, "TRIM_BATCH", 3)
    now = utcnow()
    retention = timedelta(hours=app.state.settings.market_refresh_retention_hours)
    old, recent = now - retention - timedelta(minutes=5), now - timedelta(minutes=5)

    def row(symbol: str, status: str, at: object) -> dict[str, object]:
        return {
            "symbol": symbol, "data_type": "quote", "priority": 0, "status": status,
            "attempts": 1, "run_at": at, "created_at": at, "updated_at": at,
        }  # fmt: skip

    rows = [row(f"OLD{i}", "completed" if i % 2 else "failed", old) for i in range(7)]
    rows += [row("RECENT", "completed", recent), row("WAITING", "pending", old)]
    rows += [row("RUNNING", "processing", old)]
    async with edb.transaction(system=True) as session:
        await session.execute(insert(RefreshRequest), rows)

    trim = await request(edb, kind="trim_refresh_queue", owner_id=None, params={})
    async with job_resources(app) as res:
        assert await run(res, trim) == "succeeded"
    assert (await operation_row(edb, trim)).result == {"trimmed": 7}  # 3 + 3 + 1
    async with edb.transaction(system=True, readonly=True) as session:
        left = set((await session.execute(select(RefreshRequest.symbol))).scalars())
    assert left == {"RECENT", "WAITING", "RUNNING"}
