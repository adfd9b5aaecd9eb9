"""Every query of the refresh queue (the store and history: ``store_repository``). Global data
(no owner), so callers use system-context transactions.

The queue's hot statements (claim, lease bookkeeping) are Core statements built once, each one
round trip. Statuses that select a partial index are written into the SQL as literals, not bound:
PostgreSQL plans a prepared statement once (a generic plan) only if that plan can use the partial
index, which needs the literal (see ``jobs.repository``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from quantdesk.jobs.schemas import AnyRow
from quantdesk.kit.db import dialect_name, upsert_into
from quantdesk.kit.orm import IndexedBy, UTCDateTime
from quantdesk.models import ProviderQuota, RefreshRequest, RefreshStatus

S = RefreshStatus
_queue = cast(Table, RefreshRequest.__table__)
q = _queue.c


def _is_postgresql(session: AsyncSession) -> bool:
    return dialect_name(session) == "postgresql"


# --- The refresh queue --------------------------------------------------------------------------

_ACTIVE_WHERE = text("status IN ('pending', 'processing')")
_PENDING: ColumnElement[Any] = literal_column(f"'{S.PENDING}'")
_PROCESSING: ColumnElement[Any] = literal_column(f"'{S.PROCESSING}'")
_FINISHED: list[ColumnElement[Any]] = [literal_column(f"'{s}'") for s in S.FINISHED]
_now = bindparam("b_now", type_=UTCDateTime())
_worker = bindparam("b_worker", type_=String())
# A list of ids: ``= ANY(:ids)``, one array parameter, on PostgreSQL (the statement compiles
# once, whatever the list's length); SQLite has no arrays: an IN list expanded per length.
_ID_LIST: dict[str, ColumnElement[bool]] = {
    "postgresql": q.id == any_(bindparam("b_ids", type_=postgresql.ARRAY(BigInteger()))),
    "sqlite": q.id.in_(bindparam("b_ids", expanding=True, type_=q.id.type)),
}


def _per_dialect(build: Callable[[ColumnElement[bool]], Any]) -> dict[str, Any]:
    return {dialect: build(ids) for dialect, ids in _ID_LIST.items()}


# What a worker needs of a claimed row.
CLAIMED_COLUMNS = (q.id, q.symbol, q.data_type, q.provider, q.priority, q.attempts)


def _enqueue_statement(session: AsyncSession) -> Any:
    stmt = upsert_into(session, _queue)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=[q.symbol, q.data_type],
        index_where=_ACTIVE_WHERE,
        set_={
            "priority": case((new.priority > q.priority, new.priority), else_=q.priority),
            "run_at": case((new.run_at < q.run_at, new.run_at), else_=q.run_at),
            "provider": func.coalesce(q.provider, new.provider),
            "updated_at": new.updated_at,
        },
    )


async def enqueue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Queue calls (symbol, data_type, provider, priority, run_at, now); a pair already pending
    or processing keeps its one row, its priority raised and its run_at brought forward."""
    if not rows:
        return
    values = [
        {
            "symbol": r["symbol"], "data_type": r["data_type"], "provider": r["provider"],
            "priority": r["priority"], "status": S.PENDING, "attempts": 0, "run_at": r["run_at"],
            "created_at": r["now"], "updated_at": r["now"],
        }
        for r in rows
    ]  # fmt: skip
    await session.execute(_enqueue_statement(session), values)


# Providers refusing us now (429, a spent plan), counted in the claim's own statement: almost
# always none, and then the claim need not read any provider's spent mark.
_SPENT_NOW = (
    select(func.count())
    .select_from(ProviderQuota)
    .where(ProviderQuota.spent_until > _now)
    .scalar_subquery()
    .label("spent_now")
)
_DUE = (
    select(*CLAIMED_COLUMNS, _SPENT_NOW)
    .select_from(IndexedBy(_queue, "ix_market_refresh_queue_pending_order"))
    .where(q.status == _PENDING, q.run_at <= _now)
    .order_by(q.priority.desc(), q.run_at)
    .limit(bindparam("b_limit", type_=Integer()))
)
# PostgreSQL: rows other claimers hold are skipped, not waited for; the locks last until the
# claim's transaction ends, so the rows this claim does not take (no quota) stay untouched.
# SQLite: the claim's transaction holds the one write lock, so a plain read is already exclusive.
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)


def claim_statement(dialect: str) -> Any:
    """The statement ``lock_due`` runs on ``dialect`` (for query-plan tests)."""
    return _DUE_LOCKED if dialect == "postgresql" else _DUE


async def lock_due(session: AsyncSession, *, now: datetime, limit: int) -> Sequence[AnyRow]:
    """Up to ``limit`` due pending rows, highest priority first, then the longest due; locked
    for this transaction."""
    statement = claim_statement(dialect_name(session))
    return (await session.execute(statement, {"b_now": now, "b_limit": limit})).all()


