"""Job kinds: ``@job(kind)`` registers a handler; every process loads the same task modules.

A handler takes a :class:`~quantdesk.jobs.context.JobContext` (ids and params, never ORM objects)
and returns a JSON-serialisable result dict, or None.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantdesk.jobs.context import JobContext

Handler = Callable[["JobContext"], Awaitable[dict[str, Any] | None]]

QUEUES = ("validation", "bulk_validation", "maintenance")
# Every domain's tasks module: imported by the API and by workers so both know every kind.
TASK_MODULES = (
    "quantdesk.market.tasks",
    "quantdesk.universes.tasks",
    "quantdesk.jobs.maintenance",
)


class UnknownJobKind(KeyError):
    """No handler is registered under this kind."""


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: Handler
    queue: str = "maintenance"
    max_attempts: int = 4


_SPECS: dict[str, JobSpec] = {}


def job(
    kind: str, *, queue: str = "maintenance", max_attempts: int = 4
) -> Callable[[Handler], Handler]:
    """Register ``handler`` as the job ``kind``: ``@job("validate_asset", queue="validation")``."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; use one of {QUEUES}")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def register(handler: Handler) -> Handler:
        existing = _SPECS.get(kind)
        # Re-importing a module re-registers the same function under a new object; allow it.
        if existing is not None and existing.handler.__qualname__ != handler.__qualname__:
            raise ValueError(f"job kind {kind!r} is already registered")
        _SPECS[kind] = JobSpec(kind=kind, handler=handler, queue=queue, max_attempts=max_attempts)
        return handler

    return register


def get_spec(kind: str) -> JobSpec:
    try:
        return _SPECS[kind]
    except KeyError:
        raise UnknownJobKind(kind) from None


def all_specs() -> list[JobSpec]:
    return sorted(_SPECS.values(), key=lambda spec: spec.kind)


def unregister(kind: str) -> None:
    """Forget a kind (tests and benchmarks register throwaway kinds)."""
    _SPECS.pop(kind, None)


def load_task_modules() -> None:
    """Import every domain's tasks module so their ``@job`` registrations exist in this process."""
    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a module that exists but fails to import is a real error
                raise
