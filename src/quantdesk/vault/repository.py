"""Every query of the vault domain; each one is scoped to the owning user."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.pagination import newest_first
from quantdesk.models import Vault, VaultFile, VaultMove, VaultPlan

# The vault's own quarantine (duplicate clean-ups move files there): never a duplicate again.
QUARANTINED = ".quarantine/%"

# --- vaults -----------------------------------------------------------------------------------


async def get_vault(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> Vault | None:
    result = await session.execute(
        select(Vault).where(Vault.id == vault_id, Vault.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def get_vault_by_name(
    session: AsyncSession, *, owner_id: uuid.UUID, name: str
) -> Vault | None:
    result = await session.execute(
        select(Vault).where(Vault.owner_id == owner_id, Vault.name == name)
    )
    return result.scalar_one_or_none()


async def list_vaults(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[Vault]:
    stmt = select(Vault).where(Vault.owner_id == owner_id)
    stmt = newest_first(stmt, Vault, before=before, limit=limit)
    return list((await session.execute(stmt)).scalars())


async def local_roots_of_others(session: AsyncSession, *, owner_id: uuid.UUID) -> list[str]:
    """The roots of other users' local vaults (a system-context session: RLS hides them else)."""
    result = await session.execute(
        select(Vault.root).where(
            Vault.owner_id != owner_id, Vault.kind == "local", Vault.root.is_not(None)
        )
    )
    return [str(root) for root in result.scalars()]


async def add(session: AsyncSession, row: Vault | VaultPlan) -> None:
    session.add(row)
    await session.flush()


async def delete_vault(session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID) -> None:
    await session.execute(delete(Vault).where(Vault.id == vault_id, Vault.owner_id == owner_id))


async def set_rules(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID,
    rules: dict[str, Any] | None,
    now: datetime,
) -> None:
    await session.execute(
        update(Vault)
        .where(Vault.id == vault_id, Vault.owner_id == owner_id)
        .values(rules=rules, updated_at=now)
    )


async def mark_scanned(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, now: datetime
) -> None:
    await session.execute(
        update(Vault)
        .where(Vault.id == vault_id, Vault.owner_id == owner_id)
        .values(last_scan_at=now, updated_at=now)
    )


# --- inventory --------------------------------------------------------------------------------


