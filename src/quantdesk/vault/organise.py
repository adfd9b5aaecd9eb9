"""Plans of moves and carrying them out: organise by the rules, or quarantine duplicates.

Find first, act later, re-check before acting (fclones, rmlint):

- **plan** (a job): every move with its conflict resolution, each file's size, mtime and hash as
  the scan saw it; readable (``get_vault_plan``) before anything moves.
- **apply** (a job): just before each move the file is checked again (size, mtime, hash) and
  skipped as ``changed`` if it is not what the plan saw. The move is written to the journal
  (status ``moving``, committed) *before* it happens and marked ``done`` after, so a run that dies
  in between is settled by looking at both paths: resumed, or rolled back.
- **rollback** (a job): every move undone in reverse order, each file's hash checked first; a
  file now sitting at the original path is never overwritten (``conflict``).

Nothing is ever deleted: a duplicate clean-up moves the extra copies to the vault's quarantine.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from quantdesk.jobs import service as jobs_service
from quantdesk.jobs.context import JobContext
from quantdesk.kit.orm import utcnow
from quantdesk.models import MoveStatus, PlanStatus, Vault, VaultFile, VaultMove, VaultPlan
from quantdesk.vault import repository, service
from quantdesk.vault.errors import PlanNotFound
from quantdesk.vault.rules import FileFacts, categorise, render_target
from quantdesk.vault.scan import owner_of
from quantdesk.vault.storage import FileExists, FileMissing, Storage, StorageError, clean_path

PLAN_BATCH = 200
MAX_RENAMES = 1000


async def _load(ctx: JobContext, plan_id: uuid.UUID) -> tuple[uuid.UUID, VaultPlan, Vault]:
    owner_id = owner_of(ctx)
    async with ctx.transaction(readonly=True) as session:
        plan = await repository.get_plan(session, owner_id=owner_id, plan_id=plan_id)
        if plan is None:
            raise PlanNotFound()
        vault = await repository.get_vault(session, owner_id=owner_id, vault_id=plan.vault_id)
        if vault is None:
            raise PlanNotFound("The plan's vault is gone")
    return owner_id, plan, vault


# --- planning ---------------------------------------------------------------------------------


def _organize_targets(vault: Vault, rows: list[VaultFile]) -> list[tuple[VaultFile, str]]:
    rules = service.vault_rules(vault)
    wanted = []
    for row in rows:
        if _quarantined(row.path):
            continue
        facts = FileFacts(row.path, row.size, row.mtime, row.mime, row.symbol)
        rule = categorise(rules, facts)
        target = render_target(rule, facts) if rule is not None else None
        if target is None or target == row.path:
            continue
        try:
            clean_path(target)
        except StorageError:
            continue
        if target.split("/", 1)[0] != service.QUARANTINE:
            wanted.append((row, target))
    return wanted


def _quarantined(path: str) -> bool:
    return path.split("/", 1)[0] == service.QUARANTINE


def _keeper(copies: list[list[VaultFile]], keep: str, reference: str | None) -> int:
    """Which copy (an inode's links) a duplicate clean-up keeps."""

    def oldest(i: int) -> tuple[Any, ...]:
        return (copies[i][0].mtime, copies[i][0].path)

    indices = range(len(copies))
    if keep == "newest":
        return max(
            indices, key=lambda i: (copies[i][0].mtime, [-ord(c) for c in copies[i][0].path])
        )
    if keep == "shortest_path":
        return min(indices, key=lambda i: (min(len(r.path) for r in copies[i]), copies[i][0].path))
    if keep == "reference" and reference:
        folder = reference.strip("/") + "/"
        inside = [i for i in indices if any(r.path.startswith(folder) for r in copies[i])]
        if inside:
            return min(inside, key=oldest)
    return min(indices, key=oldest)


def _dedupe_targets(plan: VaultPlan, rows: list[VaultFile]) -> list[tuple[VaultFile, str]]:
    groups: dict[tuple[int, str], dict[str, list[VaultFile]]] = {}
    for row in rows:
        if row.content_hash is not None and row.size > 0 and not _quarantined(row.path):
            per_inode = groups.setdefault((row.size, row.content_hash), {})
            per_inode.setdefault(service.inode_key(row), []).append(row)
    wanted: list[tuple[VaultFile, str]] = []
    for per_inode in groups.values():
        copies = sorted(per_inode.values(), key=lambda links: min(r.path for r in links))
        if len(copies) < 2:
            continue
        reference = plan.options.get("reference")
        kept = _keeper(copies, str(plan.options.get("keep")), str(reference) if reference else None)
        for i, links in enumerate(copies):
            if i != kept:
                wanted.extend(
                    (row, f"{service.QUARANTINE}/{plan.id.hex[:12]}/{row.path}") for row in links
                )
    return wanted


def _renamed(target: str, n: int) -> str:
    folder, _, name = target.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    new = f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})"
    return f"{folder}/{new}" if folder else new


