"""Operations as business objects: request a job (sent only after commit), read, list, cancel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.executors.base import current_executor
from quantdesk.jobs.registry import UnknownJobKind, get_spec
from quantdesk.kit.db import after_commit
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound
from quantdesk.kit.events import EventBus
from quantdesk.kit.orm import utcnow
from quantdesk.kit.pagination import decode_cursor, encode_cursor
from quantdesk.models import Operation, OperationStatus

MAX_PAGE_SIZE = 200


class OperationNotFound(NotFound):
    code = "operation_not_found"
    message = "Operation not found"


class OperationFinished(Conflict):
    code = "operation_finished"
    message = "The operation has already finished"


async def request_job(
    session: AsyncSession,
    *,
    kind: str,
    owner_id: uuid.UUID | None,
    params: dict[str, Any],
    priority: int = 0,
) -> Operation:
    """Insert the operation; the executor hears of it only once this transaction commits.

    A system job (``owner_id=None``) must be requested in a system-context transaction.
    """
    try:
        spec = get_spec(kind)
    except UnknownJobKind as exc:
        raise InvalidInput(f"Unknown job kind {kind!r}", field="kind") from exc
    operation = Operation(
        kind=kind,
        owner_id=owner_id,
        status=OperationStatus.PENDING,
        queue=spec.queue,
        priority=priority,
        params=params,
        progress_done=0,
        attempts=0,
        max_attempts=spec.max_attempts,
        cancel_requested=False,
    )
    session.add(operation)
    await session.flush()
    operation_id, queue = operation.id, spec.queue

    async def submit() -> None:
        executor = current_executor()
        # Without an executor in this process (a CLI command), the row waits for a worker's sweep.
        if executor is not None:
            await executor.submit(operation_id, kind, queue)

    after_commit(session, submit)
    return operation


async def get_operation(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> Operation:
    operation = await repository.get_owned(session, owner_id=owner_id, operation_id=operation_id)
    if operation is None:
        raise OperationNotFound()
    return operation


async def list_operations(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Operation], str | None]:
    """One page, newest first, and the cursor of the next page (None on the last)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    before = _cursor_position(decode_cursor(cursor))
    rows = await repository.list_owned(
        session, owner_id=owner_id, kind=kind, status=status, limit=limit + 1, before=before
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor({"c": last.created_at.isoformat(), "i": str(last.id)})
    return rows, next_cursor


def _cursor_position(position: dict[str, Any]) -> tuple[datetime, uuid.UUID] | None:
    """(created_at, id) of the previous page's last row; a forged cursor is a 422, never a 500."""
    if not position:
        return None
    try:
        created_at = datetime.fromisoformat(position["c"])
        last_id = uuid.UUID(position["i"])
        if created_at.tzinfo is None:
            raise ValueError("naive time")
        return created_at.astimezone(UTC), last_id  # raises off the UTC calendar
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InvalidInput("The cursor is not valid", field="cursor") from exc


async def cancel_operation(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID, bus: EventBus
) -> Operation:
    """Pending: cancelled now. Running: flagged; the handler stops at its next step."""
    operation = await get_operation(session, owner_id=owner_id, operation_id=operation_id)
    if operation.finished:
        raise OperationFinished(next_actions=["get_operation"])
    await repository.request_cancel(session, operation=operation, now=utcnow())
    snapshot = events.event_for(operation, "status")

    async def publish() -> None:
        await bus.publish(events.channel(operation_id), snapshot)

    after_commit(session, publish)
    return operation