_MARK_PROCESSING = _per_dialect(
    lambda ids: (
        update(_queue)
        .where(ids, q.status == _PENDING)
        .values(
            status=S.PROCESSING,
            provider=bindparam("b_provider", type_=String()),
            lease_owner=_worker,
            lease_expires_at=bindparam("b_lease_until", type_=UTCDateTime()),
            attempts=q.attempts + 1,
            error=None,
            updated_at=_now,
        )
        .returning(*CLAIMED_COLUMNS)
    )
)


async def mark_processing(
    session: AsyncSession, *, ids: Sequence[int], provider: str, worker: str, now: datetime,
    lease_until: datetime,
) -> Sequence[AnyRow]:  # fmt: skip
    """Rows locked by ``lock_due`` become ``worker``'s, to be asked of ``provider``."""
    if not ids:
        return []
    found = await session.execute(
        _MARK_PROCESSING[dialect_name(session)],
        {
            "b_ids": list(ids), "b_provider": provider, "b_worker": worker, "b_now": now,
            "b_lease_until": lease_until,
        },
    )  # fmt: skip
    return found.all()


_POSTPONE = _per_dialect(
    lambda ids: (
        update(_queue)
        .where(ids, q.status == _PENDING)
        .values(run_at=bindparam("b_run_at", type_=UTCDateTime()), updated_at=_now)
    )
)


async def postpone(
    session: AsyncSession, *, ids: Sequence[int], run_at: datetime, now: datetime
) -> None:
    """Pending rows wait until ``run_at`` (no provider has quota for them before)."""
    if ids:
        await session.execute(
            _POSTPONE[dialect_name(session)],
            {"b_ids": list(ids), "b_run_at": run_at, "b_now": now},
        )


_FINISH_PENDING = _per_dialect(
    lambda ids: (
        update(_queue)
        .where(ids, q.status == _PENDING)
        .values(status=S.FAILED, error=bindparam("b_error", type_=q.error.type), updated_at=_now)
    )
)


async def fail_pending(
    session: AsyncSession, *, ids: Sequence[int], error: dict[str, Any], now: datetime
) -> None:
    """Pending rows nothing can serve fail at once (no attempt was made)."""
    if ids:
        await session.execute(
            _FINISH_PENDING[dialect_name(session)],
            {"b_ids": list(ids), "b_error": error, "b_now": now},
        )


_leased = and_(q.status == _PROCESSING, q.lease_owner == _worker)
# Rows that several statements update at once are locked in pair order (the order enqueue's
# upserts lock them in; "C" collation: code points, as Python sorts), so a completion and a
# concurrent enqueue of the same pairs never wait for each other in a circle. SQLite has one
# writer, so it needs no locks.
_PAIR_ORDER = (q.symbol.collate("C"), q.data_type.collate("C"))


def _in_pair_order(where: ColumnElement[bool], *, skip_locked: bool = False) -> Any:
    return (
        select(q.id)
        .where(where)
        .order_by(*_PAIR_ORDER)
        .with_for_update(skip_locked=skip_locked)
        .cte("locked")
    )


_COMPLETED_VALUES: dict[str, Any] = {
    "status": S.COMPLETED,
    "lease_owner": None,
    "lease_expires_at": None,
    "error": None,
    "updated_at": _now,
}
_COMPLETE_SQLITE = (
    update(_queue).where(_ID_LIST["sqlite"], _leased).values(_COMPLETED_VALUES).returning(q.id)
)
_completing = _in_pair_order(and_(_ID_LIST["postgresql"], _leased))
_COMPLETE_POSTGRESQL = (
    update(_queue).where(q.id == _completing.c.id).values(_COMPLETED_VALUES).returning(q.id)
)


async def complete(
    session: AsyncSession, *, ids: Sequence[int], worker: str, now: datetime
) -> set[int]:
    """Rows ``worker`` still holds become completed; their ids (a lost lease: absent)."""
    if not ids:
        return set()
    statement = _COMPLETE_POSTGRESQL if _is_postgresql(session) else _COMPLETE_SQLITE
    found = await session.execute(statement, {"b_ids": list(ids), "b_worker": worker, "b_now": now})
    return {int(row.id) for row in found.all()}


_RETURN = (
    update(_queue)
    .where(q.id == bindparam("b_id", type_=q.id.type), _leased)
    .values(
        status=bindparam("b_status", type_=String()),
        run_at=bindparam("b_run_at", type_=UTCDateTime()),
        error=bindparam("b_error", type_=q.error.type),
        attempts=q.attempts - bindparam("b_refund", type_=Integer()),
        provider=bindparam("b_provider", type_=String()),
        lease_owner=None,
        lease_expires_at=None,
        updated_at=_now,
    )
    .returning(q.id)
)