async def run_plan(ctx: JobContext, plan_id: uuid.UUID) -> dict[str, Any]:
    owner_id, plan, vault = await _load(ctx, plan_id)
    async with ctx.transaction(readonly=True) as session:
        rows = await repository.inventory(session, owner_id=owner_id, vault_id=vault.id)
    if plan.kind == "organize":
        wanted = _organize_targets(vault, rows)
    else:
        wanted = _dedupe_targets(plan, rows)
    conflict = str(plan.options.get("conflict", "skip"))
    taken = {row.path for row in rows}
    total = len(wanted)
    await ctx.progress(0, total, f"{total} files to place")
    storage = service.open_storage(ctx.resources.settings, vault)
    seq = 0
    try:
        for start in range(0, total, PLAN_BATCH):
            await ctx.check_cancelled()
            moves = []
            for row, target in wanted[start : start + PLAN_BATCH]:
                move = await _plan_move(storage, row, target, conflict=conflict, taken=taken)
                move.plan_id, move.owner_id, move.seq = plan.id, owner_id, seq
                seq += 1
                moves.append(move)
            async with ctx.transaction() as session:
                repository.add_moves(session, moves)
                await session.flush()
                done = start + len(moves)
                await ctx.checkpoint(session, done, total, f"{done} of {total} files planned")
    finally:
        await storage.aclose()
    async with ctx.transaction() as session:
        await repository.set_plan(
            session,
            owner_id=owner_id,
            plan_id=plan.id,
            now=utcnow(),
            status=PlanStatus.READY,
            move_count=seq,
        )
        counts = await repository.move_counts(session, owner_id=owner_id, plan_id=plan.id)
    return {
        "plan_id": str(plan.id),
        "vault_id": str(vault.id),
        "kind": plan.kind,
        "counts": counts,
        "plan_url": f"/api/v1/vaults/{vault.id}/plans/{plan.id}",
    }


async def _plan_move(
    storage: Storage, row: VaultFile, target: str, *, conflict: str, taken: set[str]
) -> VaultMove:
    move = VaultMove(
        src=row.path,
        dst=target,
        size=row.size,
        mtime=row.mtime,
        hash="",
        status=MoveStatus.PLANNED,
        updated_at=utcnow(),
    )
    try:
        entry = await storage.stat(row.path)
        if (entry.size, entry.mtime) != (row.size, row.mtime):
            move.status, move.reason = MoveStatus.SKIPPED, "changed since the scan: scan again"
            return move
        move.hash = row.content_hash or await storage.hash(row.path)
    except StorageError as exc:
        move.status, move.reason = MoveStatus.SKIPPED, f"unreadable: {exc.reason}"
        return move
    if target in taken or await storage.exists(target):
        if conflict == "skip":
            move.status, move.reason = MoveStatus.SKIPPED, "the target is taken"
            return move
        for n in range(1, MAX_RENAMES + 1):
            candidate = _renamed(target, n)
            if candidate not in taken and not await storage.exists(candidate):
                move.dst, move.reason = candidate, f"renamed: {target} is taken"
                break
        else:
            move.status, move.reason = MoveStatus.SKIPPED, "no free name for the target"
            return move
    taken.add(move.dst)
    return move


# --- applying ---------------------------------------------------------------------------------


async def _mark(
    ctx: JobContext,
    owner_id: uuid.UUID,
    move: VaultMove,
    status: str,
    reason: str | None = None,
    *,
    rename: tuple[uuid.UUID, str, str] | None = None,
) -> None:
    async with ctx.transaction() as session:
        await repository.set_move(
            session, owner_id=owner_id, move_id=move.id, status=status, now=utcnow(), reason=reason
        )
        if rename is not None:
            vault_id, src, dst = rename
            await repository.rename_file(
                session, owner_id=owner_id, vault_id=vault_id, src=src, dst=dst
            )
    move.status, move.reason = status, reason


async def _same(storage: Storage, path: str, digest: str) -> bool:
    try:
        return await storage.hash(path) == digest
    except StorageError:
        return False


