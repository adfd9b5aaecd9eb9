"""The refresh queue on SQLite and PostgreSQL: one active row per pair, claims in priority order
under the providers' quota (fallbacks, batches, postponement), completion into the store, failure
with back-off, refusals, lease recovery and trimming."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from quantdesk.kit.db import Database
from quantdesk.market import datatypes, quota
from quantdesk.market.engine import repository, service, store
from quantdesk.market.engine.schemas import Fetched, RefreshItem, RetryPolicy
from quantdesk.market.quota import Limits
from quantdesk.market.schemas import DataTypeUpdate
from quantdesk.models import RefreshRequest, RefreshStatus
from tests.market.engine.support import claim, debits, enqueue

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
QUOTES = {"quote": ["fmp", "sim"], "profile": ["fmp"]}
OPEN = {"fmp": Limits(per_minute=100, per_day=None)}
TTLS = {"quote": 60, "profile": 86400}
POLICY = RetryPolicy(base_seconds=10, cap_seconds=100, max_attempts=3)


async def _active(db: Database) -> list[RefreshRequest]:
    async with db.transaction(system=True, readonly=True) as session:
        return list(await repository.active_requests(session))


async def test_queueing_again_raises_priority_and_brings_the_call_forward(edb: Database) -> None:
    await enqueue(
        edb, [RefreshItem("AAPL", "quote", priority=5, run_at=T0 + timedelta(minutes=5))], T0
    )
    await enqueue(
        edb,
        [
            RefreshItem("AAPL", "quote", priority=1, run_at=T0 + timedelta(minutes=9)),
            RefreshItem("AAPL", "quote", priority=9, run_at=T0 + timedelta(minutes=7)),
            RefreshItem(None, "available-exchanges", priority=2),
        ],
        T0 + timedelta(seconds=1),
    )
    await enqueue(
        edb, [RefreshItem("AAPL", "quote", priority=3, run_at=T0 + timedelta(minutes=1))], T0
    )
    rows = {(r.symbol, r.data_type): r for r in await _active(edb)}
    assert set(rows) == {("AAPL", "quote"), ("", "available-exchanges")}
    aapl = rows[("AAPL", "quote")]
    assert (aapl.priority, aapl.run_at) == (
        9,
        T0 + timedelta(minutes=1),
    )  # never lowered, never later
    assert rows[("", "available-exchanges")].run_at == T0 + timedelta(seconds=1)


async def test_the_database_itself_refuses_a_second_active_row(edb: Database) -> None:
    row = {
        "symbol": "AAPL", "data_type": "quote", "priority": 0, "status": RefreshStatus.PENDING,
        "attempts": 0, "run_at": T0, "created_at": T0, "updated_at": T0,
    }  # fmt: skip
    async with edb.transaction(system=True) as session:
        await session.execute(insert(RefreshRequest), [row, {**row, "status": "completed"}])
    with pytest.raises(IntegrityError):
        async with edb.transaction(system=True) as session:
            await session.execute(insert(RefreshRequest), [{**row, "status": "processing"}])


async def test_claims_take_due_rows_by_priority_and_debit_the_quota(edb: Database) -> None:
    await enqueue(
        edb,
        [
            RefreshItem("AAPL", "quote", priority=1),
            RefreshItem("MSFT", "quote", priority=5),
            RefreshItem("NVDA", "profile", priority=3),
            RefreshItem("LATER", "quote", priority=99, run_at=T0 + timedelta(seconds=30)),
        ],
        T0,
    )
    claimed = await claim(edb, now=T0, routes=QUOTES, limits=OPEN, limit=2)
    assert [(c.symbol, c.data_type, c.provider, c.attempts) for c in claimed] == [
        ("MSFT", "quote", "fmp", 1), ("NVDA", "profile", "fmp", 1),
    ]  # fmt: skip
    rest = await claim(edb, now=T0, routes=QUOTES, limits=OPEN, worker="w2")
    assert [c.symbol for c in rest] == ["AAPL"]  # LATER is not due; claimed rows are taken
    rows = {r.symbol: r for r in await _active(edb)}
    assert rows["MSFT"].status == RefreshStatus.PROCESSING
    assert (rows["MSFT"].lease_owner, rows["MSFT"].lease_expires_at) == (
        "w1",
        T0 + timedelta(seconds=30),
    )
    assert rows["LATER"].status == RefreshStatus.PENDING
    assert sum(calls for _, calls in await debits(edb, "fmp")) == 3


async def test_a_spent_provider_passes_rows_to_the_fallback_or_postpones_them(
    edb: Database,
) -> None:
    limits = {"fmp": Limits(per_minute=2, per_day=None)}
    await enqueue(edb, [RefreshItem(s, "quote", priority=10 - i) for i, s in enumerate("ABCD")], T0)
    await enqueue(edb, [RefreshItem(s, "profile") for s in "EFG"], T0)
    claimed = await claim(edb, now=T0, routes=QUOTES, limits=limits, limit=10)
    by_provider = {(c.symbol, c.provider) for c in claimed}
    # fmp's 2 calls go to the highest priority rows; quotes fall back to sim, profiles (fmp only)
    # wait until fmp's window has room again.
    assert by_provider == {("A", "fmp"), ("B", "fmp"), ("C", "sim"), ("D", "sim")}
    waiting = {r.symbol: r for r in await _active(edb) if r.status == RefreshStatus.PENDING}
    assert set(waiting) == {"E", "F", "G"}
    assert {r.run_at for r in waiting.values()} == {T0 + timedelta(seconds=60)}
    assert await claim(edb, now=T0 + timedelta(seconds=59), routes=QUOTES, limits=limits) == []
    later = await claim(edb, now=T0 + timedelta(seconds=60), routes=QUOTES, limits=limits)
    assert len(later) == 2


async def test_rows_queued_for_one_provider_ask_that_one_only(edb: Database) -> None:
    limits = {"fmp": Limits(per_minute=1, per_day=None)}
    await enqueue(
        edb,
        [RefreshItem("A", "quote", provider="fmp"), RefreshItem("B", "quote", provider="fmp")],
        T0,
    )
    claimed = await claim(edb, now=T0, routes=QUOTES, limits=limits)
    assert [(c.symbol, c.provider) for c in claimed] == [("A", "fmp")]  # B does not fall back


async def test_a_batch_of_symbols_is_one_call(edb: Database) -> None:
    limits = {"fmp": Limits(per_minute=2, per_day=None)}
    await enqueue(edb, [RefreshItem(f"S{i:03}", "quote") for i in range(120)], T0)
    claimed = await claim(
        edb, now=T0, routes={"quote": ["fmp"]}, limits=limits, limit=200,
        batch_sizes={("fmp", "quote"): 50},
    )  # fmt: skip
    assert len(claimed) == 100  # two calls of 50 symbols
    assert await debits(edb, "fmp") == [(T0, 2)]


async def test_rows_no_enabled_provider_serves_fail_at_once(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("A", "shares-float"), RefreshItem("B", "quote")], T0)
    claimed = await claim(edb, now=T0, routes={"quote": ["sim"]}, limits={})
    assert [c.symbol for c in claimed] == ["B"]
    (active,) = await _active(edb)
    assert active.symbol == "B"  # A is no longer active: nothing can serve it
    async with edb.transaction(system=True, readonly=True) as session:
        depth = await repository.depth(session)
    assert ("failed", "shares-float", None, 1) in depth


async def test_complete_stores_the_value_and_the_history_with_the_row(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("AAPL", "quote")], T0)
    (c,) = await claim(edb, now=T0, routes=QUOTES, limits=OPEN)
    value = {"symbol": "AAPL", "price": "190.5", "as_of": T0.isoformat(), "source": "fmp"}
    async with edb.transaction(system=True) as session:
        ours = await service.complete(
            session, worker="w1", now=T0 + timedelta(seconds=1), ttls=TTLS,
            results=[Fetched("AAPL", "quote", "fmp", value, T0 + timedelta(seconds=1), c.id)],
        )  # fmt: skip
        (stored,) = await store.read_values(
            session, [("AAPL", "quote")], ttls=TTLS, now=T0 + timedelta(seconds=2)
        )
        history = await store.quote_history(
            session, symbol="AAPL", start=T0, end=T0 + timedelta(minutes=1)
        )
    assert ours == {c.id}
    assert (stored.value["price"], stored.source, stored.stale) == ("190.5", "fmp", False)
    assert [p.price for p in history] == [Decimal("190.5")]
    assert await _active(edb) == []  # completed: the pair may be queued again
    await enqueue(edb, [RefreshItem("AAPL", "quote")], T0 + timedelta(seconds=60))
    assert len(await _active(edb)) == 1


async def test_a_worker_that_lost_its_lease_does_not_complete_the_row(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("AAPL", "quote")], T0)
    (c,) = await claim(edb, now=T0, routes=QUOTES, limits=OPEN, worker="slow")
    async with edb.transaction(system=True) as session:
        assert (
            await service.release_expired(session, now=T0 + timedelta(seconds=31), policy=POLICY)
            == 1
        )
    (again,) = await claim(
        edb, now=T0 + timedelta(seconds=31), routes=QUOTES, limits=OPEN, worker="fast"
    )
    assert (again.id, again.attempts) == (c.id, 2)  # the interrupted attempt counts
    done = T0 + timedelta(seconds=40)
    async with edb.transaction(system=True) as session:
        ours = await service.complete(
            session, worker="slow", now=done, ttls=TTLS,
            results=[Fetched("AAPL", "quote", "fmp", {"price": "1"}, done, c.id)],
        )  # fmt: skip
    assert ours == set()
    (row,) = await _active(edb)
    assert (row.status, row.lease_owner) == (RefreshStatus.PROCESSING, "fast")


async def test_failures_back_off_with_jitter_then_fail_for_good(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("AAPL", "quote")], T0)
    now, rng = T0, random.Random(7)
    delays = []
    for attempt in (1, 2, 3):
        (c,) = await claim(edb, now=now, routes=QUOTES, limits=OPEN)
        assert c.attempts == attempt
        async with edb.transaction(system=True) as session:
            status = await service.fail(
                session, worker="w1", claimed=c, error={"kind": "timeout"}, now=now,
                policy=POLICY, rng=rng,
            )  # fmt: skip
        if attempt < 3:
            assert status == RefreshStatus.PENDING
            (row,) = await _active(edb)
            delays.append((row.run_at - now).total_seconds())
            assert row.error == {"kind": "timeout"}
            assert (
                await claim(edb, now=row.run_at - timedelta(seconds=1), routes=QUOTES, limits=OPEN)
                == []
            )
            now = row.run_at
        else:
            assert status == RefreshStatus.FAILED
    assert 5 <= delays[0] < 10  # base 10 s times [0.5, 1)
    assert 10 <= delays[1] < 20  # doubled
    assert await _active(edb) == []


async def test_a_refusal_waits_without_spending_an_attempt(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("AAPL", "quote")], T0)
    (c,) = await claim(edb, now=T0, routes=QUOTES, limits=OPEN)
    until = T0 + timedelta(minutes=10)
    async with edb.transaction(system=True) as session:
        assert await service.refused(session, worker="w1", claimed=c, until=until, now=T0)
        await quota.mark_spent(session, "fmp", seconds=600, now=T0)
    (row,) = await _active(edb)
    assert (row.status, row.attempts, row.run_at) == (RefreshStatus.PENDING, 0, until)
    (again,) = await claim(edb, now=until - timedelta(seconds=1), routes=QUOTES, limits=OPEN) or [
        None
    ]  # type: ignore[list-item]
    assert again is None
    (later,) = await claim(edb, now=until, routes=QUOTES, limits=OPEN)
    assert (later.provider, later.attempts) == ("fmp", 1)


async def test_expired_leases_are_recovered_and_exhausted_rows_fail(edb: Database) -> None:
    await enqueue(edb, [RefreshItem(s, "quote") for s in ("A", "B", "C")], T0)
    short = await claim(edb, now=T0, routes=QUOTES, limits=OPEN, limit=2, lease_seconds=10)
    await claim(edb, now=T0, routes=QUOTES, limits=OPEN, lease_seconds=100)
    one_attempt = RetryPolicy(max_attempts=1)
    async with edb.transaction(system=True) as session:
        assert (
            await service.release_expired(
                session, now=T0 + timedelta(seconds=5), policy=one_attempt
            )
            == 0
        )
        assert (
            await service.release_expired(
                session, now=T0 + timedelta(seconds=11), policy=one_attempt
            )
            == 2
        )
    rows = {r.symbol: r for r in await _active(edb)}
    assert set(rows) == {"C"}  # A and B spent their only attempt: failed; C's lease holds
    async with edb.transaction(system=True, readonly=True) as session:
        failed = await repository.get_requests(session, [c.id for c in short])
    assert {(r.status, r.error["kind"]) for r in failed if r.error} == {("failed", "lease_expired")}


async def test_trim_deletes_old_finished_rows_only(edb: Database) -> None:
    await enqueue(edb, [RefreshItem(s, "quote") for s in ("OLD", "NEW", "WAITING")], T0)
    claimed = {c.symbol: c for c in await claim(edb, now=T0, routes=QUOTES, limits=OPEN, limit=2)}
    async with edb.transaction(system=True) as session:
        await service.complete(
            session, worker="w1", now=T0, ttls=TTLS,
            results=[Fetched("OLD", "quote", "sim", None, T0, claimed["OLD"].id)],
        )  # fmt: skip
        await service.fail(
            session, worker="w1", claimed=claimed["NEW"], error={"kind": "x"},
            now=T0 + timedelta(days=2), policy=RetryPolicy(max_attempts=1),
        )  # fmt: skip
        trimmed = await service.trim(
            session, now=T0 + timedelta(days=2), retention=timedelta(days=1)
        )
        depth = await repository.depth(session)
    assert trimmed == 1
    assert sorted((s, n) for s, _, _, n in depth) == [("failed", 1), ("pending", 1)]


async def test_the_registry_routes_claims_and_the_engine_switch_stops_them(
    restore_registry: Database,
) -> None:
    edb = restore_registry
    await enqueue(edb, [RefreshItem("A", "quote"), RefreshItem("B", "shares-float")], T0)
    async with edb.transaction(system=True) as session:
        await datatypes.update_type(
            session, "shares-float", DataTypeUpdate(enabled=False), actor="cli"
        )
        await datatypes.set_engine(session, False, actor="cli")
        off = await service.load_plan(session, configured=["yahoo", "sim"])
    assert (off.enabled, off.routes, off.ttls["quote"]) == (False, {}, 60)
    # The engine is off: nothing is claimed, and nothing queued fails for it.
    assert await claim(edb, now=T0, routes=off.routes, limits={}) == []
    assert len(await _active(edb)) == 2
    async with edb.transaction(system=True) as session:
        await datatypes.set_engine(session, True, actor="cli")
        on = await service.load_plan(session, configured=["yahoo", "sim"])
    assert on.routes["quote"] == ["yahoo", "sim"]  # the type's chain order, configured ones only
    assert on.routes["ratios-ttm"] == ["sim"]
    assert "shares-float" not in on.routes  # switched off
    claimed = await claim(edb, now=T0, routes=on.routes, limits={})
    assert [(c.symbol, c.provider) for c in claimed] == [("A", "yahoo")]
    async with edb.transaction(system=True, readonly=True) as session:
        status = await service.queue_status(session, now=T0 + timedelta(seconds=5))
    assert status.by_status == {"pending": 0, "processing": 1, "completed": 0, "failed": 1}
    assert (status.active_by_type, status.active_by_provider) == ({"quote": 1}, {"yahoo": 1})
    assert status.oldest_due_seconds is None


async def test_the_status_counts_rows_and_the_longest_wait(edb: Database) -> None:
    await enqueue(edb, [RefreshItem("A", "quote"), RefreshItem("B", "profile", provider="fmp")], T0)
    await enqueue(edb, [RefreshItem("C", "quote", run_at=T0 + timedelta(hours=1))], T0)
    async with edb.transaction(system=True, readonly=True) as session:
        status = await service.queue_status(session, now=T0 + timedelta(seconds=90))
    assert status.by_status["pending"] == 3
    assert status.active_by_type == {"quote": 2, "profile": 1}
    assert status.active_by_provider == {"unrouted": 2, "fmp": 1}
    assert status.oldest_due_seconds == 90


async def test_each_row_walks_its_own_chain(edb: Database) -> None:
    routes = {"profile": ["fmp"], "quote": ["yahoo", "sim"]}
    limits = {
        "fmp": Limits(per_minute=1, per_day=None),
        "yahoo": Limits(per_minute=1, per_day=None),
    }
    async with edb.transaction(system=True) as session:
        assert (await quota.take(session, "fmp", 1, limits=limits["fmp"], now=T0)).granted == 1
    await enqueue(
        edb,
        [
            RefreshItem("P1", "profile", priority=9), RefreshItem("P2", "profile", priority=8),
            RefreshItem("Q1", "quote", priority=7), RefreshItem("Q2", "quote", priority=6),
            RefreshItem("Q3", "quote", priority=5),
        ],
        T0,
    )  # fmt: skip
    claimed = await claim(edb, now=T0, routes=routes, limits=limits, limit=2)
    # fmp is spent, so the profiles wait; the budget goes to the quotes: yahoo's one call first,
    # then sim (a quote never skips yahoo while it has quota).
    assert [(c.symbol, c.provider) for c in claimed] == [("Q1", "yahoo"), ("Q2", "sim")]
    rows = {r.symbol: r for r in await _active(edb)}
    assert rows["P1"].run_at == rows["P2"].run_at == T0 + timedelta(seconds=60)
    assert rows["Q3"].run_at == T0  # never asked: untouched


async def test_an_unlimited_provider_that_refused_us_is_passed_over_until_its_mark_ends(
    edb: Database,
) -> None:
    await enqueue(edb, [RefreshItem("AAPL", "quote"), RefreshItem("MSFT", "quote")], T0)
    async with edb.transaction(system=True) as session:
        await quota.mark_spent(session, "fmp", seconds=60, now=T0)
    claimed = await claim(edb, now=T0, routes=QUOTES, limits={}, limit=1)
    assert [(c.symbol, c.provider) for c in claimed] == [("AAPL", "sim")]  # fmp is spent
    later = await claim(edb, now=T0 + timedelta(seconds=60), routes=QUOTES, limits={})
    assert [(c.symbol, c.provider) for c in later] == [("MSFT", "fmp")]  # the mark has ended
