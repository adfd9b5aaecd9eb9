"""The embedded executor: a bounded pool of asyncio workers inside ``quantdesk serve``.

Submitted ids go to an in-memory priority queue; a sweeper also reads the database for due rows
(on start: everything unfinished; then retries whose back-off ended, abandoned leases, and jobs
requested by processes without an executor), so nothing depends on the in-memory queue surviving.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid

from quantdesk.jobs import repository
from quantdesk.jobs.executors.base import Executor
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import default_worker_id, run_operation
from quantdesk.jobs.schemas import WorkerInfo
from quantdesk.kit.db import set_system_context
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow

_log = get_logger("quantdesk.jobs.local")
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0
MAX_SWEEP_INTERVAL_SECONDS = 5.0


class LocalExecutor(Executor):
    name = "local"

    def __init__(
        self,
        resources: JobResources,
        *,
        concurrency: int = 4,
        shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS,
        sweep_interval_seconds: float | None = None,
    ) -> None:
        self.resources = resources
        self.concurrency = concurrency
        self.shutdown_grace_seconds = shutdown_grace_seconds
        lease = resources.settings.job_lease_seconds
        self.sweep_interval = sweep_interval_seconds or min(MAX_SWEEP_INTERVAL_SECONDS, lease / 2)
        self.worker_id = default_worker_id(f"local-{uuid.uuid4().hex[:6]}")
        self._queue: asyncio.PriorityQueue[tuple[int, int, uuid.UUID]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._queued: set[uuid.UUID] = set()
        self._running: dict[uuid.UUID, asyncio.Task[str]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._sweeper: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._accepting = False
        self.completed = 0

    @property
    def active(self) -> int:
        return len(self._running)

    async def start(self) -> None:
        if self._accepting:
            return
        self._accepting = True
        self._workers = [
            asyncio.create_task(self._work(n), name=f"job-worker-{n}")
            for n in range(self.concurrency)
        ]
        await self.sweep()  # resume what a previous run of the process left unfinished
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="job-sweeper")
        _log.info("executor_started", executor=self.name, concurrency=self.concurrency)

    async def submit(self, operation_id: uuid.UUID, kind: str, queue: str) -> None:
        self._enqueue(operation_id, priority=0)

    def _enqueue(self, operation_id: uuid.UUID, *, priority: int) -> None:
        if not self._accepting or operation_id in self._queued or operation_id in self._running:
            return
        self._queued.add(operation_id)
        self._queue.put_nowait((-priority, next(self._order), operation_id))

    async def sweep(self) -> int:
        """Queue every due row of the database this executor is not already holding."""
        async with self.resources.db.transaction() as session:
            await set_system_context(session)
            due = await repository.due_for_work(session, now=utcnow(), limit=1000)
        for operation in due:
            self._enqueue(operation.id, priority=operation.priority)
        return len(due)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await self.sweep()
            except Exception:
                _log.warning("executor_sweep_failed", exc_info=True)

    async def _work(self, number: int) -> None:
        worker_id = f"{self.worker_id}:{number}"
        while True:
            _, _, operation_id = await self._queue.get()
            self._queued.discard(operation_id)
            task = asyncio.create_task(
                run_operation(self.resources, operation_id, worker_id=worker_id)
            )
            self._running[operation_id] = task
            try:
                outcome = await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done():  # stop(): the runner hands the row back as pending
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
                raise
            except Exception:
                _log.exception("job_run_crashed", operation_id=str(operation_id))
                continue
            finally:
                self._running.pop(operation_id, None)
            self.completed += 1
            if outcome == "retry":
                try:
                    await self._retry_later(operation_id)
                except Exception:
                    _log.warning("job_retry_timer_failed", exc_info=True)

    async def _retry_later(self, operation_id: uuid.UUID) -> None:
        # The sweeper would find it too; a timer just makes the back-off exact.
        async with self.resources.db.transaction() as session:
            await set_system_context(session)
            operation = await repository.get(session, operation_id)
        if operation is None or operation.not_before is None:
            return
        delay = (operation.not_before - utcnow()).total_seconds()
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            self._enqueue(operation_id, priority=operation.priority)

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    async def stop(self) -> None:
        if not self._accepting:
            return
        self._accepting = False
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        running = list(self._running.values())
        if running:
            # Let running jobs finish for a while; then they are handed back as pending.
            await asyncio.wait(running, timeout=self.shutdown_grace_seconds)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        while not self._queue.empty():  # queued ids stay pending rows in the database
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
        self._queued.clear()
        _log.info("executor_stopped", executor=self.name, handed_back=len(running))

    async def workers(self) -> list[WorkerInfo]:
        return [
            WorkerInfo(
                id=self.worker_id,
                executor=self.name,
                concurrency=self.concurrency,
                running=self.active,
                last_seen=utcnow(),
            )
        ]