async def _settle(storage: Storage, src: str, dst: str, digest: str) -> str:
    """Where a journaled move from ``src`` to ``dst`` stands after a crash:
    ``moved``, ``not_moved``, or ``unknown`` (neither path holds the file)."""
    src_there, dst_there = await storage.exists(src), await storage.exists(dst)
    if dst_there and not src_there:
        return "moved" if await _same(storage, dst, digest) else "unknown"
    if src_there and dst_there:
        # Half a move (a hard link made, the old name not yet removed; an S3 copy not yet
        # deleted): both hold the same bytes, so the new name is dropped and the move redone.
        if await _same(storage, src, digest) and await _same(storage, dst, digest):
            await storage.delete(dst)
            return "not_moved"
        return "unknown"
    return "not_moved" if src_there else "unknown"


async def _still(ctx: JobContext, owner_id: uuid.UUID, plan_id: uuid.UUID, status: str) -> bool:
    async with ctx.transaction(readonly=True) as session:
        plan = await repository.get_plan(session, owner_id=owner_id, plan_id=plan_id)
    return plan is not None and plan.status == status


async def run_apply(ctx: JobContext, plan_id: uuid.UUID) -> dict[str, Any]:
    owner_id, plan, vault = await _load(ctx, plan_id)
    if plan.status != PlanStatus.APPLYING:
        return {"plan_id": str(plan.id), "stopped": f"the plan is {plan.status}"}
    async with ctx.transaction(readonly=True) as session:
        moves = await repository.list_moves(
            session,
            owner_id=owner_id,
            plan_id=plan.id,
            statuses=[MoveStatus.PLANNED, MoveStatus.MOVING],
        )
    total = plan.move_count
    storage = service.open_storage(ctx.resources.settings, vault)
    stopped = None
    try:
        for move in moves:
            await ctx.check_cancelled()
            if not await _still(ctx, owner_id, plan.id, PlanStatus.APPLYING):
                stopped = "a rollback was asked for"
                break
            await _apply_one(ctx, storage, owner_id, vault.id, move)
            await ctx.progress(move.seq + 1, total, f"{move.seq + 1} of {total} moves")
    finally:
        await storage.aclose()
    async with ctx.transaction() as session:
        if stopped is None and await _still(ctx, owner_id, plan.id, PlanStatus.APPLYING):
            await repository.set_plan(
                session, owner_id=owner_id, plan_id=plan.id, now=utcnow(), status=PlanStatus.APPLIED
            )
        counts = await repository.move_counts(session, owner_id=owner_id, plan_id=plan.id)
    result: dict[str, Any] = {"plan_id": str(plan.id), "vault_id": str(vault.id), "counts": counts}
    if stopped:
        result["stopped"] = stopped
    return result


async def _apply_one(
    ctx: JobContext, storage: Storage, owner_id: uuid.UUID, vault_id: uuid.UUID, move: VaultMove
) -> None:
    rename = (vault_id, move.src, move.dst)
    if move.status == MoveStatus.MOVING:  # the journal says a run died during this move
        state = await _settle(storage, move.src, move.dst, move.hash)
        if state == "moved":
            await _mark(ctx, owner_id, move, MoveStatus.DONE, rename=rename)
            return
        if state == "unknown":
            await _mark(ctx, owner_id, move, MoveStatus.FAILED, "the file is not where expected")
            return
    try:
        entry = await storage.stat(move.src)
        if (entry.size, entry.mtime) != (move.size, move.mtime):
            await _mark(ctx, owner_id, move, MoveStatus.CHANGED, "size or mtime changed")
            return
        if await storage.hash(move.src) != move.hash:
            await _mark(ctx, owner_id, move, MoveStatus.CHANGED, "the content changed")
            return
        if await storage.exists(move.dst):
            await _mark(ctx, owner_id, move, MoveStatus.FAILED, "the target was taken meanwhile")
            return
    except FileMissing:
        await _mark(ctx, owner_id, move, MoveStatus.CHANGED, "the file is gone")
        return
    except StorageError as exc:
        await _mark(ctx, owner_id, move, MoveStatus.FAILED, exc.reason)
        return
    await _mark(ctx, owner_id, move, MoveStatus.MOVING)  # the journal first
    try:
        await storage.move(move.src, move.dst)
    except FileExists:
        await _mark(ctx, owner_id, move, MoveStatus.FAILED, "the target was taken meanwhile")
        return
    except StorageError as exc:
        await _mark(ctx, owner_id, move, MoveStatus.FAILED, exc.reason)
        return
    await _mark(ctx, owner_id, move, MoveStatus.DONE, rename=rename)


