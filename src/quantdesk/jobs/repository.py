"""Every query on ``operations`` and its files and results.

The hot path of a job (claim, heartbeat, checkpoint, finish) is a handful of Core statements built
once at import, each one round trip that returns only the columns its caller needs; workers run
them on ``Database.autocommit()`` connections (the system context, no BEGIN/COMMIT). Owner-scoped
reads for the API take the request's session.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.jobs.schemas import AnyRow
from quantdesk.kit.db import dialect_name, upsert_into
from quantdesk.kit.orm import IndexedBy, UTCDateTime
from quantdesk.kit.pagination import newest_first
from quantdesk.models import LoopLease, Operation, OperationFile, OperationResult, OperationStatus

S = OperationStatus
ops = cast(Table, Operation.__table__)
_files = cast(Table, OperationFile.__table__)
_results = cast(Table, OperationResult.__table__)
c = ops.c

# What an operation looks like to the API and on the event bus (no lease bookkeeping).
EVENT_COLUMNS = (
    c.id, c.kind, c.status, c.queue, c.priority, c.params, c.progress_done, c.progress_total,
    c.progress_message, c.result, c.error, c.attempts, c.max_attempts, c.cancel_requested,
    c.created_at, c.started_at, c.finished_at, c.updated_at,
)  # fmt: skip
# What the runner needs of a claimed row: the event's columns and who owns it.
CLAIM_COLUMNS = (*EVENT_COLUMNS, c.owner_id)
# What a finish returns: what may have changed since the claim that the finish did not set
# itself (the rest of the final event is the claimed row and the values written).
FINISH_COLUMNS = (
    c.id,
    c.attempts,
    c.progress_done,
    c.progress_total,
    c.progress_message,
    c.cancel_requested,
)

_now = bindparam("b_now", type_=UTCDateTime())
_id = bindparam("b_id", type_=c.id.type)
_worker = bindparam("b_worker", type_=String())


def _claimable(now: ColumnElement[Any]) -> ColumnElement[bool]:
    pending_due = and_(c.status == S.PENDING, or_(c.not_before.is_(None), c.not_before <= now))
    abandoned = and_(c.status == S.RUNNING, c.lease_expires_at < now)
    return or_(pending_due, abandoned)


_CLAIM_VALUES: dict[str, Any] = {
    "status": S.RUNNING,
    "lease_owner": _worker,
    "lease_expires_at": bindparam("b_lease_until", type_=UTCDateTime()),
    "heartbeat_at": _now,
    "attempts": c.attempts + 1,
    "started_at": func.coalesce(c.started_at, _now),
    "not_before": None,
    "updated_at": _now,
}
_CLAIM = (
    update(ops)
    .where(c.id == _id, c.attempts < c.max_attempts, _claimable(_now))
    .values(_CLAIM_VALUES)
    .returning(*CLAIM_COLUMNS)
)
# Up to b_limit pending rows whose time has come, by priority then age: read in order from the
# partial index ix_operations_pending_order (no sort of every pending row per claim).
# PostgreSQL: the rows are picked in a CTE with FOR UPDATE SKIP LOCKED (other claimers take the
# rest; in a plain IN (subquery) the planner may run the subquery again and take more than the
# limit). SQLite has one writer at a time, so the plain subquery is already exclusive there.
# Running rows whose lease expired are not claimed here: ``release_abandoned`` puts them back.
# The status is written into the SQL, not bound: PostgreSQL plans a prepared statement once
# (a generic plan) only if that plan can use the partial index, which needs the literal; with a
# bound status it plans every execution again (0.5 ms, more than running it).
_PENDING: ColumnElement[Any] = literal_column(f"'{S.PENDING}'")
_DUE_IDS = (
    select(c.id)
    .select_from(IndexedBy(ops, "ix_operations_pending_order"))
    .where(
        c.status == _PENDING,
        or_(c.not_before.is_(None), c.not_before <= _now),
        c.attempts < c.max_attempts,
    )
    .order_by(c.priority.desc(), c.created_at)
    .limit(bindparam("b_limit", type_=Integer()))
)
_picked = _DUE_IDS.with_for_update(skip_locked=True).cte("picked")
_CLAIM_BATCH_POSTGRESQL = (
    update(ops).where(c.id == _picked.c.id).values(_CLAIM_VALUES).returning(*CLAIM_COLUMNS)
)
_CLAIM_BATCH_SQLITE = (
    update(ops)
    .where(c.id.in_(_DUE_IDS.scalar_subquery()))
    .values(_CLAIM_VALUES)
    .returning(*CLAIM_COLUMNS)
)
# Running rows whose worker stopped renewing the lease, with attempts left: pending again (the
# interrupted attempt stays counted), so a batch claim takes them like any other.
_RELEASE_ABANDONED = (
    update(ops)
    .where(c.status == S.RUNNING, c.lease_expires_at < _now, c.attempts < c.max_attempts)
    .values(status=S.PENDING, lease_owner=None, lease_expires_at=None, updated_at=_now)
    .returning(c.id)
)
_FAIL_EXHAUSTED = (
    update(ops)
    .where(c.attempts >= c.max_attempts, _claimable(_now))
    .values(
        status=S.FAILED,
        error=bindparam("b_error", type_=c.error.type),
        lease_owner=None,
        lease_expires_at=None,
        finished_at=_now,
        updated_at=_now,
    )
    .returning(*EVENT_COLUMNS)
)
_leased = and_(c.id == _id, c.status == S.RUNNING, c.lease_owner == _worker)
_HEARTBEAT = (
    update(ops)
    .where(_leased)
    .values(lease_expires_at=bindparam("b_lease_until", type_=UTCDateTime()), heartbeat_at=_now)
    .returning(c.cancel_requested)
)
_CHECKPOINT = (
    update(ops)
    .where(_leased)
    .values(
        progress_done=bindparam("b_done", type_=Integer()),
        progress_total=func.coalesce(bindparam("b_total", type_=Integer()), c.progress_total),
        progress_message=func.coalesce(bindparam("b_message", type_=String()), c.progress_message),
        updated_at=_now,
    )
    .returning(*EVENT_COLUMNS)
)
_FINISH = (
    update(ops)
    .where(_leased)
    .values(
        status=bindparam("b_status", type_=String()),
        result=bindparam("b_result", type_=c.result.type),
        error=bindparam("b_error", type_=c.error.type),
        not_before=bindparam("b_not_before", type_=UTCDateTime()),
        finished_at=bindparam("b_finished_at", type_=UTCDateTime()),
        attempts=c.attempts - bindparam("b_refund", type_=Integer()),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=_now,
    )
    .returning(*FINISH_COLUMNS)
)
_CANCEL_REQUESTED = select(c.cancel_requested).where(c.id == _id)
_DUE = (
    select(c.id, c.kind, c.queue, c.status, c.not_before, c.updated_at)
    .where(_claimable(_now))
    .order_by(c.priority.desc(), c.created_at)
    .limit(bindparam("b_limit", type_=Integer()))
)
_NEXT_DELIVERY = select(c.status, c.queue, c.not_before, c.lease_expires_at).where(c.id == _id)
_NEXT_DUE = select(func.min(func.coalesce(c.not_before, c.created_at))).where(c.status == S.PENDING)


# --- The worker's hot path (autocommit connections, system context) ---------------------------


async def claim(
    conn: AsyncConnection, *, operation_id: uuid.UUID, worker_id: str, now: datetime,
    lease_until: datetime,
) -> AnyRow | None:  # fmt: skip
    """Take one row for ``worker_id`` in one statement: only one of many concurrent claims wins."""
    found = await conn.execute(
        _CLAIM,
        {"b_id": operation_id, "b_worker": worker_id, "b_now": now, "b_lease_until": lease_until},
    )
    return found.first()


async def claim_batch(
    conn: AsyncConnection, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
) -> Sequence[AnyRow]:
    """Take up to ``limit`` due pending rows, highest priority first, oldest first."""
    statement = (
        _CLAIM_BATCH_POSTGRESQL if conn.dialect.name == "postgresql" else _CLAIM_BATCH_SQLITE
    )
    found = await conn.execute(
        statement,
        {"b_worker": worker_id, "b_now": now, "b_lease_until": lease_until, "b_limit": limit},
    )
    return found.all()


async def release_abandoned(conn: AsyncConnection, *, now: datetime) -> int:
    """Put abandoned runs (expired lease, attempts left) back to pending; how many."""
    return len((await conn.execute(_RELEASE_ABANDONED, {"b_now": now})).all())


async def fail_exhausted(
    conn: AsyncConnection, *, now: datetime, error: dict[str, Any], operation_id: uuid.UUID | None
) -> Sequence[AnyRow]:
    """Abandoned runs (expired lease) of jobs with no attempts left fail for good; the rows."""
    statement = _FAIL_EXHAUSTED if operation_id is None else _FAIL_EXHAUSTED.where(c.id == _id)
    params: dict[str, Any] = {"b_now": now, "b_error": error}
    if operation_id is not None:
        params["b_id"] = operation_id
    return (await conn.execute(statement, params)).all()


async def heartbeat(
    conn: AsyncConnection, *, operation_id: uuid.UUID, worker_id: str, now: datetime,
    lease_until: datetime,
) -> bool | None:  # fmt: skip
    """Renew the lease; ``cancel_requested`` of the row, or None when the lease is not ours."""
    found = await conn.execute(
        _HEARTBEAT,
        {"b_id": operation_id, "b_worker": worker_id, "b_now": now, "b_lease_until": lease_until},
    )
    row = found.first()
    return None if row is None else bool(row.cancel_requested)


async def checkpoint(
    session: AsyncSession | AsyncConnection, *, operation_id: uuid.UUID, worker_id: str,
    now: datetime, done: int, total: int | None, message: str | None,
) -> AnyRow | None:  # fmt: skip
    """Progress inside the job's own transaction (it commits with the work it counts)."""
    found = await session.execute(
        _CHECKPOINT,
        {
            "b_id": operation_id, "b_worker": worker_id, "b_now": now, "b_done": done,
            "b_total": total, "b_message": message,
        },
    )  # fmt: skip
    return found.first()