async def give_back(
    session: AsyncSession, *, request_id: int, worker: str, now: datetime, status: str,
    run_at: datetime, error: dict[str, Any] | None, provider: str | None, refund: int = 0,
) -> bool:  # fmt: skip
    """A row ``worker`` holds ends its attempt: pending again at ``run_at`` or failed for good
    (``refund`` 1: the attempt does not count, the provider refused us), routed to ``provider``
    (None: the next claim routes it again); False if not held."""
    found = await session.execute(
        _RETURN,
        {
            "b_id": request_id, "b_worker": worker, "b_now": now, "b_status": status,
            "b_run_at": run_at, "b_error": error, "b_refund": refund, "b_provider": provider,
        },
    )  # fmt: skip
    return found.first() is not None


_expired = and_(q.status == _PROCESSING, q.lease_expires_at < _now)
_exhausted = q.attempts >= bindparam("b_max_attempts", type_=Integer())
_RELEASE_VALUES: dict[str, Any] = {
    "status": case((_exhausted, S.FAILED), else_=S.PENDING),
    "error": case((_exhausted, bindparam("b_error", type_=q.error.type)), else_=q.error),
    "lease_owner": None,
    "lease_expires_at": None,
    "updated_at": _now,
}
_RELEASE_EXPIRED_SQLITE = (
    update(_queue).where(_expired).values(_RELEASE_VALUES).returning(q.id, q.status)
)
# Rows some transaction holds (an enqueue raising their priority) are left for the next round.
_releasing = _in_pair_order(_expired, skip_locked=True)
_RELEASE_EXPIRED_POSTGRESQL = (
    update(_queue).where(q.id == _releasing.c.id).values(_RELEASE_VALUES).returning(q.id, q.status)
)


async def release_expired(
    session: AsyncSession, *, now: datetime, max_attempts: int, error: dict[str, Any]
) -> Sequence[AnyRow]:
    """Processing rows whose worker stopped holding them: pending again (the interrupted attempt
    stays counted) or, with no attempts left, failed with ``error``; (id, status) of each."""
    statement = _RELEASE_EXPIRED_POSTGRESQL if _is_postgresql(session) else _RELEASE_EXPIRED_SQLITE
    found = await session.execute(
        statement, {"b_now": now, "b_max_attempts": max_attempts, "b_error": error}
    )
    return found.all()


_OLD_FINISHED = (
    select(q.id)
    .select_from(IndexedBy(_queue, "ix_market_refresh_queue_finished"))
    .where(q.status.in_(_FINISHED), q.updated_at < bindparam("b_before", type_=UTCDateTime()))
    .limit(bindparam("b_limit", type_=Integer()))
)
_TRIM = delete(_queue).where(q.id.in_(_OLD_FINISHED.scalar_subquery())).returning(q.id)


def trim_selection() -> Any:
    """The rows a trim picks (for query-plan tests)."""
    return _OLD_FINISHED


async def trim_finished(session: AsyncSession, *, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` completed or failed rows last updated before ``before``."""
    found = await session.execute(_TRIM, {"b_before": before, "b_limit": limit})
    return len(found.all())


async def get_requests(session: AsyncSession, ids: Sequence[int]) -> Sequence[RefreshRequest]:
    found = await session.execute(
        select(RefreshRequest)
        .where(RefreshRequest.id.in_(list(ids)))
        .order_by(RefreshRequest.id)
        .execution_options(populate_existing=True)
    )
    return found.scalars().all()


async def active_requests(session: AsyncSession) -> Sequence[RefreshRequest]:
    """Every pending or processing row, by id (tests and the operator's view)."""
    found = await session.execute(
        select(RefreshRequest)
        .where(RefreshRequest.status.in_(S.ACTIVE))
        .order_by(RefreshRequest.id)
        .execution_options(populate_existing=True)
    )
    return found.scalars().all()


async def depth(session: AsyncSession) -> Sequence[tuple[str, str, str | None, int]]:
    """Rows per (status, data type, provider)."""
    found = await session.execute(
        select(q.status, q.data_type, q.provider, func.count()).group_by(
            q.status, q.data_type, q.provider
        )
    )
    return [(s, t, p, int(n)) for s, t, p, n in found.all()]


async def oldest_due(session: AsyncSession, *, now: datetime) -> datetime | None:
    """The run_at of the longest-due pending row (from the pending index)."""
    found = await session.execute(
        select(q.run_at).where(q.status == _PENDING, q.run_at <= now).order_by(q.run_at).limit(1)
    )
    run_at: datetime | None = found.scalar()
    return run_at