# --- rolling back -----------------------------------------------------------------------------


async def _wait_for_apply(ctx: JobContext, owner_id: uuid.UUID, operation_id: uuid.UUID) -> None:
    """Until the apply run has ended, or its worker is dead (its lease ran out): never two
    processes moving the same files."""
    deadline = asyncio.get_running_loop().time() + 2 * ctx.resources.settings.job_lease_seconds + 30
    while asyncio.get_running_loop().time() < deadline:
        async with ctx.transaction(readonly=True) as session:
            operation = await jobs_service.find_operation(
                session, owner_id=owner_id, operation_id=operation_id
            )
        if operation is None or operation.finished or operation.status == "pending":
            return
        lease = operation.lease_expires_at
        if lease is None or lease < utcnow() - timedelta(seconds=1):
            return
        await ctx.check_cancelled()
        await asyncio.sleep(0.5)
    raise TimeoutError("the apply operation is still running")


async def run_rollback(
    ctx: JobContext, plan_id: uuid.UUID, apply_operation_id: uuid.UUID
) -> dict[str, Any]:
    owner_id, plan, vault = await _load(ctx, plan_id)
    await _wait_for_apply(ctx, owner_id, apply_operation_id)
    async with ctx.transaction(readonly=True) as session:
        moves = await repository.list_moves(
            session,
            owner_id=owner_id,
            plan_id=plan.id,
            statuses=[MoveStatus.DONE, MoveStatus.MOVING, MoveStatus.RESTORING],
            descending=True,
        )
    total = len(moves)
    storage = service.open_storage(ctx.resources.settings, vault)
    try:
        for done, move in enumerate(moves, start=1):
            await ctx.check_cancelled()
            await _undo_one(ctx, storage, owner_id, vault.id, move)
            await ctx.progress(done, total, f"{done} of {total} moves undone")
    finally:
        await storage.aclose()
    async with ctx.transaction() as session:
        await repository.set_plan(
            session, owner_id=owner_id, plan_id=plan.id, now=utcnow(), status=PlanStatus.ROLLED_BACK
        )
        counts = await repository.move_counts(session, owner_id=owner_id, plan_id=plan.id)
    return {"plan_id": str(plan.id), "vault_id": str(vault.id), "counts": counts}


async def _undo_one(
    ctx: JobContext, storage: Storage, owner_id: uuid.UUID, vault_id: uuid.UUID, move: VaultMove
) -> None:
    back = (vault_id, move.dst, move.src)
    if move.status == MoveStatus.MOVING:
        state = await _settle(storage, move.src, move.dst, move.hash)
        if state == "not_moved":
            await _mark(ctx, owner_id, move, MoveStatus.RESTORED, "it had not moved")
            return
        if state == "unknown":
            await _mark(ctx, owner_id, move, MoveStatus.CONFLICT, "the file is not where expected")
            return
    elif move.status == MoveStatus.RESTORING:  # a rollback died during this move back
        state = await _settle(storage, move.dst, move.src, move.hash)
        if state == "moved":
            await _mark(ctx, owner_id, move, MoveStatus.RESTORED, rename=back)
            return
        if state == "unknown":
            await _mark(ctx, owner_id, move, MoveStatus.CONFLICT, "the file is not where expected")
            return
    try:
        if not await storage.exists(move.dst):
            await _mark(ctx, owner_id, move, MoveStatus.CONFLICT, "the moved file is gone")
            return
        if await storage.hash(move.dst) != move.hash:
            await _mark(ctx, owner_id, move, MoveStatus.CONFLICT, "changed since it was moved")
            return
        if await storage.exists(move.src):
            await _mark(
                ctx, owner_id, move, MoveStatus.CONFLICT, "a file now sits at the original path"
            )
            return
    except StorageError as exc:
        await _mark(ctx, owner_id, move, MoveStatus.CONFLICT, exc.reason)
        return
    await _mark(ctx, owner_id, move, MoveStatus.RESTORING)  # the journal first
    try:
        await storage.move(move.dst, move.src)
    except FileExists:
        await _mark(
            ctx, owner_id, move, MoveStatus.CONFLICT, "a file now sits at the original path"
        )
        return
    except StorageError as exc:
        await _mark(ctx, owner_id, move, MoveStatus.CONFLICT, exc.reason)
        return
    await _mark(ctx, owner_id, move, MoveStatus.RESTORED, rename=back)
