"""The queue under concurrency, on SQLite and PostgreSQL: concurrent enqueuers keep one row per
pair with the highest priority asked; concurrent claimers (connections of one process, then four
OS processes) never take a row twice nor spend more than a provider's per-minute limit over any
60 s span or its per-day limit. Clocks are injected: waves of claims at simulated times."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market.engine import repository, service
from quantdesk.market.engine.schemas import Fetched, RefreshItem
from quantdesk.market.quota import Limits
from tests.market.engine.support import busiest_minute, claim, debits, enqueue

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
ROUTES = {"quote": ["fmp"]}
PER_MINUTE, PER_DAY = 5, 12
LIMITS = {"fmp": Limits(per_minute=PER_MINUTE, per_day=PER_DAY)}
# Claim waves every 15 s over 4 simulated minutes: the minute window refills 3 times, so only
# the day's limit stops the claims.
WAVES = [T0 + timedelta(seconds=15 * k) for k in range(17)]


async def test_concurrent_enqueuers_keep_one_row_per_pair_at_the_highest_priority(
    edb: Database,
) -> None:
    symbols = [f"S{i:02}" for i in range(40)]

    async def enqueuer(priority: int) -> None:
        items = [RefreshItem(s, "quote", priority=priority) for s in symbols]
        random.Random(priority).shuffle(items)
        for chunk in (items[:20], items[20:]):  # two transactions each, interleaving
            await enqueue(edb, chunk, T0 + timedelta(seconds=priority))

    await asyncio.gather(*(enqueuer(p) for p in range(8)))
    async with edb.transaction(system=True, readonly=True) as session:
        rows = await repository.active_requests(session)
    assert sorted(r.symbol for r in rows) == symbols
    assert {r.priority for r in rows} == {7}
    assert {r.run_at for r in rows} == {T0}  # the earliest asked


async def test_enqueuers_racing_claims_and_completions_never_collide(edb: Database) -> None:
    symbols = [f"R{i:02}" for i in range(15)]
    open_limits = {"fmp": Limits(per_minute=10_000, per_day=None)}

    async def enqueuer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(10):
            await enqueue(
                edb, [RefreshItem(s, "quote", priority=rng.randint(0, 9)) for s in symbols], T0
            )

    async def worker(name: str) -> int:
        done = 0
        for _ in range(10):
            claimed = await claim(edb, now=T0, routes=ROUTES, limits=open_limits, worker=name)
            async with edb.transaction(system=True) as session:
                ours = await service.complete(
                    session, worker=name, now=T0, ttls={"quote": 60},
                    results=[Fetched(c.symbol, "quote", "fmp", None, T0, c.id) for c in claimed],
                )  # fmt: skip
            done += len(ours)
        return done

    results = await asyncio.gather(
        *(enqueuer(seed) for seed in range(4)), *(worker(f"w{i}") for i in range(3))
    )
    completed = sum(r for r in results if isinstance(r, int))
    async with edb.transaction(system=True, readonly=True) as session:
        active = await repository.active_requests(session)
        depth = await repository.depth(session)
    pairs = [(r.symbol, r.data_type) for r in active]
    assert len(pairs) == len(set(pairs))  # at most one pending or processing row per pair
    assert completed == sum(n for status, _, _, n in depth if status == "completed")


async def test_concurrent_claimers_never_take_a_row_twice_nor_exceed_the_quota(
    edb: Database,
) -> None:
    await enqueue(edb, [RefreshItem(f"C{i:02}", "quote") for i in range(60)], T0)
    taken: list[int] = []
    for now in WAVES:
        waves = await asyncio.gather(
            *(claim(edb, now=now, routes=ROUTES, limits=LIMITS, worker=f"w{i}", limit=3)
              for i in range(8))
        )  # fmt: skip
        taken.extend(c.id for wave in waves for c in wave)
    assert len(taken) == len(set(taken)) == PER_DAY
    spent = await debits(edb, "fmp")
    assert sum(calls for _, calls in spent) == PER_DAY
    assert busiest_minute(spent) == PER_MINUTE


def _claim_in_process(url: str, barrier: Any) -> list[int]:
    """One OS process: at each wave, 3 claims at once on their own connections; the ids taken.
    Every process starts each wave together (``barrier``), so simulated time moves as one."""

    async def run() -> list[int]:
        db = Database(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
        taken: list[int] = []
        try:
            for now in WAVES:
                await asyncio.to_thread(barrier.wait, 60)
                waves = await asyncio.gather(
                    *(claim(db, now=now, routes=ROUTES, limits=LIMITS, worker=f"p{i}", limit=2)
                      for i in range(3))
                )  # fmt: skip
                taken.extend(c.id for wave in waves for c in wave)
        finally:
            await db.dispose()
        return taken

    return asyncio.run(run())


async def test_four_processes_claiming_never_exceed_the_quota(
    edb: Database, settings: Settings
) -> None:
    await enqueue(edb, [RefreshItem(f"P{i:02}", "quote") for i in range(60)], T0)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, context.Pool(4) as pool:
        barrier = manager.Barrier(4)
        results = [
            pool.apply_async(_claim_in_process, (settings.resolved_database_url, barrier))
            for _ in range(4)
        ]
        taken = [i for r in results for i in await asyncio.to_thread(r.get, 120)]
    assert len(taken) == len(set(taken)) == PER_DAY
    spent = await debits(edb, "fmp")
    assert sum(calls for _, calls in spent) == PER_DAY
    assert busiest_minute(spent) == PER_MINUTE
