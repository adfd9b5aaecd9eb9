"""Plans of moves as the API sees them: requesting one (organise, duplicate clean-up), reading
it with its moves, applying it and rolling it back (the jobs are in ``vault.organise``)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import service as jobs_service
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import utcnow
from quantdesk.kit.pagination import (
    Page,
    decode_cursor,
    decode_time_id,
    encode_cursor,
    newest_first_page,
)
from quantdesk.models import Operation, PlanStatus, Vault, VaultPlan
from quantdesk.vault import repository
from quantdesk.vault.errors import PlanNotFound, PlanNotReady
from quantdesk.vault.schemas import (
    CleanupRequest,
    MoveOut,
    OrganizeRequest,
    PlanOut,
    PlanSummary,
)
from quantdesk.vault.service import APPLY_KIND, PLAN_KIND, ROLLBACK_KIND, owned, storage_errors
from quantdesk.vault.storage import clean_path


async def _request_plan(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault: Vault,
    kind: str,
    options: dict[str, object],
) -> tuple[VaultPlan, Operation]:
    now = utcnow()
    plan = VaultPlan(
        id=uuid.uuid4(),
        vault_id=vault.id,
        owner_id=owner_id,
        kind=kind,
        status=PlanStatus.PLANNING,
        options=options,
        move_count=0,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, plan)
    operation = await jobs_service.request_job(
        session, kind=PLAN_KIND, owner_id=owner_id, params={"plan_id": str(plan.id)}
    )
    await repository.set_plan(
        session, owner_id=owner_id, plan_id=plan.id, now=now, plan_operation_id=operation.id
    )
    return plan, operation


async def request_organize(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, data: OrganizeRequest
) -> tuple[VaultPlan, Operation]:
    vault = await owned(session, owner_id, vault_id)
    return await _request_plan(
        session, owner_id=owner_id, vault=vault, kind="organize", options=data.model_dump()
    )


async def request_cleanup(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, data: CleanupRequest
) -> tuple[VaultPlan, Operation]:
    vault = await owned(session, owner_id, vault_id)
    if data.keep == "reference":
        if not data.reference:
            raise InvalidInput("keep=reference needs a folder", field="reference")
        with storage_errors("reference"):
            clean_path(data.reference.strip("/"))
    return await _request_plan(
        session, owner_id=owner_id, vault=vault, kind="dedupe", options=data.model_dump()
    )


async def _owned_plan(
    session: AsyncSession, owner_id: uuid.UUID, vault_id: uuid.UUID, plan_id: uuid.UUID
) -> VaultPlan:
    plan = await repository.get_plan(session, owner_id=owner_id, plan_id=plan_id)
    if plan is None or plan.vault_id != vault_id:
        raise PlanNotFound()
    return plan


async def list_plans(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
) -> Page[PlanSummary]:
    """The vault's plans, newest first (organise and duplicate clean-ups, in any state)."""
    vault = await owned(session, owner_id, vault_id)
    rows = await repository.list_plans(
        session,
        owner_id=owner_id,
        vault_id=vault.id,
        limit=limit + 1,
        before=decode_time_id(cursor),
    )
    page, next_cursor = newest_first_page(rows, limit)
    return Page[PlanSummary](
        items=[
            PlanSummary(
                id=p.id,
                vault_id=p.vault_id,
                kind=p.kind,
                status=p.status,
                options=dict(p.options),
                move_count=p.move_count,
                plan_operation_id=p.plan_operation_id,
                apply_operation_id=p.apply_operation_id,
                rollback_operation_id=p.rollback_operation_id,
                created_at=p.created_at,
            )
            for p in page
        ],
        next_cursor=next_cursor,
    )


async def get_plan(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID,
    plan_id: uuid.UUID,
    limit: int = 1000,
    cursor: str | None = None,
) -> PlanOut:
    """The plan and a page of its moves in order (what applying it would do, or did)."""
    plan = await _owned_plan(session, owner_id, vault_id, plan_id)
    after = decode_cursor(cursor).get("s", -1)
    if type(after) is not int:
        raise InvalidInput("The cursor is not valid", field="cursor")
    moves = await repository.list_moves(
        session, owner_id=owner_id, plan_id=plan.id, after_seq=after, limit=limit + 1
    )
    page = moves[:limit]
    return PlanOut(
        id=plan.id,
        vault_id=plan.vault_id,
        kind=plan.kind,
        status=plan.status,
        options=dict(plan.options),
        move_count=plan.move_count,
        counts=await repository.move_counts(session, owner_id=owner_id, plan_id=plan.id),
        apply_operation_id=plan.apply_operation_id,
        rollback_operation_id=plan.rollback_operation_id,
        created_at=plan.created_at,
        moves=[
            MoveOut(
                seq=m.seq,
                src=m.src,
                dst=m.dst,
                size=m.size,
                mtime=m.mtime,
                hash=m.hash,
                status=m.status,
                reason=m.reason,
            )
            for m in page
        ],
        next_cursor=encode_cursor({"s": page[-1].seq}) if len(moves) > limit and page else None,
    )


async def request_apply(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, plan_id: uuid.UUID
) -> Operation:
    plan = await _owned_plan(session, owner_id, vault_id, plan_id)
    if plan.status != PlanStatus.READY:
        raise PlanNotReady(
            f"The plan is {plan.status}; only a ready plan can be applied",
            next_actions=["get_vault_plan"],
        )
    operation = await jobs_service.request_job(
        session, kind=APPLY_KIND, owner_id=owner_id, params={"plan_id": str(plan.id)}
    )
    await repository.set_plan(
        session,
        owner_id=owner_id,
        plan_id=plan.id,
        now=utcnow(),
        status=PlanStatus.APPLYING,
        apply_operation_id=operation.id,
    )
    return operation


async def request_rollback(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> Operation:
    """Undo the moves an apply operation made (a 404 unless it is your vault apply)."""
    plan = await repository.get_plan_applied_by(
        session, owner_id=owner_id, operation_id=operation_id
    )
    if plan is None:
        raise jobs_service.OperationNotFound("No vault plan was applied by this operation")
    if plan.status not in (PlanStatus.APPLYING, PlanStatus.APPLIED, PlanStatus.FAILED):
        raise PlanNotReady(f"The plan is {plan.status}: there is nothing to roll back")
    operation = await jobs_service.request_job(
        session,
        kind=ROLLBACK_KIND,
        owner_id=owner_id,
        params={"plan_id": str(plan.id), "apply_operation_id": str(operation_id)},
    )
    # From now on an apply run (a retry of a dead worker's) stops before its next move.
    await repository.set_plan(
        session,
        owner_id=owner_id,
        plan_id=plan.id,
        now=utcnow(),
        status=PlanStatus.ROLLING_BACK,
        rollback_operation_id=operation.id,
    )
    return operation
