"""Operations as business objects: request jobs (sent only after commit), read, list, cancel,
their files and per-item results, and the workers' health."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.executors.base import Executor, Submission, current_executor
from quantdesk.jobs.registry import QUEUES, UnknownJobKind, get_spec
from quantdesk.jobs.schemas import WorkersHealth
from quantdesk.kit.db import Database, after_commit, limit_statement_time
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound
from quantdesk.kit.events import EventBus
from quantdesk.kit.orm import utcnow
from quantdesk.kit.pagination import decode_time_id, newest_first_page
from quantdesk.models import Operation, OperationStatus

MAX_PAGE_SIZE = 200
RESULTS_PAGE = 1000
_PENDING_SUBMISSIONS = "quantdesk.jobs.submissions"


class OperationNotFound(NotFound):
    code = "operation_not_found"
    message = "Operation not found"


class OperationFinished(Conflict):
    code = "operation_finished"
    message = "The operation has already finished"


def _submit_after_commit(session: AsyncSession, submissions: list[Submission]) -> None:
    """Buffer submissions; once per transaction, all of them go to the executor in one call."""
    pending: list[Submission] | None = session.info.get(_PENDING_SUBMISSIONS)
    if pending is None:
        pending = session.info[_PENDING_SUBMISSIONS] = []

        async def submit() -> None:
            jobs = session.info.pop(_PENDING_SUBMISSIONS, [])
            executor = current_executor()
            # Without an executor in this process (a CLI command), the rows wait for a worker.
            if executor is not None and jobs:
                await executor.submit(jobs)

        after_commit(session, submit)
    pending.extend(submissions)


async def request_jobs(
    session: AsyncSession,
    *,
    kind: str,
    owner_id: uuid.UUID | None,
    params: Sequence[dict[str, Any]],
    priority: int = 0,
) -> list[Operation]:
    """Insert one operation per params (one statement); the executor hears of them only once this
    transaction commits. A system job (``owner_id=None``) needs a system-context transaction."""
    try:
        spec = get_spec(kind)
    except UnknownJobKind as exc:
        raise InvalidInput(f"Unknown job kind {kind!r}", field="kind") from exc
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4(),
            "kind": kind,
            "owner_id": owner_id,
            "status": OperationStatus.PENDING,
            "queue": spec.queue,
            "priority": priority,
            "params": dict(one),
            "progress_done": 0,
            "attempts": 0,
            "max_attempts": spec.max_attempts,
            "cancel_requested": False,
            "created_at": now,
            "updated_at": now,
        }
        for one in params
    ]
    if not rows:
        return []
    await repository.insert_operations(session, rows)
    _submit_after_commit(
        session, [Submission(row["id"], kind, spec.queue, priority) for row in rows]
    )
    return [Operation(**row) for row in rows]  # as inserted (not attached to the session)


async def request_job(
    session: AsyncSession,
    *,
    kind: str,
    owner_id: uuid.UUID | None,
    params: dict[str, Any],
    priority: int = 0,
) -> Operation:
    """One operation (see ``request_jobs``)."""
    (operation,) = await request_jobs(
        session, kind=kind, owner_id=owner_id, params=[params], priority=priority
    )
    return operation


async def attach_file(
    session: AsyncSession, *, operation: Operation, name: str, content: bytes, media_type: str
) -> None:
    """Store a file the job will read (an upload, a long input list) with its request."""
    await repository.put_file(
        session,
        {
            "operation_id": operation.id,
            "name": name,
            "owner_id": operation.owner_id,
            "media_type": media_type,
            "content": content,
            "created_at": utcnow(),
        },
    )


async def get_operation(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> Operation:
    operation = await repository.get_owned(session, owner_id=owner_id, operation_id=operation_id)
    if operation is None:
        raise OperationNotFound()
    return operation


async def find_operation(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> Operation | None:
    return await repository.get_owned(session, owner_id=owner_id, operation_id=operation_id)


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
    before = decode_time_id(cursor)
    rows = await repository.list_owned(
        session, owner_id=owner_id, kind=kind, status=status, limit=limit + 1, before=before
    )
    return newest_first_page(rows, limit)


async def cancel_operation(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID, bus: EventBus
) -> Operation:
    """Pending: cancelled now. Running: flagged; the handler stops at its next step."""
    operation = await get_operation(session, owner_id=owner_id, operation_id=operation_id)
    if operation.finished:
        raise OperationFinished(next_actions=["get_operation"])
    row = await repository.request_cancel(session, operation_id=operation_id, now=utcnow())
    if row is None:  # it finished between the read and the update
        raise OperationFinished(next_actions=["get_operation"])
    snapshot = events.event_for(row, "status")
    await session.refresh(operation)

    async def publish() -> None:
        await bus.publish(events.channel(operation_id), snapshot)

    after_commit(session, publish)
    return operation


async def workers_health(db: Database, executor: Executor | None) -> WorkersHealth:
    depths, active = await backlog(db)
    workers = await executor.workers() if executor is not None else []
    return WorkersHealth(
        executor=executor.name if executor is not None else "none",
        workers=workers,
        active_jobs=active,
        queue_depths={queue: depths.get(queue, 0) for queue in sorted({*depths, *QUEUES})},
    )


async def backlog(
    db: Database, *, statement_seconds: float | None = None
) -> tuple[dict[str, int], int]:
    """(pending operations per queue, operations running now); on PostgreSQL the server gives up
    after ``statement_seconds`` too, so a slow count never outlives a metrics scrape."""
    async with db.transaction(system=True, readonly=True) as session:
        if statement_seconds is not None:
            await limit_statement_time(session, seconds=statement_seconds)
        pending = await repository.pending_by_queue(session)
        running = await repository.running_count(session, now=utcnow())
    return pending, running


async def last_requested(session: AsyncSession, *, kind: str) -> datetime | None:
    return await repository.last_requested(session, kind=kind)


# --- Files and per-item results of an operation -----------------------------------------------


async def operation_file(
    session: AsyncSession, *, operation: Operation, name: str
) -> tuple[bytes, str] | None:
    """(content, media type) of one of the operation's files, if it has it."""
    found = await repository.get_file(session, operation_id=operation.id, name=name)
    return None if found is None else (bytes(found.content), str(found.media_type))


async def stream_results(
    db: Database, *, owner_id: uuid.UUID | None, operation_id: uuid.UUID
) -> AsyncIterator[dict[str, Any]]:
    """Every per-item result of the owner's operation (a system one's without an owner), in item
    order, a page per transaction."""
    after = -1
    while True:
        async with db.transaction(
            user_id=owner_id, system=owner_id is None, readonly=True
        ) as session:
            page = await repository.read_results(
                session, operation_id=operation_id, after=after, limit=RESULTS_PAGE
            )
        for item, payload in page:
            yield {"i": item, **payload}
        if len(page) < RESULTS_PAGE:
            return
        after = page[-1][0]


async def delete_expired(
    session: AsyncSession, *, before: datetime, keep: uuid.UUID, limit: int
) -> int:
    """Delete up to ``limit`` operations that finished before ``before``, with their files."""
    ids = await repository.expired_ids(session, before=before, keep=keep, limit=limit)
    await repository.delete_operations(session, ids)
    return len(ids)