@dataclass(frozen=True, slots=True)
class Ending:
    """How one run ends: the values a finish writes while ``worker_id`` holds the lease."""

    operation_id: uuid.UUID
    worker_id: str
    now: datetime
    status: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    not_before: datetime | None = None
    finished_at: datetime | None = None
    refund: int = 0


# The columns of an ending, in Ending's field order, as the rows of a VALUES list.
_ENDING_TYPES: tuple[Any, ...] = (
    c.id.type, String(), UTCDateTime(), String(), c.result.type, c.error.type, UTCDateTime(),
    UTCDateTime(), Integer(),
)  # fmt: skip
_ENDING_NAMES = (
    "id", "worker", "now", "status", "result", "error", "not_before", "finished_at", "refund",
)  # fmt: skip


def _values(e: Ending) -> tuple[Any, ...]:
    # By hand: dataclasses.astuple deep-copies every value (the result and error dicts).
    return (
        e.operation_id, e.worker_id, e.now, e.status, e.result, e.error, e.not_before,
        e.finished_at, e.refund,
    )  # fmt: skip


@functools.cache
def _finish_many_statement(count: int) -> Any:
    """One UPDATE for ``count`` endings: ``WITH v AS (SELECT ... UNION ALL ...) UPDATE ... FROM v``.

    Built once per count, its values named typed binds (``e{row}_{column}``; an untyped NULL
    would be text on PostgreSQL). Rows as SELECTs, not a VALUES list: SQLAlchemy does not cache
    the compiled form of a VALUES construct, and compiling it per call costs more than the
    round trip it saves.
    """
    rows = [
        select(
            *(
                bindparam(f"e{row}_{n}", type_=t).label(n)
                for n, t in zip(_ENDING_NAMES, _ENDING_TYPES, strict=True)
            )
        )
        for row in range(count)
    ]
    v = union_all(*rows).cte("v")
    return (
        update(ops)
        .where(c.id == v.c.id, c.status == S.RUNNING, c.lease_owner == v.c.worker)
        .values(
            status=v.c.status,
            result=v.c.result,
            error=v.c.error,
            not_before=v.c.not_before,
            finished_at=v.c.finished_at,
            attempts=c.attempts - v.c.refund,
            lease_owner=None,
            lease_expires_at=None,
            updated_at=v.c.now,
        )
        .returning(*FINISH_COLUMNS)
    )


