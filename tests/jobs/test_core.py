"""The jobs core: requests sent only after commit, claims, leases, retries and back-off."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from quantdesk.jobs import runner, service
from quantdesk.jobs.executors.base import (
    Executor,
    Submission,
    pop_current_executor,
    push_current_executor,
)
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation
from tests.factories import create_user
from tests.jobs import kinds, suite


class RecordingExecutor(Executor):
    """Records submissions and runs nothing: what request_job hands over, and when."""

    name = "recording"

    def __init__(self) -> None:
        self.submitted: list[tuple[uuid.UUID, str, str, int]] = []
        self.calls = 0

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def submit(self, jobs: Sequence[Submission]) -> None:
        self.calls += 1
        self.submitted.extend((j.operation_id, j.kind, j.queue, j.priority) for j in jobs)


async def _count(resources: JobResources) -> int:
    async with resources.db.transaction(system=True) as session:
        return int(await session.scalar(select(func.count()).select_from(Operation)) or 0)


async def test_request_job_submits_once_after_commit_and_never_after_rollback(
    resources: JobResources,
) -> None:
    executor = RecordingExecutor()
    rows_before = await _count(resources)
    push_current_executor(executor)
    try:

        async def failing_request() -> None:
            async with resources.db.transaction(system=True) as session:
                await service.request_job(session, kind="test_noop", owner_id=None, params={})
                raise RuntimeError("the request failed")

        with pytest.raises(RuntimeError):
            await failing_request()
        assert executor.submitted == []
        assert await _count(resources) == rows_before

        async with resources.db.transaction(system=True) as session:
            operation = await service.request_job(
                session, kind="test_noop", owner_id=None, params={"echo": 1}, priority=5
            )
            assert executor.submitted == []  # not before the commit
        assert executor.submitted == [(operation.id, "test_noop", "maintenance", 5)]
        assert executor.calls == 1
    finally:
        pop_current_executor(executor)
    stored = await suite.read(resources, operation.id)
    assert (stored.status, stored.params, stored.priority, stored.attempts) == (
        "pending",
        {"echo": 1},
        5,
        0,
    )


async def test_jobs_of_one_transaction_reach_the_executor_in_one_submission(
    resources: JobResources,
) -> None:
    executor = RecordingExecutor()
    push_current_executor(executor)
    try:
        async with resources.db.transaction(system=True) as session:
            many = await service.request_jobs(
                session, kind="test_noop", owner_id=None, params=[{"echo": i} for i in range(5)]
            )
            one = await service.request_job(session, kind="test_flaky", owner_id=None, params={})
    finally:
        pop_current_executor(executor)
    assert executor.calls == 1
    assert [s[0] for s in executor.submitted] == [o.id for o in many] + [one.id]
    stored = [await suite.read(resources, o.id) for o in many]
    assert [o.params for o in stored] == [{"echo": i} for i in range(5)]


async def test_unknown_kind_is_invalid_input(resources: JobResources) -> None:
    async with resources.db.transaction(system=True) as session:
        with pytest.raises(InvalidInput):
            await service.request_job(session, kind="no_such_kind", owner_id=None, params={})


async def test_claim_runs_once_and_a_second_delivery_is_skipped(resources: JobResources) -> None:
    operation_id = await suite.request(resources, RecordingExecutor(), "test_noop")
    assert await runner.run_operation(resources, operation_id, worker_id="w1") == "succeeded"
    before = await suite.read(resources, operation_id)
    assert await runner.run_operation(resources, operation_id, worker_id="w2") == "skipped"
    after = await suite.read(resources, operation_id)
    assert kinds.RUNS[str(operation_id)] == 1
    assert (after.status, after.attempts, after.updated_at, after.result) == (
        "succeeded",
        1,
        before.updated_at,
        before.result,
    )


async def _set(resources: JobResources, operation_id: uuid.UUID, **values: object) -> None:
    async with resources.db.transaction(system=True) as session:
        operation = await session.get(Operation, operation_id)
        assert operation is not None
        for name, value in values.items():
            setattr(operation, name, value)


async def test_a_live_lease_is_respected_and_an_expired_one_is_taken_over(
    resources: JobResources,
) -> None:
    operation_id = await suite.request(resources, RecordingExecutor(), "test_noop")
    # Another worker holds it, its lease still running: hands off.
    await _set(
        resources,
        operation_id,
        status="running",
        attempts=1,
        lease_owner="crashed-worker",
        lease_expires_at=utcnow() + timedelta(minutes=5),
    )
    assert await runner.run_operation(resources, operation_id, worker_id="w2") == "skipped"
    assert kinds.RUNS[str(operation_id)] == 0
    # The worker died: once its lease expires, the job is re-claimable and runs to the end.
    await _set(resources, operation_id, lease_expires_at=utcnow() - timedelta(seconds=1))
    assert await runner.run_operation(resources, operation_id, worker_id="w2") == "succeeded"
    done = await suite.read(resources, operation_id)
    assert done.attempts == 2
    assert kinds.RUNS[str(operation_id)] == 1


async def test_an_abandoned_job_without_attempts_left_fails(resources: JobResources) -> None:
    operation_id = await suite.request(resources, RecordingExecutor(), "test_noop")
    await _set(
        resources,
        operation_id,
        status="running",
        attempts=4,
        lease_owner="crashed-worker",
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    assert await runner.run_operation(resources, operation_id, worker_id="w2") == "failed"
    done = await suite.read(resources, operation_id)
    assert done.status == "failed"
    assert done.error is not None
    assert done.error["type"] == "LeaseExpired"
    assert kinds.RUNS[str(operation_id)] == 0


async def test_failures_back_off_exponentially_until_attempts_run_out(
    resources: JobResources,
) -> None:
    base = 30.0
    slow = resources.settings.model_copy(update={"job_retry_base_seconds": base})
    resources = JobResources(slow, db=resources.db, bus=resources.bus)
    operation_id = await suite.request(
        resources, RecordingExecutor(), "test_flaky", {"failures": 9}
    )
    for attempt in (1, 2):
        started = utcnow()
        assert await runner.run_operation(resources, operation_id, worker_id="w") == "retry"
        waiting = await suite.read(resources, operation_id)
        assert waiting.status == "pending"
        assert waiting.error == {"type": "RuntimeError", "message": f"attempt {attempt} fails"}
        assert waiting.not_before is not None
        delay = (waiting.not_before - started).total_seconds()
        expected = base * 2 ** (attempt - 1)
        assert expected <= delay < expected + 1.0
        # Before its back-off ends, a delivery does not run it.
        assert await runner.run_operation(resources, operation_id, worker_id="w") == "skipped"
        await _set(resources, operation_id, not_before=utcnow() - timedelta(seconds=1))
    assert await runner.run_operation(resources, operation_id, worker_id="w") == "failed"
    assert kinds.RUNS[str(operation_id)] == 3
    assert runner.retry_delay_seconds(60, 1) == 60
    assert runner.retry_delay_seconds(60, 2) == 120
    assert runner.retry_delay_seconds(60, 3) == 240


async def test_cancelling_a_pending_job_finishes_it_and_a_delivery_then_skips(
    resources: JobResources,
) -> None:
    account = await create_user(resources.db, resources.settings)
    owner = account.user.id
    operation_id = await suite.request(resources, RecordingExecutor(), "test_noop", owner_id=owner)
    async with resources.db.transaction(user_id=owner) as session:
        cancelled = await service.cancel_operation(
            session, owner_id=owner, operation_id=operation_id, bus=resources.bus
        )
        assert cancelled.status == "cancelled"
    assert await runner.run_operation(resources, operation_id, worker_id="w") == "skipped"
    assert kinds.RUNS[str(operation_id)] == 0
    other = await create_user(resources.db, resources.settings)
    async with resources.db.transaction(user_id=other.user.id) as session:
        with pytest.raises(service.OperationNotFound):
            await service.get_operation(session, owner_id=other.user.id, operation_id=operation_id)
    async with resources.db.transaction(user_id=owner) as session:
        with pytest.raises(service.OperationFinished):
            await service.cancel_operation(
                session, owner_id=owner, operation_id=operation_id, bus=resources.bus
            )


async def test_progress_is_checkpointed_and_a_retry_resumes_from_it(
    resources: JobResources,
) -> None:
    operation_id = await suite.request(resources, RecordingExecutor(), "test_steps", {"steps": 5})
    await _set(resources, operation_id, progress_done=3, progress_total=5)
    assert await runner.run_operation(resources, operation_id, worker_id="w") == "succeeded"
    done = await suite.read(resources, operation_id)
    assert done.result == {"steps": 5, "resumed_from": 3}
    assert done.progress_done == 5