async def inventory(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> list[VaultFile]:
    result = await session.execute(
        select(VaultFile)
        .where(VaultFile.vault_id == vault_id, VaultFile.owner_id == owner_id)
        .order_by(VaultFile.path)
    )
    return list(result.scalars())


async def files_by_path(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, paths: Sequence[str]
) -> dict[str, VaultFile]:
    found: dict[str, VaultFile] = {}
    for start in range(0, len(paths), 500):
        result = await session.execute(
            select(VaultFile).where(
                VaultFile.vault_id == vault_id,
                VaultFile.owner_id == owner_id,
                VaultFile.path.in_(paths[start : start + 500]),
            )
        )
        found.update({row.path: row for row in result.scalars()})
    return found


def add_file(session: AsyncSession, row: VaultFile) -> None:
    session.add(row)


async def delete_unseen(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, scan_id: uuid.UUID
) -> int:
    result: Any = await session.execute(
        delete(VaultFile).where(
            VaultFile.vault_id == vault_id,
            VaultFile.owner_id == owner_id,
            VaultFile.scan_id != scan_id,
        )
    )
    return int(result.rowcount or 0)


async def list_files(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID | None,
    limit: int,
    after: tuple[str, str] | None = None,
    category: str | None = None,
    query: str | None = None,
    symbol: str | None = None,
    asset_id: int | None = None,
) -> list[VaultFile]:
    """Ordered by (vault id, path); ``after`` is the last (vault id, path) of the previous page."""
    stmt = select(VaultFile).where(VaultFile.owner_id == owner_id)
    if vault_id is not None:
        stmt = stmt.where(VaultFile.vault_id == vault_id)
    if category:
        stmt = stmt.where(VaultFile.category == category)
    if symbol:
        stmt = stmt.where(VaultFile.symbol == symbol)
    if asset_id is not None:
        stmt = stmt.where(VaultFile.asset_id == asset_id)
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(VaultFile.path).like(f"%{escaped}%", escape="\\"))
    if after is not None:
        vault_key, path = uuid.UUID(after[0]), after[1]
        stmt = stmt.where(
            or_(
                VaultFile.vault_id > vault_key,
                (VaultFile.vault_id == vault_key) & (VaultFile.path > path),
            )
        )
    stmt = stmt.order_by(VaultFile.vault_id, VaultFile.path).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def same_size_files(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> list[VaultFile]:
    """Non-empty files sharing their size with another file: the duplicate candidates."""
    sizes = (
        select(VaultFile.size)
        .where(
            VaultFile.vault_id == vault_id,
            VaultFile.owner_id == owner_id,
            VaultFile.size > 0,
            VaultFile.path.not_like(QUARANTINED),
        )
        .group_by(VaultFile.size)
        .having(func.count() > 1)
    )
    result = await session.execute(
        select(VaultFile)
        .where(
            VaultFile.vault_id == vault_id,
            VaultFile.owner_id == owner_id,
            VaultFile.size.in_(sizes),
            VaultFile.path.not_like(QUARANTINED),
        )
        .order_by(VaultFile.size, VaultFile.path)
    )
    return list(result.scalars())


async def set_hashes(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    file_id: int,
    size: int,
    mtime: datetime,
    edge_hash: str | None = None,
    content_hash: str | None = None,
) -> None:
    """Record hashes, only if the row still describes the file that was hashed."""
    values: dict[str, Any] = {}
    if edge_hash is not None:
        values["edge_hash"] = edge_hash
    if content_hash is not None:
        values["content_hash"] = content_hash
    await session.execute(
        update(VaultFile)
        .where(
            VaultFile.id == file_id,
            VaultFile.owner_id == owner_id,
            VaultFile.size == size,
            VaultFile.mtime == mtime,
        )
        .values(**values)
    )


async def hashed_files(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> list[VaultFile]:
    """Files whose full hash is shared with another file (same size): duplicate groups."""
    groups = (
        select(VaultFile.size, VaultFile.content_hash)
        .where(
            VaultFile.vault_id == vault_id,
            VaultFile.owner_id == owner_id,
            VaultFile.content_hash.is_not(None),
            VaultFile.path.not_like(QUARANTINED),
        )
        .group_by(VaultFile.size, VaultFile.content_hash)
        .having(func.count() > 1)
        .subquery()
    )
    result = await session.execute(
        select(VaultFile)
        .join(
            groups,
            (groups.c.size == VaultFile.size) & (groups.c.content_hash == VaultFile.content_hash),
        )
        .where(
            VaultFile.vault_id == vault_id,
            VaultFile.owner_id == owner_id,
            VaultFile.path.not_like(QUARANTINED),
        )
        .order_by(VaultFile.size.desc(), VaultFile.content_hash, VaultFile.path)
    )
    return list(result.scalars())


async def rename_file(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, src: str, dst: str
) -> None:
    await session.execute(
        delete(VaultFile).where(
            VaultFile.vault_id == vault_id, VaultFile.owner_id == owner_id, VaultFile.path == dst
        )
    )
    await session.execute(
        update(VaultFile)
        .where(
            VaultFile.vault_id == vault_id, VaultFile.owner_id == owner_id, VaultFile.path == src
        )
        .values(path=dst, name=dst.rsplit("/", 1)[-1])
    )


# --- plans and their journal ------------------------------------------------------------------


async def get_plan(
    session: AsyncSession, *, owner_id: uuid.UUID, plan_id: uuid.UUID
) -> VaultPlan | None:
    result = await session.execute(
        select(VaultPlan).where(VaultPlan.id == plan_id, VaultPlan.owner_id == owner_id)
    )
    return result.scalar_one_or_none()


async def list_plans(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[VaultPlan]:
    stmt = select(VaultPlan).where(VaultPlan.vault_id == vault_id, VaultPlan.owner_id == owner_id)
    stmt = newest_first(stmt, VaultPlan, before=before, limit=limit)
    return list((await session.execute(stmt)).scalars())


async def get_plan_applied_by(
    session: AsyncSession, *, owner_id: uuid.UUID, operation_id: uuid.UUID
) -> VaultPlan | None:
    result = await session.execute(
        select(VaultPlan).where(
            VaultPlan.apply_operation_id == operation_id, VaultPlan.owner_id == owner_id
        )
    )
    return result.scalar_one_or_none()


async def set_plan(
    session: AsyncSession, *, owner_id: uuid.UUID, plan_id: uuid.UUID, now: datetime, **values: Any
) -> None:
    await session.execute(
        update(VaultPlan)
        .where(VaultPlan.id == plan_id, VaultPlan.owner_id == owner_id)
        .values(updated_at=now, **values)
    )


def add_moves(session: AsyncSession, moves: Sequence[VaultMove]) -> None:
    session.add_all(moves)


async def list_moves(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    plan_id: uuid.UUID,
    after_seq: int = -1,
    limit: int | None = None,
    statuses: Sequence[str] | None = None,
    descending: bool = False,
) -> list[VaultMove]:
    stmt = select(VaultMove).where(VaultMove.plan_id == plan_id, VaultMove.owner_id == owner_id)
    if statuses is not None:
        stmt = stmt.where(VaultMove.status.in_(statuses))
    if descending:
        stmt = stmt.order_by(VaultMove.seq.desc())
    else:
        stmt = stmt.where(VaultMove.seq > after_seq).order_by(VaultMove.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list((await session.execute(stmt)).scalars())


async def move_counts(
    session: AsyncSession, *, owner_id: uuid.UUID, plan_id: uuid.UUID
) -> dict[str, int]:
    result = await session.execute(
        select(VaultMove.status, func.count())
        .where(VaultMove.plan_id == plan_id, VaultMove.owner_id == owner_id)
        .group_by(VaultMove.status)
    )
    return {str(status): int(count) for status, count in result.all()}


async def set_move(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    move_id: int,
    status: str,
    now: datetime,
    reason: str | None = None,
) -> None:
    await session.execute(
        update(VaultMove)
        .where(VaultMove.id == move_id, VaultMove.owner_id == owner_id)
        .values(status=status, reason=reason[:500] if reason else None, updated_at=now)
    )
