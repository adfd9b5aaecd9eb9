"""Run one operation by id, the same way under every executor.

Claim the row (so a duplicate delivery never runs a finished or live job twice), keep its lease
alive while the handler runs, then record the outcome: succeeded, failed, cancelled, or pending
again with a back-off (``retry``) while attempts remain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any, Literal

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.context import JobCancelled, JobContext, LeaseLost
from quantdesk.jobs.registry import UnknownJobKind, get_spec
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.schemas import EventType
from quantdesk.kit import metrics
from quantdesk.kit.db import set_system_context
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation, OperationStatus

Outcome = Literal["succeeded", "failed", "cancelled", "retry", "skipped"]
S = OperationStatus
_log = get_logger("quantdesk.jobs")
MAX_ERROR_MESSAGE = 2000


def default_worker_id(suffix: str = "") -> str:
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{suffix}" if suffix else base


def retry_delay_seconds(base_seconds: float, attempt: int) -> float:
    """Back-off before the next attempt: base, 2*base, 4*base... after attempt 1, 2, 3..."""
    return float(base_seconds) * float(2 ** max(0, attempt - 1))


def _error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc)[:MAX_ERROR_MESSAGE]}


async def _system_read(resources: JobResources, operation_id: uuid.UUID) -> Operation | None:
    async with resources.db.transaction() as session:
        await set_system_context(session)
        return await repository.get(session, operation_id)


async def _publish_current(
    resources: JobResources, operation_id: uuid.UUID, event: EventType | None = None
) -> None:
    operation = await _system_read(resources, operation_id)
    if operation is not None:
        await events.publish(resources.bus, operation, event)


async def _claim(
    resources: JobResources, operation_id: uuid.UUID, worker_id: str
) -> Operation | Literal["failed"] | None:
    """The claimed row, None when it is not ours to run, or "failed" when it ran out of attempts."""
    lease = timedelta(seconds=resources.settings.job_lease_seconds)
    async with resources.db.transaction() as session:
        await set_system_context(session)
        now = utcnow()
        claimed = await repository.claim(
            session,
            operation_id=operation_id,
            worker_id=worker_id,
            now=now,
            lease_until=now + lease,
        )
        if claimed is not None:
            return claimed
        error = {
            "type": "LeaseExpired",
            "message": "the worker running it stopped; no attempts left",
        }
        if await repository.fail_exhausted(
            session, operation_id=operation_id, now=now, error=error
        ):
            return "failed"
    return None


async def _heartbeat(resources: JobResources, operation_id: uuid.UUID, worker_id: str) -> None:
    """Renew the lease every third of its length; return (ending the run) if it was lost."""
    seconds = resources.settings.job_lease_seconds
    while True:
        await asyncio.sleep(seconds / 3)
        now = utcnow()
        try:
            async with resources.db.transaction() as session:
                await set_system_context(session)
                kept = await repository.update_leased(
                    session,
                    operation_id=operation_id,
                    worker_id=worker_id,
                    values={
                        "lease_expires_at": now + timedelta(seconds=seconds),
                        "heartbeat_at": now,
                    },
                )
        except Exception:  # a missed beat is retried; the lease outlives two of them
            _log.warning("job_heartbeat_failed", operation_id=str(operation_id), exc_info=True)
            continue
        if not kept:
            _log.warning("job_lease_lost", operation_id=str(operation_id), worker=worker_id)
            return


async def _finish(
    resources: JobResources, operation_id: uuid.UUID, worker_id: str, values: dict[str, Any]
) -> bool:
    """Write the outcome while the lease is ours, then publish the row as written."""
    now = utcnow()
    values = {"lease_owner": None, "lease_expires_at": None, "updated_at": now, **values}
    async with resources.db.transaction() as session:
        await set_system_context(session)
        written = await repository.update_leased(
            session, operation_id=operation_id, worker_id=worker_id, values=values
        )
    if written is None:
        return False
    await events.publish(resources.bus, written, "status")
    return True


async def run_operation(
    resources: JobResources, operation_id: uuid.UUID | str, *, worker_id: str
) -> Outcome:
    """Claim, run and record one operation; see the module docstring for the outcomes."""
    operation_id = uuid.UUID(str(operation_id))
    claimed = await _claim(resources, operation_id, worker_id)
    if claimed == "failed":
        await _publish_current(resources, operation_id)
        metrics.job_finished("unknown", "failed", None)  # the kind is not read on this path
        return "failed"
    if claimed is None:
        return "skipped"
    operation = claimed
    log = _log.bind(operation_id=str(operation_id), kind=operation.kind, attempt=operation.attempts)
    await events.publish(resources.bus, operation, "status")

    if operation.cancel_requested:
        await _finish(resources, operation_id, worker_id, _cancelled_values())
        metrics.job_finished(operation.kind, "cancelled", None)
        return "cancelled"
    try:
        spec = get_spec(operation.kind)
    except UnknownJobKind as exc:
        error = {"type": "UnknownJobKind", "message": f"no handler for kind {exc.args[0]!r}"}
        await _finish(resources, operation_id, worker_id, _failed_values(error))
        log.error("job_unknown_kind")
        metrics.job_finished(operation.kind, "failed", None)
        return "failed"

    context = JobContext(
        operation_id=operation_id,
        kind=operation.kind,
        owner_id=operation.owner_id,
        params=dict(operation.params),
        attempt=operation.attempts,
        resume_from=operation.progress_done,
        resources=resources,
        worker_id=worker_id,
    )
    started = time.perf_counter()
    outcome = await _run_handler(resources, context, operation, spec.handler, log)
    metrics.job_finished(operation.kind, outcome, time.perf_counter() - started)
    return outcome


def _cancelled_values() -> dict[str, Any]:
    return {"status": S.CANCELLED, "finished_at": utcnow()}


def _failed_values(error: dict[str, Any]) -> dict[str, Any]:
    return {"status": S.FAILED, "error": error, "finished_at": utcnow()}


async def _run_handler(
    resources: JobResources,
    context: JobContext,
    operation: Operation,
    handler: Any,
    log: Any,
) -> Outcome:
    operation_id, worker_id = context.operation_id, context.worker_id
    work = asyncio.create_task(handler(context))
    beat = asyncio.create_task(_heartbeat(resources, operation_id, worker_id))
    try:
        done, _ = await asyncio.wait({work, beat}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:  # the heartbeat ended: the lease is someone else's now
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            return "skipped"
        result = work.result()
    except asyncio.CancelledError:
        # This process is shutting down: hand the job back untouched for the next worker.
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.shield(_release(resources, operation, worker_id))
        raise
    except JobCancelled:
        await _finish(resources, operation_id, worker_id, _cancelled_values())
        log.info("job_cancelled")
        return "cancelled"
    except LeaseLost:
        return "skipped"
    except Exception as exc:
        return await _record_failure(resources, context, operation, exc, log)
    finally:
        beat.cancel()
        await asyncio.gather(beat, return_exceptions=True)
    if result is not None and not isinstance(result, dict):
        result = {"value": result}
    values = {"status": S.SUCCEEDED, "result": result, "finished_at": utcnow(), "error": None}
    if not await _finish(resources, operation_id, worker_id, values):
        return "skipped"
    log.info("job_succeeded")
    return "succeeded"


async def _record_failure(
    resources: JobResources,
    context: JobContext,
    operation: Operation,
    exc: Exception,
    log: Any,
) -> Outcome:
    error = _error(exc)
    attempt = context.attempt
    if attempt < operation.max_attempts:
        delay = retry_delay_seconds(resources.settings.job_retry_base_seconds, attempt)
        values = {
            "status": S.PENDING,
            "error": error,
            "not_before": utcnow() + timedelta(seconds=delay),
        }
        if await _finish(resources, context.operation_id, context.worker_id, values):
            log.warning("job_retry_scheduled", error=error, delay_seconds=delay)
            return "retry"
        return "skipped"
    await _finish(resources, context.operation_id, context.worker_id, _failed_values(error))
    log.error("job_failed", error=error)
    return "failed"


async def _release(resources: JobResources, operation: Operation, worker_id: str) -> None:
    """Back to pending, and the interrupted attempt does not count against the job."""
    await _finish(
        resources,
        operation.id,
        worker_id,
        {"status": S.PENDING, "attempts": max(0, operation.attempts - 1)},
    )