async def finish(conn: AsyncConnection, ending: Ending) -> AnyRow | None:
    """Record an outcome while the lease is ours (and give it up); the row, or None."""
    e = ending
    found = await conn.execute(
        _FINISH,
        {
            "b_id": e.operation_id, "b_worker": e.worker_id, "b_now": e.now, "b_status": e.status,
            "b_result": e.result, "b_error": e.error, "b_not_before": e.not_before,
            "b_finished_at": e.finished_at, "b_refund": e.refund,
        },
    )  # fmt: skip
    return found.first()


async def finish_many(conn: AsyncConnection, endings: Sequence[Ending]) -> dict[uuid.UUID, AnyRow]:
    """Record many outcomes in one statement; the rows written, by id (a lost lease: absent)."""
    if len(endings) == 1:
        row = await finish(conn, endings[0])
        return {} if row is None else {row.id: row}
    params = {
        f"e{row}_{name}": value
        for row, ending in enumerate(endings)
        for name, value in zip(_ENDING_NAMES, _values(ending), strict=True)
    }
    found = await conn.execute(_finish_many_statement(len(endings)), params)
    return {row.id: row for row in found.all()}


async def cancel_requested(conn: AsyncConnection, operation_id: uuid.UUID) -> bool:
    found = (await conn.execute(_CANCEL_REQUESTED, {"b_id": operation_id})).first()
    return found is None or bool(found.cancel_requested)


