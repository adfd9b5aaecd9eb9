"""Job kinds: ``@job(kind)`` registers a handler; domains register theirs, the platform runs them.

A handler takes a :class:`~quantdesk.jobs.context.JobContext` (ids and params, never ORM objects)
and returns a JSON-serialisable result dict, or None. ``every=`` makes the kind periodic: the
in-process scheduler (embedded) and Celery beat (scaled out) both read the periodic kinds from
here, so the schedule is declared once, next to the job.

This module imports no domain: each process imports the domains' task modules through the
composition root (``quantdesk.domains``), which is what makes their ``@job`` lines run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantdesk.jobs.context import JobContext

Handler = Callable[["JobContext"], Awaitable[dict[str, Any] | None]]

QUEUES = ("validation", "bulk_validation", "maintenance")


class UnknownJobKind(KeyError):
    """No handler is registered under this kind."""


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: Handler
    queue: str = "maintenance"
    max_attempts: int = 4
    every: timedelta | None = None  # periodic: requested as a system job this often
    params: Mapping[str, Any] = field(default_factory=dict)  # of the periodic requests

    @property
    def periodic(self) -> bool:
        return self.every is not None


_SPECS: dict[str, JobSpec] = {}


def job(
    kind: str,
    *,
    queue: str = "maintenance",
    max_attempts: int = 4,
    every: timedelta | None = None,
    params: Mapping[str, Any] | None = None,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the job ``kind``: ``@job("validate_asset", queue="validation")``."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if every is not None and every.total_seconds() <= 0:
        raise ValueError("every must be a positive interval")

    def register(handler: Handler) -> Handler:
        existing = _SPECS.get(kind)
        # A module imported again (a reload) registers the same function anew: allowed.
        if existing is not None and _where(existing.handler) != _where(handler):
            raise ValueError(f"job kind {kind!r} is already registered")
        _SPECS[kind] = JobSpec(
            kind=kind,
            handler=handler,
            queue=queue,
            max_attempts=max_attempts,
            every=every,
            params=dict(params or {}),
        )
        return handler

    return register


def _where(handler: Handler) -> tuple[str, str]:
    return handler.__module__, handler.__qualname__


def get_spec(kind: str) -> JobSpec:
    try:
        return _SPECS[kind]
    except KeyError:
        raise UnknownJobKind(kind) from None


def all_specs() -> list[JobSpec]:
    return sorted(_SPECS.values(), key=lambda spec: spec.kind)


def periodic_specs() -> list[JobSpec]:
    """The periodic kinds (the one schedule), by kind."""
    return [spec for spec in all_specs() if spec.periodic]
