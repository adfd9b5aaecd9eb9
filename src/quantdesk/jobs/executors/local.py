"""The embedded executor: a bounded pool of asyncio jobs inside ``quantdesk serve``.

The database is the queue (River's and pg-boss's design): one fetch loop claims due rows in
batches, as many as there are free slots, highest priority first, in a single statement
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and runs each claimed row. ``submit`` only wakes the
loop; so do finished jobs (a slot came free). Otherwise it wakes when the earliest pending row
becomes due (a retry's back-off) or after ``poll_interval``, which also picks up what nobody
announced: rows another process requested, runs whose worker died (their lease expired: put back
to pending, or failed once out of attempts; also checked every ``poll_interval`` while busy),
everything a previous run of this process left unfinished. Nothing depends on memory surviving a
restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.executors.base import Executor, Submission
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import EXHAUSTED_ERROR, default_worker_id, run_claimed
from quantdesk.jobs.schemas import AnyRow, WorkerInfo
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow

_log = get_logger("quantdesk.jobs.local")
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0
MAX_POLL_INTERVAL_SECONDS = 5.0
# A fetch error (database away) is retried after this long.
FETCH_RETRY_SECONDS = 1.0
FETCHER_STOP_SECONDS = 5.0


class LocalExecutor(Executor):
    name = "local"

    def __init__(
        self,
        resources: JobResources,
        *,
        concurrency: int = 4,
        shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS,
        poll_interval_seconds: float | None = None,
    ) -> None:
        self.resources = resources
        self.concurrency = concurrency
        self.shutdown_grace_seconds = shutdown_grace_seconds
        lease = resources.settings.job_lease_seconds
        self.poll_interval = poll_interval_seconds or min(MAX_POLL_INTERVAL_SECONDS, lease / 2)
        self.worker_id = default_worker_id(f"local-{uuid.uuid4().hex[:6]}")
        self._wake = asyncio.Event()
        self._running: dict[uuid.UUID, asyncio.Task[Any]] = {}
        self._fetcher: asyncio.Task[None] | None = None
        self._accepting = False
        self.completed = 0

    @property
    def active(self) -> int:
        return len(self._running)

    async def start(self) -> None:
        if self._accepting:
            return
        self._accepting = True
        self._wake.set()  # resume what a previous run of the process left unfinished
        self._fetcher = asyncio.create_task(self._fetch_forever(), name="job-fetcher")
        _log.info("executor_started", executor=self.name, concurrency=self.concurrency)

    async def submit(self, jobs: Sequence[Submission]) -> None:
        if self._accepting and jobs:
            self._wake.set()

    async def fetch(self) -> int:
        """Claim and start as many due rows as there are free slots; how many were started."""
        started = 0
        while self._accepting and (free := self.concurrency - len(self._running)) > 0:
            now = utcnow()
            lease_until = now + timedelta(seconds=self.resources.settings.job_lease_seconds)
            async with self.resources.db.autocommit() as conn:
                rows = await repository.claim_batch(
                    conn, worker_id=self.worker_id, now=now, lease_until=lease_until, limit=free
                )
            for row in rows:
                self._start(row)
            started += len(rows)
            if len(rows) < free:
                break
        return started

    def _start(self, row: AnyRow) -> None:
        task = asyncio.create_task(
            run_claimed(self.resources, row, worker_id=self.worker_id), name=f"job-{row.id}"
        )
        self._running[row.id] = task
        task.add_done_callback(lambda done: self._finished(row.id, done))

    def _finished(self, operation_id: uuid.UUID, task: asyncio.Task[Any]) -> None:
        self._running.pop(operation_id, None)
        if not task.cancelled() and task.exception() is not None:
            _log.error("job_run_crashed", operation_id=str(operation_id), exc_info=task.exception())
        self.completed += 1
        self._wake.set()  # a slot came free

    async def _recover_abandoned(self) -> None:
        """Runs whose worker died: back to pending with attempts left, else failed for good."""
        now = utcnow()
        async with self.resources.db.autocommit() as conn:
            await repository.release_abandoned(conn, now=now)
            failed = await repository.fail_exhausted(
                conn, now=now, error=EXHAUSTED_ERROR, operation_id=None
            )
        for row in failed:
            await events.publish(self.resources.bus, row)

    async def _idle_wait(self) -> float:
        """Seconds until there may be work nobody announced: the next due row, or a poll."""
        async with self.resources.db.autocommit() as conn:
            due = await repository.next_due(conn)
        if due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (due - utcnow()).total_seconds()))

    async def _fetch_forever(self) -> None:
        timeout = 0.0
        recovered_at = time.monotonic()
        while self._accepting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            self._wake.clear()
            if not self._accepting:
                return
            try:
                if time.monotonic() - recovered_at >= self.poll_interval:  # busy for a while
                    await self._recover_abandoned()
                    recovered_at = time.monotonic()
                if await self.fetch() or self._running:
                    timeout = self.poll_interval  # a finishing job wakes the loop sooner
                else:  # idle: recover abandoned runs, then sleep until the next due row
                    await self._recover_abandoned()
                    recovered_at = time.monotonic()
                    timeout = self.poll_interval if await self.fetch() else await self._idle_wait()
            except Exception:
                _log.warning("executor_fetch_failed", exc_info=True)
                timeout = FETCH_RETRY_SECONDS

    async def stop(self) -> None:
        if not self._accepting:
            return
        self._accepting = False
        if self._fetcher is not None:
            # Let it finish the claim it may be making (a claim cut short in the middle of its
            # statement would leave the rows it took leased to nobody, and the connection busy).
            self._wake.set()
            await asyncio.wait({self._fetcher}, timeout=FETCHER_STOP_SECONDS)
            self._fetcher.cancel()
            await asyncio.gather(self._fetcher, return_exceptions=True)
        running = list(self._running.values())
        if running:
            # Let running jobs finish for a while; then they are handed back as pending.
            await asyncio.wait(running, timeout=self.shutdown_grace_seconds)
        for task in list(self._running.values()):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*running, return_exceptions=True)
        _log.info(
            "executor_stopped",
            executor=self.name,
            handed_back=sum(1 for t in running if t.cancelled()),
        )

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
