"""Run one operation by id, the same way under every executor.

Claim the row (so a duplicate delivery never runs a finished or live job twice), keep its lease
alive while the handler runs, then record the outcome: succeeded, failed, cancelled, or pending
again with a back-off (``retry``) while attempts remain.

Bookkeeping is one autocommit statement each (claim, finish; a heartbeat only for a job that
outlives a third of its lease), so a short job costs two round trips to the database; finishes of
runs that end together share one (``jobs.completer``), and so do claims (``claim_batch``).
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.context import JobCancelled, JobContext, LeaseLost
from quantdesk.jobs.registry import Handler, UnknownJobKind, get_spec
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.schemas import AnyRow
from quantdesk.kit import metrics
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.models import OperationStatus

Outcome = Literal["succeeded", "failed", "cancelled", "retry", "skipped"]
S = OperationStatus
_log = get_logger("quantdesk.jobs")
MAX_ERROR_MESSAGE = 2000
EXHAUSTED_ERROR = {
    "type": "LeaseExpired",
    "message": "the worker running it stopped; no attempts left",
}


def default_worker_id(suffix: str = "") -> str:
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{suffix}" if suffix else base


def retry_delay_seconds(base_seconds: float, attempt: int) -> float:
    """Back-off before the next attempt: base, 2*base, 4*base... after attempt 1, 2, 3..."""
    return float(base_seconds) * float(2 ** max(0, attempt - 1))


def _error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc)[:MAX_ERROR_MESSAGE]}


async def run_operation(
    resources: JobResources, operation_id: uuid.UUID | str, *, worker_id: str
) -> Outcome:
    """Claim, run and record one operation; see the module docstring for the outcomes."""
    operation_id = uuid.UUID(str(operation_id))
    now = utcnow()
    lease_until = now + timedelta(seconds=resources.settings.job_lease_seconds)
    async with resources.db.autocommit() as conn:
        row = await repository.claim(
            conn, operation_id=operation_id, worker_id=worker_id, now=now, lease_until=lease_until
        )
        exhausted: Any = ()
        if row is None:
            exhausted = await repository.fail_exhausted(
                conn, now=now, error=EXHAUSTED_ERROR, operation_id=operation_id
            )
    if row is None:
        for failed in exhausted:
            await events.publish(resources.bus, failed)
            metrics.job_finished(failed.kind, "failed", None)
        return "failed" if exhausted else "skipped"
    return await run_claimed(resources, row, worker_id=worker_id)


async def run_claimed(resources: JobResources, row: AnyRow, *, worker_id: str) -> Outcome:
    """Run a row this worker has just claimed (``repository.claim`` or ``claim_batch``)."""
    started = time.perf_counter()
    outcome = await _run_claimed(resources, row, worker_id)
    metrics.job_finished(row.kind, outcome, time.perf_counter() - started)
    return outcome


async def _run_claimed(resources: JobResources, row: AnyRow, worker_id: str) -> Outcome:
    log = _log.bind(operation_id=str(row.id), kind=row.kind, attempt=row.attempts)
    await events.publish(resources.bus, row, "status")
    run = _Run(resources, row, worker_id)
    if row.cancel_requested:
        await run.finish(S.CANCELLED, result=row.result, error=row.error)
        return "cancelled"
    try:
        spec = get_spec(row.kind)
    except UnknownJobKind as exc:
        error = {"type": "UnknownJobKind", "message": f"no handler for kind {exc.args[0]!r}"}
        await run.finish(S.FAILED, result=None, error=error)
        log.error("job_unknown_kind")
        return "failed"
    return await run.handle(spec.handler, log)


class _Run:
    """One claimed run: its context, its lease and how it ends."""

    def __init__(self, resources: JobResources, row: AnyRow, worker_id: str) -> None:
        self.resources = resources
        self.row = row
        self.worker_id = worker_id
        self.context = JobContext(
            operation_id=row.id,
            kind=row.kind,
            owner_id=row.owner_id,
            params=dict(row.params),
            attempt=row.attempts,
            resume_from=row.progress_done,
            resources=resources,
            worker_id=worker_id,
        )
        self.lease_lost = False
        self._beat: asyncio.Task[None] | None = None

    async def handle(self, handler: Handler, log: Any) -> Outcome:
        seconds = self.resources.settings.job_lease_seconds
        me = asyncio.current_task()
        assert me is not None
        loop = asyncio.get_running_loop()
        # A job that ends within a third of its lease never needs a heartbeat.
        timer = loop.call_later(seconds / 3, self._start_heartbeat, me)
        started = time.perf_counter()
        try:
            result = await handler(self.context)
        except asyncio.CancelledError:
            if self.lease_lost and me.cancelling() <= 1:
                me.uncancel()  # cancelled by our heartbeat, not by the process: the lease is gone
                log.warning("job_lease_lost", worker=self.worker_id)
                return "skipped"
            # This process is shutting down: hand the job back untouched for the next worker.
            await asyncio.shield(self._release())
            raise
        except JobCancelled as exc:
            await self.finish(S.CANCELLED, result=exc.result, error=None)
            log.info("job_cancelled")
            return "cancelled"
        except LeaseLost:
            return "skipped"
        except Exception as exc:
            return await self._failure(exc, log)
        finally:
            timer.cancel()
            await self._stop_heartbeat()
        if result is not None and not isinstance(result, dict):
            result = {"value": result}
        if not await self.finish(S.SUCCEEDED, result=result, error=None):
            return "skipped"
        log.info("job_succeeded", duration_ms=round((time.perf_counter() - started) * 1000, 2))
        return "succeeded"

    async def finish(
        self,
        status: str,
        *,
        result: dict[str, Any] | None,
        error: dict[str, Any] | None,
        not_before: datetime | None = None,
        refund: int = 0,
    ) -> bool:
        """Write the outcome while the lease is ours, then publish the row as written."""
        now = utcnow()
        written = await self.resources.completer.finish(
            repository.Ending(
                operation_id=self.row.id,
                worker_id=self.worker_id,
                now=now,
                status=status,
                result=result,
                error=error,
                not_before=not_before,
                finished_at=now if status in S.FINISHED else None,
                refund=refund,
            )
        )
        if written is None:
            return False
        if self.resources.bus.may_have_subscribers(events.channel(self.row.id)):
            # The row as written: the claimed one, what the finish set, what it returned.
            final = {
                **self.row._mapping,
                **written._mapping,
                "status": status,
                "result": result,
                "error": error,
                "finished_at": now if status in S.FINISHED else None,
                "updated_at": now,
            }
            await events.publish(self.resources.bus, SimpleNamespace(**final), "status")
        return True

    async def _failure(self, exc: Exception, log: Any) -> Outcome:
        error = _error(exc)
        attempt = self.context.attempt
        if attempt < self.row.max_attempts:
            delay = retry_delay_seconds(self.resources.settings.job_retry_base_seconds, attempt)
            not_before = utcnow() + timedelta(seconds=delay)
            if await self.finish(S.PENDING, result=None, error=error, not_before=not_before):
                log.warning("job_retry_scheduled", error=error, delay_seconds=delay)
                return "retry"
            return "skipped"
        await self.finish(S.FAILED, result=None, error=error)
        log.error("job_failed", error=error)
        return "failed"

    async def _release(self) -> None:
        """Back to pending, and the interrupted attempt does not count against the job."""
        try:
            await self.finish(S.PENDING, result=self.row.result, error=self.row.error, refund=1)
        except Exception:
            _log.warning("job_release_failed", operation_id=str(self.row.id), exc_info=True)

    # --- the lease --------------------------------------------------------------------------

    def _start_heartbeat(self, runner: asyncio.Task[Any]) -> None:
        self._beat = asyncio.ensure_future(self._heartbeat(runner))

    async def _stop_heartbeat(self) -> None:
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _heartbeat(self, runner: asyncio.Task[Any]) -> None:
        """Renew the lease every third of its length; stop the handler if it was lost."""
        seconds = self.resources.settings.job_lease_seconds
        while True:
            now = utcnow()
            try:
                async with self.resources.db.autocommit() as conn:
                    flag = await repository.heartbeat(
                        conn,
                        operation_id=self.row.id,
                        worker_id=self.worker_id,
                        now=now,
                        lease_until=now + timedelta(seconds=seconds),
                    )
            except Exception:  # a missed beat is retried; the lease outlives two of them
                _log.warning("job_heartbeat_failed", operation_id=str(self.row.id), exc_info=True)
            else:
                if flag is None:
                    self.lease_lost = True
                    runner.cancel()
                    return
                self.context.saw_cancel_flag(flag)
            await asyncio.sleep(seconds / 3)
