"""What a Celery worker process runs: one generic task per job kind, on a loop the process owns.

Each worker process (a prefork child, or the solo worker) keeps one asyncio event loop and one set
of job resources (engines, bus, domain resources) for its whole life, so a task costs a claim and
a run, not a new engine and loop. The task body is ``jobs.runner.run_operation``; see
``jobs.celery_config`` for how deliveries, leases and retries fit together.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_shutdown
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from quantdesk.jobs import registry, repository
from quantdesk.jobs import service as job_service
from quantdesk.jobs.celery_config import PERIODIC_TASK, SWEEP_TASK, create_celery_app
from quantdesk.jobs.executors.base import pop_current_executor, push_current_executor
from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.models import OperationStatus

T = TypeVar("T")
_log = get_logger("quantdesk.jobs.celery")

FINAL_OUTCOMES = frozenset({"succeeded", "failed", "cancelled"})
# Raised when the database or Redis cannot be reached: retried by Celery, not counted as attempts.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    RedisError,
    ConnectionError,
    TimeoutError,
)
INFRASTRUCTURE_RETRIES = 3
LEASE_GRACE_SECONDS = 1.0
SWEEP_LIMIT = 500

_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """The settings the worker runtimes of this process are built from."""
    global _settings
    _settings = settings


def current_settings() -> Settings:
    return _settings or get_settings()


def default_node_name() -> str:
    """A node name unique per worker process, even with many workers on one host."""
    return f"quantdesk-{os.getpid()}@{socket.gethostname()}"


class WorkerRuntime:
    """One event loop and one set of job resources, owned by one worker process (or thread)."""

    def __init__(self, settings: Settings, app: Celery) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.resources = JobResources(settings)
        # Jobs that request jobs (and beat's requests) send them through Celery too.
        self.executor = CeleryExecutor(settings, app=app)
        push_current_executor(self.executor)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion; if interrupted (soft time limit), cancel it cleanly."""
        task = self.loop.create_task(coro)
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                task.cancel()
                with suppress(BaseException):
                    self.loop.run_until_complete(task)
            raise

    def close(self) -> None:
        pop_current_executor(self.executor)
        try:
            self.run(self.resources.aclose())
        finally:
            self.loop.close()


_runtimes: dict[tuple[int, int], WorkerRuntime] = {}
_runtimes_lock = threading.Lock()


def get_runtime(app: Celery) -> WorkerRuntime:
    """This process's (and thread's) runtime, built on first use: never inherited across fork."""
    key = (os.getpid(), threading.get_ident())
    runtime = _runtimes.get(key)
    if runtime is None:
        with _runtimes_lock:
            runtime = _runtimes.get(key) or WorkerRuntime(current_settings(), app)
            _runtimes[key] = runtime
    return runtime


def close_runtime(**_: Any) -> None:
    pid = os.getpid()
    for key in [key for key in _runtimes if key[0] == pid]:
        runtime = _runtimes.pop(key)
        try:
            runtime.close()
        except Exception:
            _log.exception("celery_worker_runtime_close_failed")


@dataclass(frozen=True)
class NextDelivery:
    queue: str
    countdown: float


async def next_delivery(resources: JobResources, operation_id: uuid.UUID) -> NextDelivery | None:
    """When this unfinished operation should be delivered again (None when it is finished).

    Pending (a runner retry): at its ``not_before``. Running under someone's lease: just after the
    lease ends, when a dead holder's job can be taken over and a live one's finish is a no-op.
    """
    async with resources.db.autocommit() as conn:
        row = await repository.next_delivery(conn, operation_id)
    if row is None or row.status in FINAL_OUTCOMES:
        return None
    now = utcnow()
    if row.status == OperationStatus.PENDING:
        due = row.not_before or now
        return NextDelivery(row.queue, max(0.0, (due - now).total_seconds()))
    lease_end = row.lease_expires_at or now
    countdown = max(0.0, (lease_end - now).total_seconds()) + LEASE_GRACE_SECONDS
    return NextDelivery(row.queue, countdown)


