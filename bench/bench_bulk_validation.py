"""Bulk validation of 10,000 catalog symbols as a job (``bulk_validate_assets``): wall time and
peak memory.

In process, fresh SQLite with the full offline catalog loaded, the embedded provider default
(catalog + sim: every symbol is answered by the catalog layer, so this measures the job machinery
— 1,000 batches of 10, each its own transaction with a checkpoint, plus the per-symbol results
file — not provider latency). The operation is run by ``jobs.runner.run_operation`` directly, as
an executor's worker would.

Memory is reported two ways: ``tracemalloc`` peak (Python allocations made during the run; a
second run with tracing on, since tracing slows it) and the process's max RSS from
``resource.getrusage`` (a high-water mark of the whole process, catalog load included).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
import tracemalloc
import uuid

from sqlalchemy import select

from bench.common import fresh_sqlite_settings
from quantdesk.assets.catalog import load_catalog
from quantdesk.jobs.registry import load_task_modules
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.security import hash_password
from quantdesk.market import tasks as market_tasks
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import Asset, Operation, User

SYMBOLS = 10_000


def _max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


async def _request(
    settings: Settings, db: Database, owner: uuid.UUID, symbols: list[str]
) -> uuid.UUID:
    async with db.transaction(user_id=owner) as session:
        operation = await market_tasks.request_bulk_validation(
            session, settings=settings, owner_id=owner, symbols=symbols
        )
        return operation.id


async def _run_once(
    settings: Settings, db: Database, owner: uuid.UUID, symbols: list[str]
) -> tuple[float, Operation]:
    runtime = MarketRuntime(settings)  # a cold cache each run
    resources = JobResources(settings, db=db, market=runtime)
    try:
        operation_id = await _request(settings, db, owner, symbols)
        started = time.perf_counter()
        outcome = await run_operation(resources, operation_id, worker_id="bench")
        elapsed = time.perf_counter() - started
    finally:
        await resources.aclose()
        await runtime.aclose()
    assert outcome == "succeeded", outcome
    async with db.transaction() as session:
        found = await session.get(Operation, operation_id)
    assert found is not None
    return elapsed, found


async def _run(settings: Settings) -> None:
    load_task_modules()
    db = Database(settings)
    try:
        report = await load_catalog(db)
        async with db.transaction() as session:
            symbols = list(
                (
                    await session.execute(
                        select(Asset.symbol).order_by(Asset.symbol).limit(SYMBOLS)
                    )
                ).scalars()
            )
            user = User(email="bench@example.com", password_hash=hash_password("x" * 12))
            session.add(user)
            await session.flush()
            owner = user.id
        print(f"catalog: {report.created} assets; validating {len(symbols)} of them as a job")
        rss_before = _max_rss_mib()

        elapsed, operation = await _run_once(settings, db, owner, symbols)
        result = operation.result or {}
        print(
            f"wall time: {elapsed:.2f} s ({len(symbols) / elapsed:,.0f} symbols/s, "
            f"{elapsed / (len(symbols) / 10) * 1000:.2f} ms per batch of 10); "
            f"counts {result.get('counts')}; progress {operation.progress_done}/"
            f"{operation.progress_total}"
        )
        print(f"max RSS (process): {rss_before:.0f} MiB before the job, {_max_rss_mib():.0f} after")

        tracemalloc.start()
        traced, _ = await _run_once(settings, db, owner, symbols)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"tracemalloc peak during the job: {peak / (1024 * 1024):.1f} MiB "
            f"(traced run: {traced:.2f} s)"
        )
    finally:
        await db.dispose()


def main() -> None:
    asyncio.run(_run(fresh_sqlite_settings()))


if __name__ == "__main__":
    main()
