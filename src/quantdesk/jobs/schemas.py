"""Operations as the API (and the event bus) show them."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from quantdesk.models import Operation

AnyRow = Row[*tuple[Any, ...]]
"""A Core result row of any shape (attribute access by column name)."""
# An ORM row, a Core row carrying the event columns (``jobs.repository.EVENT_COLUMNS``), or a
# namespace of them.
OperationLike = Operation | AnyRow | SimpleNamespace

OperationStatusName = Literal["pending", "running", "succeeded", "failed", "cancelled"]
EventType = Literal["status", "progress", "completed", "failed", "cancelled"]


class OperationProgress(BaseModel):
    done: int
    total: int | None = None
    message: str | None = None
    percent: float | None = Field(
        default=None, description="100 * done / total, when total is known"
    )


class OperationError(BaseModel):
    type: str
    message: str


class OperationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: OperationStatusName
    queue: str
    priority: int
    params: dict[str, Any]
    progress: OperationProgress
    result: dict[str, Any] | None = None
    error: OperationError | None = None
    attempts: int
    max_attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime

    @classmethod
    def of(cls, operation: OperationLike) -> OperationOut:
        total = operation.progress_total
        percent = None
        if total:
            percent = round(min(100.0, operation.progress_done * 100.0 / total), 2)
        error = operation.error
        return cls(
            id=operation.id,
            kind=operation.kind,
            status=operation.status,
            queue=operation.queue,
            priority=operation.priority,
            params=operation.params,
            progress=OperationProgress(
                done=operation.progress_done,
                total=total,
                message=operation.progress_message,
                percent=percent,
            ),
            result=operation.result,
            error=OperationError(
                type=str(error.get("type", "Error")), message=str(error.get("message", ""))
            )
            if error
            else None,
            attempts=operation.attempts,
            max_attempts=operation.max_attempts,
            cancel_requested=operation.cancel_requested,
            created_at=operation.created_at,
            started_at=operation.started_at,
            finished_at=operation.finished_at,
            updated_at=operation.updated_at,
        )


class WorkerInfo(BaseModel):
    id: str
    executor: str
    concurrency: int | None = None
    running: int | None = None
    last_seen: datetime | None = None


class WorkersHealth(BaseModel):
    executor: str
    workers: list[WorkerInfo]
    active_jobs: int = Field(description="Operations running now (with a live lease)")
    queue_depths: dict[str, int] = Field(description="Pending operations per queue")
