"""The Celery executor: a submitted job becomes a Celery message carrying only the operation id.

Workers (``quantdesk worker``) run it; see ``quantdesk.jobs.celery_config`` for delivery and
retry rules. ``celery_worker_status`` answers ``GET /health/workers`` in this mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from celery import Celery

from quantdesk.jobs.celery_config import create_celery_app
from quantdesk.jobs.executors.base import Executor, Submission
from quantdesk.jobs.registry import QUEUES
from quantdesk.jobs.schemas import WorkerInfo
from quantdesk.kit.config import Settings
from quantdesk.kit.logging import get_logger

_log = get_logger("quantdesk.jobs.celery")
STATUS_TIMEOUT_SECONDS = 1.0


class CeleryExecutor(Executor):
    """Sends ``send_task(kind, [operation_id], queue=queue)``; runs nothing in this process."""

    name = "celery"

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.settings = settings
        self._app = app
        self.status_timeout = STATUS_TIMEOUT_SECONDS  # how long GET /health/workers waits

    @property
    def app(self) -> Celery:
        if self._app is None:
            self._app = create_celery_app(self.settings)
        return self._app

    async def start(self) -> None:
        _ = self.app  # fail at start-up, not at the first job, if the configuration is wrong

    async def stop(self) -> None:
        # Nothing to release: kombu's producer pools are per process and per broker, shared by
        # every app there, so closing them here would break any other sender in this process.
        return None

    async def submit(self, jobs: Sequence[Submission]) -> None:
        if jobs:
            # Publishing is blocking network I/O (and retries while the broker is away): off the
            # loop, every message of one transaction in one hop.
            await asyncio.to_thread(self._send, list(jobs))

    def _send(self, jobs: list[Submission]) -> None:
        # Celery queues are first in, first out: priority orders the local executor and the
        # operations table (sweeps), not the broker.
        for job in jobs:
            self.app.send_task(job.kind, [str(job.operation_id)], queue=job.queue)

    async def workers(self) -> list[WorkerInfo]:
        status = await self.worker_status()
        seen = datetime.now(UTC)
        return [
            WorkerInfo(
                id=worker["name"], executor=self.name, running=worker["active"], last_seen=seen
            )
            for worker in status["workers"]
        ]

    async def worker_status(self) -> dict[str, Any]:
        """Workers seen, their running jobs and the broker's queue depths (see below)."""
        return await asyncio.to_thread(celery_worker_status, self.app, self.status_timeout)


def celery_worker_status(app: Celery, timeout: float = STATUS_TIMEOUT_SECONDS) -> dict[str, Any]:
    """Workers that answer within ``timeout``, their running jobs, and each queue's depth.

    Blocking (one broadcast, then one passive declare per queue): call it from a thread.
    ``{"workers": [{"name", "active"}], "active_jobs": n, "queues": {name: depth | None}}``
    """
    workers: list[dict[str, Any]] = []
    try:
        replies: dict[str, list[Any]] = app.control.inspect(timeout=timeout).active() or {}
    except Exception as exc:  # broker unreachable: report no workers, never fail the health page
        _log.warning("celery_inspect_failed", error=type(exc).__name__)
        replies = {}
    for name, tasks in sorted(replies.items()):
        workers.append({"name": name, "active": len(tasks or [])})
    return {
        "workers": workers,
        "active_jobs": sum(worker["active"] for worker in workers),
        "queues": {queue: _queue_depth(app, queue) for queue in QUEUES},
    }


def _queue_depth(app: Celery, queue: str) -> int | None:
    """Messages waiting in ``queue`` (None if the broker cannot say)."""
    try:
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
            except connection.channel_errors:
                return 0  # Redis drops an empty list's key; the queue is simply empty
            return int(declared.message_count)
    except Exception as exc:
        _log.warning("celery_queue_depth_failed", queue=queue, error=type(exc).__name__)
        return None
