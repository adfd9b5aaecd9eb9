"""Executor-agnostic job scenarios: each takes (resources, executor) and runs on any executor.

The local executor's tests run them (test_local_executor.py); the Celery tests run the same ones
against real workers. Assertions read the database (and the bus), never in-process counters, so
they hold when the handler runs in another process. The executor must already be started, and
the worker side must have ``tests.jobs.kinds`` imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from quantdesk.jobs import service
from quantdesk.jobs.executors.base import (
    Executor,
    Submission,
    pop_current_executor,
    push_current_executor,
)
from quantdesk.jobs.progress import channel
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation

FINISHED = ("succeeded", "failed", "cancelled")


async def request(
    resources: JobResources,
    executor: Executor,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    owner_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Request a job the way a service does; ``executor`` gets it after the commit."""
    push_current_executor(executor)
    try:
        async with resources.db.transaction(user_id=owner_id, system=owner_id is None) as session:
            operation = await service.request_job(
                session, kind=kind, owner_id=owner_id, params=params or {}
            )
            return operation.id
    finally:
        pop_current_executor(executor)


async def request_held(
    resources: JobResources,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    owner_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A pending job no executor takes (not before an hour from now) until ``release``."""
    async with resources.db.transaction(user_id=owner_id, system=owner_id is None) as session:
        operation = await service.request_job(
            session, kind=kind, owner_id=owner_id, params=params or {}
        )
        await set_not_before(session, operation.id, utcnow() + timedelta(hours=1))
        return operation.id


async def set_not_before(session: Any, operation_id: uuid.UUID, when: Any) -> None:
    await session.execute(
        update(Operation).where(Operation.id == operation_id).values(not_before=when)
    )


async def release(resources: JobResources, operation_id: uuid.UUID) -> None:
    async with resources.db.transaction(system=True) as session:
        await set_not_before(session, operation_id, None)


async def read(resources: JobResources, operation_id: uuid.UUID) -> Operation:
    async with resources.db.transaction(system=True) as session:
        operation = await session.get(Operation, operation_id, populate_existing=True)
        assert operation is not None
        return operation


async def wait_for(
    resources: JobResources,
    operation_id: uuid.UUID,
    statuses: tuple[str, ...] = FINISHED,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - a polling deadline, not a cancel scope
) -> Operation:
    deadline = time.monotonic() + timeout
    while True:
        operation = await read(resources, operation_id)
        if operation.status in statuses:
            return operation
        if time.monotonic() > deadline:
            raise AssertionError(f"{operation!r} not in {statuses} after {timeout} s")
        await asyncio.sleep(0.02)


async def wait_for_progress(
    resources: JobResources, operation_id: uuid.UUID, done: int, *, within: float = 30.0
) -> Operation:
    deadline = time.monotonic() + within
    operation = await read(resources, operation_id)
    while operation.progress_done < done:
        if time.monotonic() > deadline:
            raise AssertionError(f"{operation!r} did not reach progress {done}")
        await asyncio.sleep(0.02)
        operation = await read(resources, operation_id)
    return operation


async def scenario_runs_to_completion_with_progress_in_order(
    resources: JobResources, executor: Executor
) -> None:
    events: list[dict[str, Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        push_current_executor(executor)
        try:
            async with resources.db.transaction(system=True) as session:
                operation = await service.request_job(
                    session, kind="test_steps", owner_id=None, params={"steps": 4}
                )
                # Subscribed before the commit: the executor cannot start it any earlier.
                subscription = await stack.enter_async_context(
                    resources.bus.subscribe(channel(operation.id))
                )
        finally:
            pop_current_executor(executor)
        done = await wait_for(resources, operation.id)
        while (message := await subscription.get(wait=2.0)) is not None:
            events.append(message)
            if message["type"] in ("completed", "failed", "cancelled"):
                break
    assert done.status == "succeeded", done.error
    assert done.result == {"steps": 4, "resumed_from": 0}
    assert done.progress_done == 4
    assert done.progress_total == 4
    assert done.attempts == 1
    assert done.lease_owner is None
    assert done.started_at is not None
    assert done.finished_at is not None
    types = [e["type"] for e in events]
    assert types[0] == "status", types
    assert types[-1] == "completed", types
    assert events[0]["operation"]["status"] == "running"
    assert events[-1]["operation"]["result"] == {"steps": 4, "resumed_from": 0}
    progress = [e["operation"]["progress"]["done"] for e in events if e["type"] == "progress"]
    assert progress == [1, 2, 3, 4]


async def scenario_duplicate_delivery_of_a_finished_job_changes_nothing(
    resources: JobResources, executor: Executor
) -> None:
    operation_id = await request(resources, executor, "test_flaky", {"failures": 0})
    first = await wait_for(resources, operation_id)
    assert first.status == "succeeded"
    await executor.submit([Submission(operation_id, "test_flaky", first.queue)])
    await asyncio.sleep(0.5)
    again = await read(resources, operation_id)
    assert again.status == "succeeded"
    assert again.attempts == 1  # not claimed a second time
    assert again.result == first.result == {"attempt": 1}
    assert again.finished_at == first.finished_at
    assert again.updated_at == first.updated_at


async def scenario_failed_attempts_are_retried_with_backoff(
    resources: JobResources, executor: Executor
) -> None:
    operation_id = await request(resources, executor, "test_flaky", {"failures": 2})
    done = await wait_for(resources, operation_id)
    assert done.status == "succeeded", done.error
    assert done.attempts == 3
    assert done.result == {"attempt": 3}
    # The last failure is kept for the record until a success clears it.
    assert done.error is None


async def scenario_a_job_failing_every_attempt_ends_failed(
    resources: JobResources, executor: Executor
) -> None:
    operation_id = await request(resources, executor, "test_flaky", {"failures": 10})
    done = await wait_for(resources, operation_id)
    assert done.status == "failed"
    assert done.attempts == done.max_attempts == 3
    assert done.error == {"type": "RuntimeError", "message": "attempt 3 fails"}
    assert done.result is None


async def scenario_cancel_between_steps(resources: JobResources, executor: Executor) -> None:
    operation_id = await request(resources, executor, "test_steps", {"steps": 50, "pause": 0.05})
    await wait_for(resources, operation_id, ("running",))
    await wait_for_progress(resources, operation_id, 2)
    async with resources.db.transaction(system=True) as session:
        operation = await session.get(Operation, operation_id)
        assert operation is not None
        operation.cancel_requested = True
    done = await wait_for(resources, operation_id)
    assert done.status == "cancelled"
    assert 2 <= done.progress_done < 50
    assert done.result is None


SCENARIOS = [
    scenario_runs_to_completion_with_progress_in_order,
    scenario_duplicate_delivery_of_a_finished_job_changes_nothing,
    scenario_failed_attempts_are_retried_with_backoff,
    scenario_a_job_failing_every_attempt_ends_failed,
    scenario_cancel_between_steps,
]