async def due(conn: AsyncConnection, *, now: datetime, limit: int) -> Sequence[AnyRow]:
    """Due rows (pending whose time has come, running whose lease expired): id, kind, queue…"""
    return (await conn.execute(_DUE, {"b_now": now, "b_limit": limit})).all()


async def next_delivery(conn: AsyncConnection, operation_id: uuid.UUID) -> AnyRow | None:
    return (await conn.execute(_NEXT_DELIVERY, {"b_id": operation_id})).first()


async def next_due(conn: AsyncConnection) -> datetime | None:
    """When the earliest pending row becomes due (the local executor sleeps until then)."""
    found: datetime | None = (await conn.execute(_NEXT_DUE)).scalar()
    if found is not None and found.tzinfo is None:  # SQLite's MIN() loses the column type
        found = UTCDateTime().process_result_value(found, conn.dialect)
    return found


# --- Requests --------------------------------------------------------------------------------


async def insert_operations(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(insert(ops), list(rows))


# --- Owner-scoped reads (the API) -------------------------------------------------------------


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
    query = newest_first(query, Operation, before=before, limit=limit)
    return list((await session.execute(query)).scalars().all())


async def request_cancel(
    session: AsyncSession, *, operation_id: uuid.UUID, now: datetime
) -> AnyRow | None:
    """Pending: cancelled at once. Running: flagged, the handler stops at its next step."""
    at = literal(now, UTCDateTime())
    pending = c.status == S.PENDING
    found = await session.execute(
        update(ops)
        .where(c.id == operation_id, c.status.in_([S.PENDING, S.RUNNING]))
        .values(
            cancel_requested=True,
            status=case((pending, S.CANCELLED), else_=c.status),
            finished_at=case((pending, at), else_=c.finished_at),
            updated_at=at,
        )
        .returning(*EVENT_COLUMNS)
    )
    return found.first()


async def pending_by_queue(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(c.queue, func.count()).where(c.status == S.PENDING).group_by(c.queue)
    )
    return {queue: int(count) for queue, count in rows.all()}


async def running_count(session: AsyncSession, *, now: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ops)
        .where(c.status == S.RUNNING, c.lease_expires_at >= now)
    )
    return int(count or 0)


