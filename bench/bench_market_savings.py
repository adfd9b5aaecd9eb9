"""Provider calls the engine saves by watching (one refresh per watched pair, whoever watches it)
and by batching (many symbols in one call where the API takes them), over 10 simulated minutes,
beside a naive poll of the same watched set: every watcher asks for each of its pairs, one symbol
per call, every time the value's TTL runs out (a dashboard polling per widget).

The engine is the real one: ``market.engine.sweep`` and ``Refresher`` rounds on SQLite with the
simulated provider, on a simulated clock stepped every ``STEP`` seconds. Freshness is checked at
every step (the share of watched pairs whose stored value is within its TTL), so calls are not
saved by letting data go stale. The naive count is arithmetic on the same watched set.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench.common import SMOKE, compare, fresh_sqlite_settings, size
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market import datatypes, watching
from quantdesk.market.engine import store, sweep
from quantdesk.market.engine.refresher import Refresher
from quantdesk.market.engine.schemas import RetryPolicy
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import User

USERS = size(200, 5)
SYMBOLS = size(400, 20)  # the pool the users' watch lists are drawn from (they overlap)
PER_USER = size(25, 5)  # quotes and profiles of this many symbols per user
TYPES = ("quote", "profile")
MINUTES = size(10, 2)
STEP = 5  # seconds of simulated time per tick
T0 = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)


async def _watch_lists(db: Database) -> list[list[str]]:
    rng = random.Random(7)
    pool = [f"SAV{n:04d}" for n in range(SYMBOLS)]
    ids = [uuid.uuid4() for _ in range(USERS)]
    async with db.transaction(system=True) as session:
        await session.execute(
            insert(User),
            [
                {"id": i, "email": f"saver{n}@example.com", "password_hash": "x"}
                for n, i in enumerate(ids)
            ],
        )
    # Popular symbols are on many lists (a Zipf-like draw, as real watch lists are).
    weights = [1 / (rank + 1) for rank in range(SYMBOLS)]
    lists = []
    for user_id in ids:
        chosen: list[str] = []
        while len(chosen) < PER_USER:
            symbol = rng.choices(pool, weights)[0]
            if symbol not in chosen:
                chosen.append(symbol)
        lists.append(chosen)
        async with db.transaction(user_id=user_id) as session:
            await watching.watch(
                session, owner_id=user_id, client="api", now=T0, seconds=MINUTES * 60 + 60,
                pairs=[(s, t) for s in chosen for t in TYPES],
            )  # fmt: skip
    return lists


def _naive_calls(lists: list[list[str]], ttls: dict[str, int]) -> int:
    """Each watcher polls each pair itself, one symbol per call, whenever its copy expires."""
    seconds = MINUTES * 60
    per_pair = {t: -(-seconds // ttls[t]) for t in TYPES}  # ceil: the first load, then each TTL
    return sum(per_pair[t] for chosen in lists for _ in chosen for t in TYPES)


async def _fresh_share(
    db: Database, pairs: list[tuple[str, str]], ttls: dict[str, int], now: datetime
) -> float:
    async with db.transaction(system=True, readonly=True) as session:
        values = await store.read_values(session, pairs, ttls=ttls, now=now)
    return sum(not v.stale for v in values) / len(values)


async def run(settings: Settings) -> None:
    db = Database(settings)
    runtime = MarketRuntime(settings, db=db)
    try:
        async with db.transaction(system=True, readonly=True) as session:
            ttls = {t.name: t.ttl_seconds for t in await datatypes.list_types(session)}
        lists = await _watch_lists(db)
        pairs = sorted({(s, t) for chosen in lists for s in chosen for t in TYPES})
        clock = [T0]
        refresher = Refresher(db, runtime, None, batch=200, clock=lambda: clock[0])
        calls = rows = 0
        fresh: list[float] = []
        for tick in range(MINUTES * 60 // STEP):
            clock[0] = T0 + timedelta(seconds=tick * STEP)
            async with db.transaction(system=True) as session:
                await sweep.sweep(session, now=clock[0], horizon_seconds=STEP, policy=RetryPolicy())
            while True:
                done = await refresher.run_round()
                calls += done.calls
                rows += done.completed
                if done.claimed == 0:
                    break
            if tick > 0:  # after the first fetch of everything
                fresh.append(await _fresh_share(db, pairs, ttls, clock[0]))
        naive = _naive_calls(lists, ttls)
        watchers = sum(len(chosen) for chosen in lists) * len(TYPES)
        print(
            f"{USERS} watchers, {watchers:,} watched (watcher, symbol, type), {len(pairs):,} "
            f"distinct pairs, {MINUTES} simulated minutes",
            flush=True,
        )
        print(f"refreshes (rows completed): {rows:,}; provider calls: {calls:,}", flush=True)
        print(
            f"watched pairs fresh at each {STEP} s check: min {min(fresh):.1%}, "
            f"mean {sum(fresh) / len(fresh):.1%}",
            flush=True,
        )
        compare(
            "calls saved by watching alone (one refresh per pair)", naive / rows, 1.0, "x",
            baseline_label="naive per-watcher poll", higher_is_better=True,
        )  # fmt: skip
        compare(
            "provider calls, engine vs naive per-symbol poll", calls, naive, "calls",
            baseline_label="naive per-watcher, per-symbol poll", higher_is_better=False,
        )  # fmt: skip
        if not SMOKE and min(fresh) < 0.99:
            raise SystemExit("the engine let watched pairs go stale: the savings do not count")
    finally:
        await runtime.aclose()
        await db.dispose()


def main() -> None:
    asyncio.run(run(fresh_sqlite_settings()))  # migrated before the loop starts


if __name__ == "__main__":
    main()
