"""Background work in an API process: the executor and the scheduler, started and stopped with
the app's lifespan over the resources the app factory built (and gave its domains' resources)."""

from __future__ import annotations

from dataclasses import dataclass

from quantdesk.jobs.executors import build_executor, pop_current_executor, push_current_executor
from quantdesk.jobs.executors.base import Executor
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.scheduler import PeriodicScheduler


@dataclass
class JobsRuntime:
    resources: JobResources
    executor: Executor
    scheduler: PeriodicScheduler | None

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        try:
            await self.executor.stop()
        finally:
            pop_current_executor(self.executor)
            await self.resources.aclose()


async def start_jobs(resources: JobResources) -> JobsRuntime:
    """The executor (resuming unfinished work) and, embedded, the in-process scheduler."""
    settings = resources.settings
    executor = build_executor(settings, resources)
    push_current_executor(executor)
    try:
        await executor.start()
    except BaseException:
        pop_current_executor(executor)
        await resources.aclose()
        raise
    scheduler = PeriodicScheduler(resources, executor) if settings.runs_scheduler else None
    if scheduler is not None:
        await scheduler.start()
    return JobsRuntime(resources=resources, executor=executor, scheduler=scheduler)