async def last_requested(session: AsyncSession, *, kind: str) -> datetime | None:
    """When a system job of ``kind`` was last requested (the in-process scheduler's memory)."""
    latest: datetime | None = await session.scalar(
        select(func.max(c.created_at)).where(c.kind == kind, c.owner_id.is_(None))
    )
    if latest is not None and latest.tzinfo is None:  # SQLite's MAX() loses the column type
        latest = UTCDateTime().process_result_value(latest, session.get_bind().dialect)
    return latest


async def expired_ids(
    session: AsyncSession, *, before: datetime, keep: uuid.UUID, limit: int
) -> list[uuid.UUID]:
    """Finished operations that finished before ``before`` (not ``keep``), at most ``limit``."""
    rows = await session.execute(
        select(c.id)
        .where(c.status.in_(S.FINISHED), c.finished_at < before, c.id != keep)
        .limit(limit)
    )
    return list(rows.scalars())


async def delete_operations(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    """Delete operations; their files and results go with them (ON DELETE CASCADE)."""
    if ids:
        await session.execute(delete(_results).where(_results.c.operation_id.in_(list(ids))))
        await session.execute(delete(_files).where(_files.c.operation_id.in_(list(ids))))
        await session.execute(delete(ops).where(c.id.in_(list(ids))))


# --- Files and per-item results ---------------------------------------------------------------


async def put_file(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(delete(_files).where(
        _files.c.operation_id == row["operation_id"], _files.c.name == row["name"]
    ))  # fmt: skip
    await session.execute(insert(_files).values(**row))


async def get_file(session: AsyncSession, *, operation_id: uuid.UUID, name: str) -> AnyRow | None:
    found = await session.execute(
        select(_files.c.media_type, _files.c.content).where(
            _files.c.operation_id == operation_id, _files.c.name == name
        )
    )
    return found.first()


async def put_results(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_results), list(rows))


async def read_results(
    session: AsyncSession, *, operation_id: uuid.UUID, after: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """Results in item order, from the item after ``after`` (-1 for the first)."""
    rows = await session.execute(
        select(_results.c.item, _results.c.payload)
        .where(_results.c.operation_id == operation_id, _results.c.item > after)
        .order_by(_results.c.item)
        .limit(limit)
    )
    return [(int(item), payload) for item, payload in rows.all()]


async def count_results(session: AsyncSession, *, operation_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(_results).where(_results.c.operation_id == operation_id)
    )
    return int(count or 0)


# --- Loops that run once across every process -------------------------------------------------

_leases = cast(Table, LoopLease.__table__)


async def take_loop_turn(
    session: AsyncSession, *, name: str, holder: str, now: datetime, next_run_at: datetime
) -> bool:
    """True when ``holder`` may run loop ``name`` now: nobody else runs it in a concurrent
    transaction and its time has come (``next_run_at`` of the last turn). The turn is recorded
    in the caller's transaction, so a rolled-back turn is not spent."""
    postgresql = dialect_name(session) == "postgresql"
    if postgresql:
        # Concurrent claimants do not queue behind the row lock: they see it taken and go.
        key = func.hashtext(literal(f"quantdesk.loop:{name}"))
        if not await session.scalar(select(func.pg_try_advisory_xact_lock(key))):
            return False
    turn = {"holder": holder, "ran_at": now, "next_run_at": next_run_at}
    stmt = upsert_into(session, _leases).values(name=name, **turn)
    upsert = stmt.on_conflict_do_update(
        index_elements=[_leases.c.name], set_=turn, where=_leases.c.next_run_at <= now
    )
    return (await session.execute(upsert.returning(_leases.c.name))).first() is not None
