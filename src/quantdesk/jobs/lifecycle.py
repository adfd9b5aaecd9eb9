"""Background work in the API process: the bus, the executor and the scheduler, started and
stopped with the app's lifespan (``app.state.bus``, ``app.state.executor``)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from quantdesk.jobs.executors import build_executor, pop_current_executor, push_current_executor
from quantdesk.jobs.executors.base import Executor
from quantdesk.jobs.live import install_query_token_redaction
from quantdesk.jobs.registry import load_task_modules
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.scheduler import PeriodicScheduler
from quantdesk.kit.config import Settings
from quantdesk.kit.events import build_event_bus


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
            await self.resources.bus.aclose()


async def start_jobs(app: FastAPI, settings: Settings) -> JobsRuntime:
    """Needs ``app.state.db`` and ``app.state.market``; sets ``app.state.bus`` and ``executor``."""
    load_task_modules()
    install_query_token_redaction()
    bus = build_event_bus(settings)
    resources = JobResources(settings, db=app.state.db, bus=bus, market=app.state.market)
    executor = build_executor(settings, resources)
    app.state.bus, app.state.executor = bus, executor
    push_current_executor(executor)
    try:
        await executor.start()
    except BaseException:
        pop_current_executor(executor)
        await bus.aclose()
        raise
    scheduler = PeriodicScheduler(resources, executor) if settings.runs_scheduler else None
    if scheduler is not None:
        await scheduler.start()
    return JobsRuntime(resources=resources, executor=executor, scheduler=scheduler)
