"""The one small interface every executor implements (Airflow's BaseExecutor is the model).

The rest of the code only requests jobs (``jobs.service.request_job``); which executor carries the
operation ids to workers is configuration.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from quantdesk.jobs.schemas import WorkerInfo


@dataclass(frozen=True)
class Submission:
    """A committed operation to hand to a worker: its id and how to route it, never the row."""

    operation_id: uuid.UUID
    kind: str
    queue: str
    priority: int = 0


class Executor(ABC):
    name: str = "base"

    @abstractmethod
    async def start(self) -> None:
        """Begin accepting work (and resume unfinished rows, where the executor runs them)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop gracefully: no new work; running jobs finish or are handed back as pending."""

    @abstractmethod
    async def submit(self, jobs: Sequence[Submission]) -> None:
        """Hand committed operations to workers (one or many, in one go)."""

    async def workers(self) -> list[WorkerInfo]:
        """The workers this executor knows of, for GET /health/workers."""
        return []


_stack: list[Executor] = []


def current_executor() -> Executor | None:
    """The executor of this process (the latest started one still running), if any."""
    return _stack[-1] if _stack else None


def push_current_executor(executor: Executor) -> None:
    _stack.append(executor)


def pop_current_executor(executor: Executor) -> None:
    if executor in _stack:
        _stack.remove(executor)
