"""The local executor runs the shared job suite, with bounded concurrency and graceful shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from quantdesk.jobs.executors.local import LocalExecutor
from quantdesk.jobs.resources import JobResources
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
