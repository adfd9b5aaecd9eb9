"""The local executor runs the shared job suite, with bounded concurrency and graceful shutdown."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from quantdesk.jobs import repository, service
from quantdesk.jobs.executors.base import pop_current_executor, push_current_executor
from quantdesk.jobs.executors.local import LocalExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation
from tests.jobs import kinds, suite


@pytest.fixture
async def executor(resources: JobResources) -> AsyncIterator[LocalExecutor]:
    local = LocalExecutor(resources, concurrency=3, shutdown_grace_seconds=2)
    await local.start()
    yield local
    await local.stop()


@pytest.mark.parametrize("scenario", suite.SCENARIOS, ids=lambda s: s.__name__)
async def test_job_suite(
    resources: JobResources,
    executor: LocalExecutor,
    scenario: Callable[[JobResources, LocalExecutor], Awaitable[None]],
) -> None:
    await scenario(resources, executor)


async def test_concurrency_is_bounded(resources: JobResources, executor: LocalExecutor) -> None:
    ids = [
        await suite.request(resources, executor, "test_slow", {"seconds": 0.15}) for _ in range(9)
    ]
    for operation_id in ids:
        assert (await suite.wait_for(resources, operation_id)).status == "succeeded"
    assert kinds.CONCURRENCY["peak"] == 3  # never more than the pool, and it was used fully
    assert all(kinds.RUNS[str(i)] == 1 for i in ids)


async def test_shutdown_waits_for_running_jobs_then_hands_back_the_rest(
    resources: JobResources,
) -> None:
    local = LocalExecutor(resources, concurrency=1, shutdown_grace_seconds=1)
    await local.start()
    quick = await suite.request(resources, local, "test_slow", {"seconds": 0.3})
    await suite.wait_for(resources, quick, ("running",))
    queued = await suite.request(resources, local, "test_noop")
    await local.stop()  # within the grace period: the running job finishes
    assert (await suite.read(resources, quick)).status == "succeeded"
    assert (await suite.read(resources, queued)).status == "pending"  # never started, kept

    stuck = LocalExecutor(resources, concurrency=1, shutdown_grace_seconds=0.2)
    await stuck.start()
    blocked = await suite.request(resources, stuck, "test_steps", {"steps": 2, "gate": "never"})
    await suite.wait_for(resources, blocked, ("running",))
    await stuck.stop()  # past the grace period: handed back, the attempt not counted
    handed_back = await suite.read(resources, blocked)
    assert handed_back.status == "pending"
    assert handed_back.attempts == 0
    assert handed_back.lease_owner is None

    kinds.GATES.setdefault("never", asyncio.Event()).set()
    resumed = LocalExecutor(resources, concurrency=2)
    await resumed.start()  # resumes both unfinished rows from the database
    try:
        assert (await suite.wait_for(resources, queued)).status == "succeeded"
        finished = await suite.wait_for(resources, blocked)
        assert finished.status == "succeeded"
        assert finished.attempts == 1
    finally:
        await resumed.stop()


async def _request_with_priority(
    resources: JobResources, executor: LocalExecutor, label: str, priority: int, **params: Any
) -> uuid.UUID:
    push_current_executor(executor)
    try:
        async with resources.db.transaction(system=True) as session:
            operation = await service.request_job(
                session,
                kind="test_ordered",
                owner_id=None,
                params={"label": label, **params},
                priority=priority,
            )
            return operation.id
    finally:
        pop_current_executor(executor)


async def test_higher_priority_jobs_start_first(resources: JobResources) -> None:
    local = LocalExecutor(resources, concurrency=1)
    await local.start()
    try:
        # The one slot is busy, so the next three wait; they start by priority, then age.
        blocker = await _request_with_priority(resources, local, "blocker", 0, gate="open")
        await suite.wait_for(resources, blocker, ("running",))
        waiting = [
            await _request_with_priority(resources, local, label, priority)
            for label, priority in (("low", 0), ("high", 10), ("middle", 5))
        ]
        kinds.GATES.setdefault("open", asyncio.Event()).set()
        for operation_id in waiting:
            assert (await suite.wait_for(resources, operation_id)).status == "succeeded"
    finally:
        await local.stop()
    assert kinds.STARTED == ["blocker", "high", "middle", "low"]


async def test_claims_take_due_rows_in_batches_and_never_the_same_row_twice(
    resources: JobResources,
) -> None:
    ids = [await suite.request_held(resources, "test_noop") for _ in range(7)]
    for operation_id in ids:
        await suite.release(resources, operation_id)
    now = utcnow()

    async def claim(worker: str, limit: int) -> list[uuid.UUID]:
        async with resources.db.autocommit() as conn:
            rows = await repository.claim_batch(
                conn, worker_id=worker, now=now, lease_until=now + timedelta(minutes=1), limit=limit
            )
        return [row.id for row in rows]

    first, second = await asyncio.gather(claim("a", 3), claim("b", 3))
    third = await claim("c", 10)
    assert len(first) == len(second) == 3
    assert len(third) == 1
    assert sorted(first + second + third) == sorted(ids)  # each row claimed exactly once
    assert await claim("d", 10) == []  # leased rows are not due again
    for operation_id in ids:
        row = await suite.read(resources, operation_id)
        assert row.status == "running"
        assert row.attempts == 1


async def _abandon(resources: JobResources, operation_id: uuid.UUID, attempts: int) -> None:
    """What a process that died mid-job leaves: running, under a lease nobody renews."""
    async with resources.db.transaction(system=True) as session:
        await session.execute(
            update(Operation)
            .where(Operation.id == operation_id)
            .values(
                status="running",
                lease_owner="dead-host:1:0",
                lease_expires_at=utcnow() - timedelta(seconds=1),
                attempts=attempts,
                not_before=None,
            )
        )


async def test_runs_of_a_dead_worker_are_taken_over_or_failed_once_out_of_attempts(
    resources: JobResources,
) -> None:
    retried = await suite.request_held(resources, "test_noop", {"echo": "again"})
    exhausted = await suite.request_held(resources, "test_flaky", {"failures": 0})
    await _abandon(resources, retried, attempts=1)
    await _abandon(resources, exhausted, attempts=3)  # test_flaky has 3 attempts
    local = LocalExecutor(resources, concurrency=2)
    await local.start()
    try:
        done = await suite.wait_for(resources, retried)
        failed = await suite.wait_for(resources, exhausted)
    finally:
        await local.stop()
    assert (done.status, done.attempts, done.result) == ("succeeded", 2, {"echo": "again"})
    assert done.lease_owner is None
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error["type"] == "LeaseExpired"
    assert kinds.RUNS[str(exhausted)] == 0  # never run again
