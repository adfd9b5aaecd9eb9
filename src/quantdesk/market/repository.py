"""Every query of market data: last known quotes and profiles, the validation queue, and the
validation state of asset rows (global data: nothing here is owner-scoped).

Validation owns the ``is_validated``/``validation_*`` columns of ``assets`` and creates the rows of
symbols the catalog lacks, so those writes live here rather than in the catalog's repository.
Writes are upserts: two requests validating the same new symbol at once must both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import dialect_name
from quantdesk.models import Asset, AssetProfile, AssetQuote, ValidationRequest, ValidationStatus

_assets = cast(Table, Asset.__table__)


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = postgresql if dialect_name(session) == "postgresql" else sqlite
    return dialect.insert(table)


async def upsert_validated_asset(
    session: AsyncSession,
    *,
    symbol: str,
    lookup_key: str,
    name: str,
    asset_class: str,
    exchange: str | None,
    country: str | None,
    metadata: dict[str, Any],
    source: str,
    now: datetime,
) -> int:
    """Create the asset a provider vouched for, or mark the existing row valid; its id."""
    stmt = _insert(session, _assets).values(
        symbol=symbol,
        lookup_key=lookup_key,
        name=name,
        asset_class=asset_class,
        exchange=exchange,
        country=country,
        is_validated=True,
        last_validated_at=now,
        validation_source=source,
        validation_status=ValidationStatus.VALID.value,
        metadata=metadata,
        created_at=now,
        updated_at=now,
    )
    new = stmt.excluded
    c = _assets.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.symbol],
        set_={
            # A placeholder name (the symbol itself, given to pending rows) yields to the real one.
            "name": func.coalesce(func.nullif(c.name, c.symbol), new.name),
            "exchange": func.coalesce(c.exchange, new.exchange),
            "country": func.coalesce(c.country, new.country),
            "is_validated": True,
            "last_validated_at": now,
            "validation_source": source,
            "validation_status": ValidationStatus.VALID.value,
            "updated_at": now,
        },
    ).returning(c.id)
    return int((await session.execute(stmt)).scalar_one())


async def insert_pending_assets(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Rows for symbols no provider could validate yet; an existing row is left as it is."""
    if rows:
        stmt = _insert(session, _assets).on_conflict_do_nothing(index_elements=[_assets.c.symbol])
        await session.execute(stmt, list(rows))


async def mark_invalid(
    session: AsyncSession, *, symbols: Sequence[str], source: str, now: datetime
) -> None:
    """A provider said these do not exist: rows still pending become invalid (others stay)."""
    if symbols:
        await session.execute(
            update(Asset)
            .where(
                Asset.symbol.in_(list(symbols)),
                Asset.validation_status == ValidationStatus.PENDING.value,
            )
            .values(
                validation_status=ValidationStatus.INVALID.value,
                is_validated=False,
                last_validated_at=now,
                validation_source=source,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )


# --- The validation queue -------------------------------------------------------------------


async def enqueue_validations(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Queue symbols (symbol, requested_at, reason, next_attempt_at); a queued one is refreshed."""
    if not rows:
        return
    stmt = _insert(session, ValidationRequest.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ValidationRequest.symbol],
        set_={"reason": stmt.excluded.reason, "next_attempt_at": stmt.excluded.next_attempt_at},
    )
    await session.execute(stmt, list(rows))


async def dequeue_validations(session: AsyncSession, symbols: Sequence[str]) -> None:
    if symbols:
        await session.execute(
            delete(ValidationRequest).where(ValidationRequest.symbol.in_(list(symbols)))
        )


async def list_queued_validations(
    session: AsyncSession, *, due_before: datetime | None = None, limit: int = 100
) -> Sequence[ValidationRequest]:
    stmt = select(ValidationRequest).order_by(ValidationRequest.next_attempt_at).limit(limit)
    if due_before is not None:
        stmt = stmt.where(ValidationRequest.next_attempt_at <= due_before)
    return (await session.execute(stmt)).scalars().all()


# --- Last known quotes and profiles ---------------------------------------------------------


async def get_quote(session: AsyncSession, asset_id: int) -> AssetQuote | None:
    return await session.get(AssetQuote, asset_id)


async def get_profile(session: AsyncSession, asset_id: int) -> AssetProfile | None:
    return await session.get(AssetProfile, asset_id)


async def upsert_quote(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = _insert(session, AssetQuote.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AssetQuote.asset_id],
        set_={k: v for k, v in values.items() if k != "asset_id"},
    )
    await session.execute(stmt)


async def upsert_profile(session: AsyncSession, values: dict[str, Any]) -> None:
    stmt = _insert(session, AssetProfile.__table__).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AssetProfile.asset_id],
        set_={k: v for k, v in values.items() if k != "asset_id"},
    )
    await session.execute(stmt)


async def update_asset_facts(
    session: AsyncSession, asset_id: int, facts: dict[str, Any], *, now: datetime
) -> None:
    """Copy a live profile's facts (sector, industry, market cap...) onto the asset row."""
    if facts:
        await session.execute(
            update(Asset)
            .where(Asset.id == asset_id)
            .values(**facts, updated_at=now)
            .execution_options(synchronize_session=False)
        )
