"""The in-process scheduler requests each periodic job once per interval, across restarts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from quantdesk.jobs.registry import JobSpec, get_spec
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.scheduler import LoopService, PeriodicScheduler
from quantdesk.models import Operation
from tests.jobs import kinds  # noqa: F401 - registers the test kinds
from tests.jobs.test_core import RecordingExecutor


def _entry(kind: str, every: timedelta) -> JobSpec:
    """A periodic declaration of a registered kind (as ``@job(kind, every=...)`` makes one)."""
    return replace(get_spec(kind), every=every)


async def _requested(resources: JobResources) -> list[str]:
    async with resources.db.transaction(system=True) as session:
        rows = await session.execute(select(Operation.kind).where(Operation.owner_id.is_(None)))
        return sorted(rows.scalars().all())


async def test_periodic_jobs_are_requested_when_due_and_not_again_before(
    resources: JobResources,
) -> None:
    executor = RecordingExecutor()
    entries = (
        _entry("test_noop", timedelta(seconds=0)),
        _entry("test_flaky", timedelta(hours=1)),
    )
    scheduler = PeriodicScheduler(resources, executor, entries)
    await scheduler.run_once()
    # Due at once (interval 0): requested and handed to this process's executor after commit.
    assert await _requested(resources) == ["test_noop"]
    assert [kind for _, kind, _, _ in executor.submitted] == ["test_noop"]
    # A restarted scheduler reads the last request from the table: the hourly one waits.
    restarted = PeriodicScheduler(resources, executor, entries)
    restarted.started_at -= timedelta(minutes=30)
    await restarted.run_once()
    assert (await _requested(resources)).count("test_flaky") == 0
    restarted.started_at -= timedelta(hours=1)
    await restarted.run_once()
    await restarted.run_once()
    assert (await _requested(resources)).count("test_flaky") == 1


async def test_a_loop_service_survives_a_failing_round() -> None:
    class Flaky(LoopService):
        interval = 0.01

        def __init__(self) -> None:
            super().__init__()
            self.rounds = 0
            self.third = asyncio.Event()

        async def run_once(self) -> None:
            self.rounds += 1
            if self.rounds == 1:
                raise RuntimeError("first round fails")
            if self.rounds == 3:
                self.third.set()

    service = Flaky()
    await service.start()
    await asyncio.wait_for(service.third.wait(), 5)
    await service.stop()
    assert service.rounds >= 3
