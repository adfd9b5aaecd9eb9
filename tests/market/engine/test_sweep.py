"""The sweep: watched pairs queued just before they go stale (at the watcher's pace, at its
priority), fresh ones left alone, scheduled types on their schedule, nothing while the engine or a
type is off, expired leases recovered, and one turn at a time across processes (both engines)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import datatypes, watching
from quantdesk.market.engine import service, store, sweep
from quantdesk.market.engine.loops import SweepLoop
from quantdesk.market.engine.schemas import Fetched, RefreshItem, RetryPolicy
from quantdesk.market.schemas import DataTypeUpdate
from quantdesk.models import RefreshRequest
from tests.factories import Account
from tests.market.engine.support import claim, enqueue

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
POLICY = RetryPolicy()
TTLS = {"quote": 60, "profile": 86400}


async def _watch(
    db: Database,
    account: Account,
    pairs: list[tuple[str, str]],
    now: datetime = NOW,
    **kw: object,
) -> None:
    async with db.transaction(user_id=account.user.id) as session:
        await watching.watch(
            session, owner_id=account.user.id, client=f"api:{len(pairs)}:{kw}", pairs=pairs,
            now=now, seconds=600, **kw,  # type: ignore[arg-type]
        )  # fmt: skip


async def _store(db: Database, symbol: str | None, data_type: str, at: datetime) -> None:
    async with db.transaction(system=True) as session:
        await store.store_values(
            session,
            [Fetched(symbol, data_type, "sim", {"price": "1"}, fetched_at=at)],
            ttls={**TTLS, data_type: TTLS.get(data_type, 300)},
        )


async def _sweep(db: Database, *, now: datetime = NOW, horizon: float = 15) -> sweep.SweepResult:
    async with db.transaction(system=True) as session:
        return await sweep.sweep(session, now=now, horizon_seconds=horizon, policy=POLICY)


async def _queued(
    db: Database, *, scheduled: bool = False
) -> dict[tuple[str, str], RefreshRequest]:
    """Active rows by pair: of symbols, or (``scheduled``) of the scheduled types."""
    async with db.transaction(system=True, readonly=True) as session:
        rows = (await session.execute(select(RefreshRequest))).scalars().all()
    return {
        (r.symbol, r.data_type): r
        for r in rows
        if r.status in ("pending", "processing") and bool(r.symbol) != scheduled
    }


async def test_watched_pairs_are_queued_just_before_they_go_stale(
    edb: Database, alice: Account
) -> None:
    await _watch(edb, alice, [("AAPL", "quote"), ("MSFT", "quote"), ("NVDA", "quote")])
    await _store(edb, "MSFT", "quote", NOW - timedelta(seconds=10))  # fresh for 44 s more
    await _store(edb, "NVDA", "quote", NOW - timedelta(seconds=50))  # due 4 s from now
    found = await _sweep(edb)
    assert (found.watched, found.queued) == (3, 2)
    queued = await _queued(edb)
    assert set(queued) == {("AAPL", "quote"), ("NVDA", "quote")}
    assert queued[("AAPL", "quote")].run_at == NOW  # never fetched: due now
    # Fetched at -50 s, TTL 60, asked 6 s (a tenth) early: at +4 s, before it is stale at +10 s.
    assert queued[("NVDA", "quote")].run_at == NOW + timedelta(seconds=4)
    # A live watcher's pair outranks the type's default alone: live (100) + quote's (50).
    assert queued[("AAPL", "quote")].priority == watching.LIVE_PRIORITY + 50
    later = await _sweep(edb, now=NOW + timedelta(seconds=40))
    assert later.queued == 3  # MSFT falls due within the horizon; the others are re-upserted
    assert len(await _queued(edb)) == 3  # one active row per pair, however often swept


async def test_a_background_watcher_is_served_at_its_own_pace(
    edb: Database, alice: Account
) -> None:
    await _watch(
        edb, alice, [("AAPL", "quote")],
        priority=watching.BACKGROUND_PRIORITY, refresh_seconds=300,
    )  # fmt: skip
    await _store(edb, "AAPL", "quote", NOW - timedelta(seconds=120))  # stale by TTL, not by 300 s
    assert (await _sweep(edb)).queued == 0
    assert (await _sweep(edb, now=NOW + timedelta(seconds=140))).queued == 1
    (row,) = (await _queued(edb)).values()
    assert row.priority == watching.BACKGROUND_PRIORITY + 50


async def test_scheduled_types_are_queued_on_their_schedule(restore_registry: Database) -> None:
    db = restore_registry
    found = await _sweep(db)
    assert found.scheduled == 2  # never fetched: both due now
    queued = await _queued(db, scheduled=True)
    assert set(queued) == {("", "available-exchanges"), ("", "exchange-market-status")}
    async with db.transaction(system=True) as session:
        await service.complete(
            session, worker="nobody", now=NOW, ttls={},
            results=[
                Fetched(None, name, "sim", [], fetched_at=NOW, request_id=row.id)
                for (_, name), row in queued.items()
            ],
        )  # fmt: skip
    async with db.engine.begin() as connection:  # as if a worker had finished them
        await connection.execute(
            RefreshRequest.__table__.update().values(status="completed")  # type: ignore[attr-defined]
        )
    assert (await _sweep(db, now=NOW + timedelta(seconds=60))).scheduled == 0
    # exchange-market-status every 300 s (asked 30 s early); available-exchanges daily.
    assert (await _sweep(db, now=NOW + timedelta(seconds=260))).scheduled == 1
    assert set(await _queued(db, scheduled=True)) == {("", "exchange-market-status")}


async def test_nothing_is_queued_while_the_engine_or_the_type_is_off(
    restore_registry: Database, alice: Account
) -> None:
    db = restore_registry
    await _watch(db, alice, [("AAPL", "quote"), ("AAPL", "profile")])
    async with db.transaction(system=True) as session:
        await datatypes.set_engine(session, False, actor="test")
    assert (await _sweep(db)).queued == 0
    async with db.transaction(system=True) as session:
        await datatypes.set_engine(session, True, actor="test")
        await datatypes.update_type(session, "quote", DataTypeUpdate(enabled=False), actor="t")
    found = await _sweep(db)
    assert found.queued == 1
    assert set(await _queued(db)) == {("AAPL", "profile")}


async def test_the_sweep_recovers_rows_whose_worker_died(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("AAPL", "quote", 50)], NOW)
    (held,) = await claim(
        edb, now=NOW, routes={"quote": ["sim"]}, limits={}, worker="dead", lease_seconds=5
    )
    assert (await _sweep(edb, now=NOW + timedelta(seconds=4))).recovered == 0
    assert (await _sweep(edb, now=NOW + timedelta(seconds=6))).recovered == 1
    row = (await _queued(edb))[("AAPL", "quote")]
    assert (row.status, row.lease_owner, row.attempts) == ("pending", None, 1)
    assert held.id == row.id


async def test_one_sweep_turn_at_a_time_across_loops(edb: Database, alice: Account) -> None:
    # the loops sweep at the clock's now, so the watch must be alive then
    await _watch(edb, alice, [("AAPL", "quote")], now=utcnow())
    loops = [SweepLoop(edb, every_seconds=60, policy=POLICY) for _ in range(4)]
    for index, loop in enumerate(loops):
        loop.holder = f"process-{index}"
    await asyncio.gather(*(loop.run_once() for loop in loops))
    assert sum(loop.turns for loop in loops) == 1
    assert sum(1 for loop in loops if loop.last is not None and loop.last.queued == 1) == 1


async def test_types_no_configured_provider_serves_are_not_queued(
    restore_registry: Database, alice: Account
) -> None:
    """Without an FMP key, FMP's exchange lists and fundamentals could only fail, sweep after
    sweep: they are not queued; quotes (Yahoo serves them) are."""
    db = restore_registry
    await _watch(db, alice, [("AAPL", "quote"), ("AAPL", "financial-statements")])
    async with db.transaction(system=True) as session:
        found = await sweep.sweep(
            session, now=NOW, horizon_seconds=15, policy=POLICY, configured=["yahoo", "coingecko"]
        )
    assert (found.queued, found.scheduled) == (1, 0)
    assert set(await _queued(db)) == {("AAPL", "quote")}
    assert await _queued(db, scheduled=True) == {}
