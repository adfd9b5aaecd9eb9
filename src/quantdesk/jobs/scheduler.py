"""Periodic work in process (embedded mode), as loop services in Prefect's style.

A :class:`LoopService` declares its ``interval`` and implements ``run_once()``; the base owns
timing, shutdown and error logging. :class:`PeriodicScheduler` requests the periodic system jobs
(declared with ``@job(..., every=...)``) when they are due; Celery beat reads the same
declarations when scaled out.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta

from quantdesk.jobs import service
from quantdesk.jobs.executors.base import Executor, pop_current_executor, push_current_executor
from quantdesk.jobs.registry import JobSpec, periodic_specs
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow

_log = get_logger("quantdesk.jobs.scheduler")
MAX_TICK_SECONDS = 60.0


class LoopService(ABC):
    interval: float = 60.0
    name = "loop_service"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> None:
        """One round of work; an exception is logged and the loop goes on."""

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                _log.exception("loop_service_failed", service=self.name)
            await asyncio.sleep(self.interval)


class PeriodicScheduler(LoopService):
    """Requests each periodic kind (``@job(..., every=...)``) once per ``every``, counted from its
    last request.

    The last request is read from the operations table, so a restart neither repeats nor skips a
    run; with no record yet, the first run is one interval after this process started.
    """

    name = "periodic_scheduler"

    def __init__(
        self,
        resources: JobResources,
        executor: Executor | None,
        entries: Sequence[JobSpec] | None = None,
    ) -> None:
        super().__init__()
        self.resources = resources
        self.executor = executor
        self.entries = list(entries if entries is not None else periodic_specs())
        self.started_at = utcnow()
        shortest = min(
            (e.every.total_seconds() for e in self.entries if e.every), default=MAX_TICK_SECONDS
        )
        self.interval = max(0.05, min(MAX_TICK_SECONDS, shortest / 4))
        self.requested: list[str] = []

    async def run_once(self) -> None:
        now = utcnow()
        for entry in self.entries:
            if entry.every is not None:
                await self._request_if_due(entry, entry.every, now)

    async def _request_if_due(self, entry: JobSpec, every: timedelta, now: datetime) -> None:
        if self.executor is not None:  # the job goes to this process's executor after commit
            push_current_executor(self.executor)
        try:
            async with self.resources.db.transaction(system=True) as session:
                last = await service.last_requested(session, kind=entry.kind)
                if (last or self.started_at) + every > now:
                    return
                await service.request_job(
                    session, kind=entry.kind, owner_id=None, params=dict(entry.params)
                )
        finally:
            if self.executor is not None:
                pop_current_executor(self.executor)
        self.requested.append(entry.kind)
        _log.info("periodic_job_requested", kind=entry.kind)
