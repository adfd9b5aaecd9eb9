"""Bulk validation of 10,000 catalog symbols as a job (``bulk_validate_assets``), beside the
same validations without the job machinery; and its memory.

In process, fresh SQLite with the full offline catalog loaded, the embedded provider default
(catalog + sim: every symbol is answered by the catalog layer, so this measures the job machinery
— 1,000 batches of 10, each its own transaction with a checkpoint and its per-symbol result rows —
not provider latency). The operation is run by ``jobs.runner.run_operation`` directly, as an
executor's worker would. The floor: the same 1,000 batches through ``market.validation.validate``
with no job around them (a cold cache each run, as for the job).

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

from bench.common import SMOKE, compare, fresh_sqlite_settings, size
from quantdesk import domains
from quantdesk.assets.catalog import CatalogSources, load_catalog
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.security import hash_password
from quantdesk.market import service as market_service
from quantdesk.market import validation
from quantdesk.market.runtime import MARKET, MarketRuntime
from quantdesk.models import Asset, Operation, User

SYMBOLS = size(10_000, 100)
BATCH = 10


def _max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


async def _request(db: Database, owner: uuid.UUID, symbols: list[str]) -> uuid.UUID:
    async with db.transaction(user_id=owner) as session:
        operation = await market_service.request_bulk_validation(
            session, owner_id=owner, symbols=symbols
        )
        return operation.id


async def _run_once(
    settings: Settings, db: Database, owner: uuid.UUID, symbols: list[str]
) -> tuple[float, Operation]:
    runtime = MarketRuntime(settings)  # a cold cache each run
    resources = JobResources(settings, db=db)
    resources.provide(MARKET, runtime)
    try:
        operation_id = await _request(db, owner, symbols)
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


async def _floor(settings: Settings, db: Database, symbols: list[str]) -> float:
    """The same batches through the strategy, no job around them."""
    runtime = MarketRuntime(settings)
    try:
        started = time.perf_counter()
        for begin in range(0, len(symbols), BATCH):
            await validation.validate(db, runtime, symbols[begin : begin + BATCH])
        return time.perf_counter() - started
    finally:
        await runtime.aclose()


async def _run(settings: Settings) -> None:
    domains.register()
    db = Database(settings)
    try:
        # Smoke: a small slice (Iceland's stocks and the currencies) instead of every listing.
        sources = (
            CatalogSources(stock_countries=("iceland",), etfs=False, index_quotes=False, indices=())
            if SMOKE
            else CatalogSources()
        )
        report = await load_catalog(db, sources=sources)
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

        floor = await _floor(settings, db, symbols)
        elapsed, operation = await _run_once(settings, db, owner, symbols)
        result = operation.result or {}
        print(
            f"counts {result.get('counts')}; progress {operation.progress_done}/"
            f"{operation.progress_total}"
        )
        compare(
            f"{len(symbols)} symbols as a job",
            len(symbols) / elapsed,
            len(symbols) / floor,
            "symbols/s",
            baseline_label="the same batches, no job",
            higher_is_better=True,
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
