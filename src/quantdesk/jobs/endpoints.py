"""HTTP surface of operations (background jobs): read, list, cancel; and the workers' health."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from quantdesk.auth.dependencies import CurrentUser
from quantdesk.jobs import service
from quantdesk.jobs.executors.base import Executor
from quantdesk.jobs.schemas import (
    OperationOut,
    OperationProgress,
    OperationStatusName,
    WorkersHealth,
)
from quantdesk.kit.db import DbSession, get_database
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.events import EventBus
from quantdesk.kit.pagination import Page

router = APIRouter(prefix="/operations", tags=["operations"])
health_router = APIRouter(tags=["system"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Envelope[None], "description": "No such operation among yours"}
}
OperationId = Annotated[uuid.UUID, Path(description="The operation's id")]


def _bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.bus
    return bus


def _next_actions(operation: OperationOut) -> list[str]:
    if operation.status in ("pending", "running"):
        return ["get_operation", "cancel_operation"]
    return ["list_operations"]


@router.get("", response_model=Envelope[Page[OperationOut]])
async def list_operations(
    session: DbSession,
    user: CurrentUser,
    kind: Annotated[str | None, Query(max_length=64, description="Only this job kind")] = None,
    status: Annotated[OperationStatusName | None, Query(description="Only this status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Envelope[Page[OperationOut]]:
    """Your operations (background jobs), newest first; `next_cursor` gives the next page."""
    rows, next_cursor = await service.list_operations(
        session, owner_id=user.id, kind=kind, status=status, limit=limit, cursor=cursor
    )
    page = Page[OperationOut](items=[OperationOut.of(r) for r in rows], next_cursor=next_cursor)
    return ok(
        page,
        f"{len(page.items)} operation(s)",
        next_actions=["get_operation", "cancel_operation"],
        count=len(page.items),
    )


@router.get("/{operation_id}", response_model=Envelope[OperationOut], responses=_NOT_FOUND)
async def get_operation(
    operation_id: OperationId, session: DbSession, user: CurrentUser
) -> Envelope[OperationOut]:
    """One operation: status, progress (done/total/message), result or error, attempts.

    For live progress, open the WebSocket `/ws/operations/{operation_id}`.
    """
    operation = OperationOut.of(
        await service.get_operation(session, owner_id=user.id, operation_id=operation_id)
    )
    return ok(
        operation,
        f"Operation {operation.kind} is {operation.status}",
        next_actions=_next_actions(operation),
        websocket=f"/ws/operations/{operation.id}",
    )


@router.post(
    "/{operation_id}/cancel",
    response_model=Envelope[OperationOut],
    responses={
        **_NOT_FOUND,
        409: {"model": Envelope[None], "description": "operation_finished"},
    },
)
async def cancel_operation(
    operation_id: OperationId, request: Request, session: DbSession, user: CurrentUser
) -> Envelope[OperationOut]:
    """Cancel an operation: a pending one at once, a running one at its next step (409 if done)."""
    operation = OperationOut.of(
        await service.cancel_operation(
            session, owner_id=user.id, operation_id=operation_id, bus=_bus(request)
        )
    )
    message = (
        "Operation cancelled"
        if operation.status == "cancelled"
        else "Cancellation requested; the job stops at its next step"
    )
    return ok(operation, message, next_actions=["get_operation", "list_operations"])


@health_router.get("/health/workers", response_model=Envelope[WorkersHealth])
async def get_workers_health(request: Request) -> Envelope[WorkersHealth]:
    """Background workers seen, jobs running now, and pending jobs per queue."""
    executor: Executor | None = getattr(request.app.state, "executor", None)
    health = await service.workers_health(get_database(request), executor)
    return ok(
        health,
        f"{len(health.workers)} worker(s), {health.active_jobs} job(s) running",
        workers=len(health.workers),
    )


@health_router.get(
    "/health/workers/progress/{operation_id}",
    response_model=Envelope[OperationProgress],
    responses=_NOT_FOUND,
)
async def get_operation_progress(
    operation_id: OperationId, session: DbSession, user: CurrentUser
) -> Envelope[OperationProgress]:
    """The progress of one of your operations (done, total, message, percent)."""
    operation = OperationOut.of(
        await service.get_operation(session, owner_id=user.id, operation_id=operation_id)
    )
    return ok(
        operation.progress,
        f"Operation {operation.kind} is {operation.status}",
        next_actions=_next_actions(operation),
        status=operation.status,
    )
