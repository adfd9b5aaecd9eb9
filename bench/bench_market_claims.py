"""Refresh-queue claims per second on PostgreSQL (and SQLite) with many historical rows, beside a
raw SQL loop doing the least a database-backed queue can do.

Ours, per worker count (1, 2, 4, each its own connection): a loop of
``market.engine.service.claim_batch`` (the partial index read with FOR UPDATE SKIP LOCKED, the
ledger's check of a no-op provider with no limits, the rows marked processing) in one
transaction, then ``service.complete`` (rows completed, values stored) in another, until the
pending rows are gone. The floor: the same workers, each claiming with one ``UPDATE ... WHERE id
IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)`` and completing with one ``UPDATE``, in plain SQL,
no quota, no store. Both run over the same table: ``HISTORICAL`` completed rows and ``PENDING``
pending ones, reset between runs. Goal (issue 9): at least 2,400 claims/s on PostgreSQL and
0.7x the floor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from tests import pg

from bench.common import SMOKE, compare, fresh_sqlite_settings, size
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import upgrade
from quantdesk.market.engine import service
from quantdesk.market.engine.schemas import Fetched

HISTORICAL = size(1_000_000, 1_000)
PENDING = size(20_000, 200)
BATCH = 50
WORKERS = (1, 2, 4)
ROUTES = {"quote": ["noop"]}
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


_FILL = {
    "postgresql": (
        "INSERT INTO market_refresh_queue (symbol, data_type, provider, priority, status, "
        "attempts, run_at, created_at, updated_at) "
        "SELECT :prefix || i, 'quote', 'noop', i % 5, :status, 1, :at, :at, :at "
        "FROM generate_series(1, :n) AS g(i)"
    ),
    "sqlite": (
        "INSERT INTO market_refresh_queue (symbol, data_type, provider, priority, status, "
        "attempts, run_at, created_at, updated_at) "
        "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n) "
        "SELECT :prefix || i, 'quote', 'noop', i % 5, :status, 1, :at, :at, :at FROM g"
    ),
}


async def _fill(db: Database) -> None:
    """``HISTORICAL`` completed rows (a long past) and ``PENDING`` pending ones, then ANALYZE."""
    async with db.engine.begin() as connection:
        # SQLite: the text form SQLAlchemy writes (and compares with).
        at = T0.strftime("%Y-%m-%d %H:%M:%S.%f") if db.kind == "sqlite" else T0
        for prefix, status, count in (("H", "completed", HISTORICAL), ("P", "pending", PENDING)):
            await connection.execute(
                text(_FILL[db.kind]), {"n": count, "prefix": prefix, "status": status, "at": at}
            )
        await connection.execute(text("ANALYZE market_refresh_queue"))


async def _reset(db: Database) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE market_refresh_queue SET status = 'pending', lease_owner = NULL, "
                "lease_expires_at = NULL WHERE symbol LIKE 'P%'"
            )
        )
        await connection.execute(text("DELETE FROM market_values"))
        await connection.execute(text("DELETE FROM provider_calls"))


async def _ours(db: Database, worker: str) -> int:
    done = 0
    while True:
        async with db.transaction(system=True) as session:
            claimed = await service.claim_batch(
                session, worker=worker, limit=BATCH, now=T0, lease_seconds=60, routes=ROUTES,
                limits={},
            )  # fmt: skip
        if not claimed:
            return done
        async with db.transaction(system=True) as session:
            await service.complete(
                session, worker=worker, now=T0, ttls={"quote": 60},
                results=[Fetched(c.symbol, "quote", c.provider, None, T0, c.id) for c in claimed],
            )  # fmt: skip
        done += len(claimed)


_FLOOR_CLAIM = {
    "postgresql": (
        "UPDATE market_refresh_queue SET status = 'processing', lease_owner = :w, attempts = "
        "attempts + 1 WHERE id IN (SELECT id FROM market_refresh_queue WHERE status = 'pending' "
        "ORDER BY priority DESC, run_at LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING id"
    ),
    "sqlite": (
        "UPDATE market_refresh_queue SET status = 'processing', lease_owner = :w, attempts = "
        "attempts + 1 WHERE id IN (SELECT id FROM market_refresh_queue INDEXED BY "
        "ix_market_refresh_queue_pending_order WHERE status = 'pending' "
        "ORDER BY priority DESC, run_at LIMIT :n) RETURNING id"
    ),
}


_FLOOR_COMPLETE = text(
    "UPDATE market_refresh_queue SET status = 'completed', lease_owner = NULL WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))


async def _floor(db: Database, worker: str) -> int:
    claim_sql = text(_FLOOR_CLAIM[db.kind])
    done = 0
    while True:
        async with db.transaction(system=True) as session:
            ids = list((await session.execute(claim_sql, {"w": worker, "n": BATCH})).scalars())
        if not ids:
            return done
        async with db.transaction(system=True) as session:
            await session.execute(_FLOOR_COMPLETE, {"ids": ids})
        done += len(ids)


async def _rate(
    db: Database, loop: Callable[[Database, str], Awaitable[int]], workers: int
) -> float:
    await _reset(db)
    started = time.perf_counter()
    counts = await asyncio.gather(*(loop(db, f"w{i}") for i in range(workers)))
    elapsed = time.perf_counter() - started
    assert sum(counts) == PENDING, counts
    return PENDING / elapsed


async def _run(settings: Settings, label: str) -> None:
    db = Database(settings)
    try:
        started = time.perf_counter()
        await _fill(db)
        print(f"{label}: {HISTORICAL:,} historical + {PENDING:,} pending rows in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
        for workers in WORKERS:
            ours = await _rate(db, _ours, workers)
            floor = await _rate(db, _floor, workers)
            goal = 0.7 if label == "postgresql" and not SMOKE else None
            compare(
                f"{label} claims, {workers} worker(s)", ours, floor, "claims/s",
                baseline_label="raw SQL loop", higher_is_better=True, goal=goal,
            )  # fmt: skip
            if label == "postgresql" and not SMOKE:
                verdict = "met" if ours >= 2400 else "NOT MET"
                print(f"  goal >= 2,400 claims/s: {verdict}", flush=True)
    finally:
        await db.dispose()


def main() -> None:
    asyncio.run(_run(fresh_sqlite_settings(), "sqlite"))
    if pg.postgres_available():
        url, name = pg.create_database("qd_bench_claims")
        try:
            upgrade(url)
            settings = fresh_sqlite_settings().model_copy(update={"database_url": url})
            asyncio.run(_run(settings, "postgresql"))
        finally:
            pg.drop_database(name)
    elif pg.IN_CI:
        raise SystemExit("PostgreSQL is not reachable and CI=true")


if __name__ == "__main__":
    main()
