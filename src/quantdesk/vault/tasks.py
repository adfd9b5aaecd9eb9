"""Background jobs of the vault: each adapts a job to the vault's service calls (IDs in)."""

from __future__ import annotations

import uuid
from typing import Any

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job
from quantdesk.vault import duplicates, organise, scan, service


def _id(ctx: JobContext, name: str) -> uuid.UUID:
    return uuid.UUID(str(ctx.params[name]))


@job(service.SCAN_KIND, queue="maintenance", max_attempts=3)
async def scan_vault(ctx: JobContext) -> dict[str, Any]:
    return await scan.run_scan(ctx, _id(ctx, "vault_id"))


@job(service.DUPLICATES_KIND, queue="maintenance", max_attempts=3)
async def find_vault_duplicates(ctx: JobContext) -> dict[str, Any]:
    return await duplicates.run_duplicates(ctx, _id(ctx, "vault_id"))


@job(service.PLAN_KIND, queue="maintenance", max_attempts=1)
async def plan_vault_moves(ctx: JobContext) -> dict[str, Any]:
    return await organise.run_plan(ctx, _id(ctx, "plan_id"))


@job(service.APPLY_KIND, queue="maintenance", max_attempts=3)
async def apply_vault_plan(ctx: JobContext) -> dict[str, Any]:
    return await organise.run_apply(ctx, _id(ctx, "plan_id"))


@job(service.ROLLBACK_KIND, queue="maintenance", max_attempts=3)
async def roll_back_vault_plan(ctx: JobContext) -> dict[str, Any]:
    return await organise.run_rollback(ctx, _id(ctx, "plan_id"), _id(ctx, "apply_operation_id"))
