"""Every query on ``operations``: owner-scoped reads for the API, leased writes for workers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.models import Operation, OperationStatus

S = OperationStatus


async def get_owned(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> Operation | None:
    found = await session.execute(
        select(Operation).where(Operation.id == operation_id, Operation.owner_id == owner_id)
    )
    return found.scalar_one_or_none()


async def get(session: AsyncSession, operation_id: uuid.UUID) -> Operation | None:
    """Any operation by id (workers, in the system context)."""
    found = await session.execute(
        select(Operation)
        .where(Operation.id == operation_id)
        .execution_options(populate_existing=True)
    )
    return found.scalar_one_or_none()


async def list_owned(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    kind: str | None,
    status: str | None,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Operation]:
    """Newest first; ``before`` is the (created_at, id) of the last row of the previous page."""
    query = select(Operation).where(Operation.owner_id == owner_id)
    if kind is not None:
        query = query.where(Operation.kind == kind)
    if status is not None:
        query = query.where(Operation.status == status)
    if before is not None:
        created_at, last_id = before
        query = query.where(
            or_(
                Operation.created_at < created_at,
                and_(Operation.created_at == created_at, Operation.id < last_id),
            )
        )
    query = query.order_by(Operation.created_at.desc(), Operation.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars().all())


def _claimable(now: datetime) -> ColumnElement[bool]:
    pending_due = and_(
        Operation.status == S.PENDING,
        or_(Operation.not_before.is_(None), Operation.not_before <= now),
    )
    abandoned = and_(Operation.status == S.RUNNING, Operation.lease_expires_at < now)
    return or_(pending_due, abandoned)


async def claim(
    session: AsyncSession,
    *,
    operation_id: uuid.UUID,
    worker_id: str,
    now: datetime,
    lease_until: datetime,
) -> Operation | None:
    """Take the row for ``worker_id`` in one statement: only one of many concurrent claims wins."""
    claimed = await session.execute(
        update(Operation)
        .where(
            Operation.id == operation_id,
            Operation.attempts < Operation.max_attempts,
            _claimable(now),
        )
        .values(
            status=S.RUNNING,
            lease_owner=worker_id,
            lease_expires_at=lease_until,
            heartbeat_at=now,
            attempts=Operation.attempts + 1,
            started_at=func.coalesce(Operation.started_at, now),
            not_before=None,
            updated_at=now,
        )
        .returning(Operation)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return claimed.scalars().first()


async def update_leased(
    session: AsyncSession, *, operation_id: uuid.UUID, worker_id: str, values: dict[str, Any]
) -> Operation | None:
    """Write to a running row only while ``worker_id`` still holds its lease; the row, or None."""
    updated = await session.execute(
        update(Operation)
        .where(
            Operation.id == operation_id,
            Operation.status == S.RUNNING,
            Operation.lease_owner == worker_id,
        )
        .values(**values)
        .returning(Operation)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return updated.scalars().first()


async def fail_exhausted(
    session: AsyncSession, *, operation_id: uuid.UUID, now: datetime, error: dict[str, Any]
) -> bool:
    """An abandoned run (expired lease) of a job with no attempts left is failed for good."""
    updated = await session.execute(
        update(Operation)
        .where(
            Operation.id == operation_id,
            Operation.attempts >= Operation.max_attempts,
            _claimable(now),
        )
        .values(
            status=S.FAILED,
            error=error,
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(updated, "rowcount", 0))


async def request_cancel(session: AsyncSession, *, operation: Operation, now: datetime) -> None:
    """Pending: cancelled at once. Running: flagged, the handler stops at its next step."""
    await session.execute(
        update(Operation)
        .where(Operation.id == operation.id, Operation.status.in_([S.PENDING, S.RUNNING]))
        .values(cancel_requested=True, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Operation)
        .where(Operation.id == operation.id, Operation.status == S.PENDING)
        .values(status=S.CANCELLED, finished_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(operation)


async def due_for_work(session: AsyncSession, *, now: datetime, limit: int) -> list[Operation]:
    """Pending rows whose time has come and running rows whose lease expired, by priority."""
    query = (
        select(Operation)
        .where(_claimable(now))
        .order_by(Operation.priority.desc(), Operation.created_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def pending_by_queue(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(Operation.queue, func.count())
        .where(Operation.status == S.PENDING)
        .group_by(Operation.queue)
    )
    return {queue: int(count) for queue, count in rows.all()}


async def running_count(session: AsyncSession, *, now: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Operation)
        .where(Operation.status == S.RUNNING, Operation.lease_expires_at >= now)
    )
    return int(count or 0)


async def last_requested(session: AsyncSession, *, kind: str) -> datetime | None:
    """When a system job of ``kind`` was last requested (the in-process scheduler's memory)."""
    latest: datetime | None = await session.scalar(
        select(func.max(Operation.created_at)).where(
            Operation.kind == kind, Operation.owner_id.is_(None)
        )
    )
    return latest
