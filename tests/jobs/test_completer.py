"""Group commit of outcomes (``jobs.completer``) and the claim's plan, on both databases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, text

from quantdesk.jobs import repository, service
from quantdesk.jobs.completer import Completer
from quantdesk.jobs.repository import Ending
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation, OperationStatus
from tests.jobs import kinds  # noqa: F401 - registers test_noop

S = OperationStatus


async def _claimed(resources: JobResources, count: int, worker: str) -> list[Operation]:
    async with resources.db.transaction(system=True) as session:
        await service.request_jobs(session, kind="test_noop", owner_id=None, params=[{}] * count)
    now = utcnow()
    async with resources.db.autocommit() as conn:
        rows = await repository.claim_batch(
            conn, worker_id=worker, now=now, lease_until=now + timedelta(seconds=30), limit=count
        )
    assert len(rows) == count
    return list(rows)  # type: ignore[arg-type]


async def _stored(resources: JobResources) -> dict[object, Operation]:
    async with resources.db.transaction(system=True) as session:
        found = (await session.execute(select(Operation))).scalars().all()
        return {operation.id: operation for operation in found}


async def test_endings_that_arrive_together_are_written_in_one_statement(
    resources: JobResources,
) -> None:
    rows = await _claimed(resources, 6, "w1")
    completer = Completer(resources.db)
    now = utcnow()
    later = now + timedelta(minutes=5)
    endings = [
        Ending(rows[0].id, "w1", now, S.SUCCEEDED, {"n": [1, "x"]}, None, finished_at=now),
        Ending(rows[1].id, "w1", now, S.FAILED, None, {"type": "E", "message": "m"}, None, now),
        Ending(rows[2].id, "w1", now, S.PENDING, None, {"type": "E"}, not_before=later),
        Ending(rows[3].id, "w1", now, S.PENDING, None, None, refund=1),  # handed back
        Ending(rows[4].id, "someone-else", now, S.SUCCEEDED, None, None, finished_at=now),
        Ending(rows[5].id, "w1", now, S.CANCELLED, {"partial": 2}, None, finished_at=now),
    ]
    written = await asyncio.gather(*(completer.finish(e) for e in endings))

    # All six were handed over before the write began: one statement for all.
    assert completer.writes == 1
    assert [row is not None for row in written] == [True, True, True, True, False, True]
    assert all(row.id == e.operation_id for row, e in zip(written, endings, strict=True) if row)
    stored = await _stored(resources)
    first, failed, retry, handed_back, not_ours, cancelled = (stored[r.id] for r in rows)
    assert (first.status, first.result, first.error) == (S.SUCCEEDED, {"n": [1, "x"]}, None)
    assert first.finished_at == now
    assert first.lease_owner is None
    assert (failed.status, failed.error) == (S.FAILED, {"type": "E", "message": "m"})
    assert (retry.status, retry.not_before, retry.finished_at) == (S.PENDING, later, None)
    assert (handed_back.status, handed_back.attempts) == (S.PENDING, 0)  # refunded
    assert (not_ours.status, not_ours.lease_owner) == (S.RUNNING, "w1")  # lease not held
    assert (cancelled.status, cancelled.result) == (S.CANCELLED, {"partial": 2})


async def test_a_failed_write_reaches_every_run_of_its_batch(resources: JobResources) -> None:
    rows = await _claimed(resources, 3, "w1")
    completer = Completer(resources.db)
    now = utcnow()
    await resources.db.dispose()  # the next statements fail: no such engine any more

    class Broken:
        def autocommit(self) -> object:
            raise ConnectionError("database away")

    completer.db = Broken()  # type: ignore[assignment]
    outcomes = await asyncio.gather(
        *(completer.finish(Ending(r.id, "w1", now, S.SUCCEEDED, None, None)) for r in rows),
        return_exceptions=True,
    )
    assert [type(o) for o in outcomes] == [ConnectionError] * 3


async def test_the_batch_claim_reads_the_pending_index_in_order(resources: JobResources) -> None:
    await _claimed(resources, 2, "w1")
    async with resources.db.transaction(system=True) as session:
        await service.request_jobs(session, kind="test_noop", owner_id=None, params=[{}] * 20)
    now = utcnow()
    lease = now + timedelta(seconds=30)
    async with resources.db.autocommit() as conn:
        if resources.db.kind == "sqlite":
            sql = str(repository._DUE_IDS.compile(conn.sync_connection))
            plan = " | ".join(
                str(row[-1])
                for row in (
                    await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (now.isoformat(), 5, 0))
                ).all()
            )
            # Read in order from the partial index: no sort of every pending row per claim.
            assert "ix_operations_pending_order" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        else:
            # PostgreSQL plans a prepared statement once (a generic plan) only if that plan can
            # use the partial index: with a bound status it would plan each execution anew.
            for _ in range(8):
                await repository.claim_batch(
                    conn, worker_id="w2", now=now, lease_until=lease, limit=1
                )
            generic = await conn.scalar(
                text(
                    "SELECT max(generic_plans) FROM pg_prepared_statements "
                    "WHERE statement LIKE '%FOR UPDATE SKIP LOCKED%'"
                )
            )
            assert (generic or 0) > 0
