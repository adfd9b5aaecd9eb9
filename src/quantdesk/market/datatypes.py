"""The engine's registry of data types (TTL, providers, refresh kind, priority, on/off), its
run-time flags, and the audit of every change an admin (or the operator's CLI) makes to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.errors import InvalidInput, NotFound
from quantdesk.kit.orm import utcnow
from quantdesk.market import repository
from quantdesk.market.schemas import AuditEntry, DataTypeOut, DataTypeUpdate, EngineFlags

ENGINE_FLAG = "engine"
_EDITABLE = ("ttl_seconds", "enabled", "default_priority")


class DataTypeNotFound(NotFound):
    code = "data_type_not_found"


async def list_types(session: AsyncSession) -> list[DataTypeOut]:
    return [DataTypeOut.model_validate(row) for row in await repository.list_data_types(session)]


async def flags(session: AsyncSession) -> EngineFlags:
    return EngineFlags(engine=await engine_enabled(session), data_types=await list_types(session))


async def engine_enabled(session: AsyncSession) -> bool:
    flag = await repository.get_flag(session, ENGINE_FLAG)
    return flag is None or flag.enabled


async def update_type(
    session: AsyncSession, name: str, changes: DataTypeUpdate, *, actor: str
) -> DataTypeOut:
    """Change a data type's TTL, priority or switch; audited (who, when, before, after)."""
    wanted = changes.model_dump(exclude_none=True)
    if not wanted:
        raise InvalidInput(
            f"send at least one of {', '.join(_EDITABLE)}", field="body", reason="nothing to change"
        )
    row = await repository.get_data_type(session, name, lock=True)
    if row is None:
        raise DataTypeNotFound(f"No data type {name!r}", next_actions=["list_market_data_types"])
    before = {key: getattr(row, key) for key in wanted}
    if before != wanted:
        for key, value in wanted.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
        await session.flush()
        await _audit(session, actor=actor, target=f"data_type:{name}", before=before, after=wanted)
    return DataTypeOut.model_validate(row)


async def set_engine(session: AsyncSession, enabled: bool, *, actor: str) -> bool:
    """Switch the whole refresh engine on or off at run time; audited."""
    flag = await repository.get_flag(session, ENGINE_FLAG, lock=True)
    if flag is None:
        raise DataTypeNotFound("The engine flag is missing; run: quantdesk db upgrade")
    if flag.enabled != enabled:
        before = {"enabled": flag.enabled}
        flag.enabled = enabled
        flag.updated_at = utcnow()
        await session.flush()
        after = {"enabled": enabled}
        await _audit(session, actor=actor, target=f"flag:{ENGINE_FLAG}", before=before, after=after)
    return enabled


async def audit_log(session: AsyncSession, *, limit: int = 100) -> list[AuditEntry]:
    rows = await repository.list_audit(session, limit=limit)
    return [AuditEntry.model_validate(row) for row in rows]


async def _audit(
    session: AsyncSession, *, actor: str, target: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    await repository.add_audit(
        session,
        {"at": utcnow(), "actor": actor, "target": target, "before": before, "after": after},
    )
