"""Executors: ``local`` (asyncio pool in process) or ``celery``, chosen by QUANTDESK_EXECUTOR."""

from __future__ import annotations

from quantdesk.jobs.executors.base import (
    Executor,
    Submission,
    current_executor,
    pop_current_executor,
    push_current_executor,
)
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings

__all__ = [
    "Executor",
    "Submission",
    "build_executor",
    "current_executor",
    "pop_current_executor",
    "push_current_executor",
]


def build_executor(settings: Settings, resources: JobResources) -> Executor:
    if settings.executor == "celery":
        from quantdesk.jobs.executors.celery import CeleryExecutor

        return CeleryExecutor(settings)
    from quantdesk.jobs.executors.local import LocalExecutor

    return LocalExecutor(
        resources,
        concurrency=settings.local_executor_concurrency,
        shutdown_grace_seconds=settings.local_executor_shutdown_grace_seconds,
    )