def deliver(task: Task, kind: str, operation_id: str) -> str:
    """The body of every job-kind task: run the operation, then re-send it if it is not done."""
    runtime = get_runtime(task.app)
    op_id = uuid.UUID(operation_id)
    worker_id = f"{task.request.hostname or 'celery'}:{os.getpid()}"
    try:
        outcome: str = runtime.run(run_operation(runtime.resources, op_id, worker_id=worker_id))
        if outcome in FINAL_OUTCOMES:
            return outcome
        follow_up = runtime.run(next_delivery(runtime.resources, op_id))
    except (*INFRASTRUCTURE_ERRORS, SoftTimeLimitExceeded) as exc:
        # Soft time limit: the runner handed the row back (attempt not counted) when cancelled;
        # a bounded number of Celery retries continue it from its last checkpoint.
        retries = task.request.retries
        countdown = runtime.settings.job_retry_base_seconds * 2**retries
        _log.warning(
            "celery_job_infrastructure_retry",
            kind=kind, operation_id=operation_id, retry=retries + 1, countdown=countdown,
            error=type(exc).__name__,
        )  # fmt: skip
        raise task.retry(exc=exc, countdown=countdown, max_retries=INFRASTRUCTURE_RETRIES) from exc
    if follow_up is not None:
        task.app.send_task(
            kind, [operation_id], queue=follow_up.queue, countdown=follow_up.countdown
        )
    return outcome


async def request_system_job(resources: JobResources, kind: str, params: dict[str, Any]) -> str:
    """An owner-less operation of ``kind``, sent (after commit) by this process's executor."""
    async with resources.db.transaction(system=True) as session:
        operation = await job_service.request_job(session, kind=kind, owner_id=None, params=params)
    return str(operation.id)


async def overdue_operations(
    resources: JobResources, *, older_than_seconds: float, limit: int = SWEEP_LIMIT
) -> list[tuple[str, str, str]]:
    """Due rows nobody has picked up for a while: (id, kind, queue).

    Messages can be lost (a broker restarted without persistence, a request made where no
    executor runs, Celery retries exhausted); the row is the truth, so the sweep re-sends them.
    """
    now = utcnow()
    async with resources.db.autocommit() as conn:
        rows = await repository.due(conn, now=now, limit=limit)
    stale = now - timedelta(seconds=older_than_seconds)
    return [
        (str(row.id), row.kind, row.queue)
        for row in rows
        if row.status == OperationStatus.RUNNING or (row.not_before or row.updated_at) <= stale
    ]


def register_tasks(app: Celery) -> None:
    """One task per registered job kind, named exactly the kind, routed to the kind's queue."""
    routes: dict[str, dict[str, str]] = {}
    for spec in registry.all_specs():
        app.task(name=spec.kind, bind=True, shared=False, max_retries=INFRASTRUCTURE_RETRIES)(
            _job_task_body(spec.kind)
        )
        routes[spec.kind] = {"queue": spec.queue}
    app.task(name=PERIODIC_TASK, bind=True, shared=False)(request_periodic_job)
    app.task(name=SWEEP_TASK, bind=True, shared=False)(sweep_operations)
    routes[PERIODIC_TASK] = routes[SWEEP_TASK] = {"queue": "maintenance"}
    app.conf.task_routes = routes


def _job_task_body(kind: str) -> Callable[[Task, str], str]:
    def run_job(task: Task, operation_id: str) -> str:
        return deliver(task, kind, operation_id)

    run_job.__name__ = run_job.__qualname__ = f"run_{kind}"
    return run_job


def request_periodic_job(task: Task, kind: str, params: dict[str, Any]) -> str:
    """Beat's entry point: ask for an owner-less operation of ``kind``."""
    runtime = get_runtime(task.app)
    return runtime.run(request_system_job(runtime.resources, kind, params))


def sweep_operations(task: Task) -> int:
    """Re-send due operations that no delivery has taken for a lease period."""
    runtime = get_runtime(task.app)
    grace = float(runtime.settings.job_lease_seconds)
    overdue = runtime.run(overdue_operations(runtime.resources, older_than_seconds=grace))
    for operation_id, kind, queue in overdue:
        task.app.send_task(kind, [operation_id], queue=queue)
    if overdue:
        _log.info("celery_sweep_resent", count=len(overdue))
    return len(overdue)


def create_worker_app(settings: Settings) -> Celery:
    """The app ``celery worker`` and ``celery beat`` run: every registered job kind as a task.

    Call it once the domains' job modules are imported (``quantdesk.worker`` does).
    """
    configure(settings)
    app = create_celery_app(settings)
    register_tasks(app)
    worker_process_shutdown.connect(close_runtime, weak=False)
    return app
