"""Business rules of universes: create, read, rename, delete, turnover and CSV exchange (the
import and export jobs' requests, files and results).

Membership changes and ordering live in ``universes.membership``.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.auth import service as auth_service
from quantdesk.jobs import service as jobs_service
from quantdesk.kit.db import Database, set_tenant
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound
from quantdesk.kit.orm import as_utc, utcnow
from quantdesk.kit.pagination import (
    Page,
    decode_cursor,
    decode_time_id,
    encode_cursor,
    newest_first_page,
)
from quantdesk.market import watching as market_watching
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import Asset, Operation, OperationStatus, Universe, UniverseAsset
from quantdesk.universes import csv_io, membership, repository
from quantdesk.universes.errors import UniverseNameTaken, UniverseNotFound
from quantdesk.universes.schemas import (
    MAX_UNIVERSE_ASSETS,
    DeletedUniverse,
    ImportRowResult,
    SymbolResult,
    TurnoverEvent,
    UniverseCreate,
    UniverseDetail,
    UniverseMember,
    UniverseSummary,
    UniverseTurnover,
    UniverseUpdate,
    ValidationCounts,
)

# The watches a universe member gets while its owner is active (market.watching).
UNIVERSE_WATCH_CLIENT = "universes"

DEFAULT_TURNOVER_WINDOW = timedelta(days=30)
_RATE_PLACES = Decimal("0.000001")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_MAX_INT32 = 2**31 - 1
API_PREFIX = "/api/v1/universes"


def _summary(universe: Universe, asset_count: int) -> UniverseSummary:
    return UniverseSummary(
        id=universe.id,
        name=universe.name,
        description=universe.description,
        asset_count=asset_count,
        created_at=universe.created_at,
        updated_at=universe.updated_at,
    )


def _member(position: int, member: UniverseAsset, asset: Asset) -> UniverseMember:
    return UniverseMember(
        symbol=asset.symbol,
        name=asset.name,
        asset_class=asset.asset_class,
        exchange=asset.exchange,
        sector=asset.sector,
        position=position,
        added_at=member.added_at,
        metadata={str(k): str(v) for k, v in (member.metadata_ or {}).items()},
        validation_status=asset.validation_status,
    )


def assets_url(universe_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/{universe_id}/assets"


async def _owned(session: AsyncSession, owner_id: uuid.UUID, universe_id: uuid.UUID) -> Universe:
    universe = await repository.get_universe(session, owner_id=owner_id, universe_id=universe_id)
    if universe is None:
        raise UniverseNotFound()
    return universe


async def get_universe_detail(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> UniverseDetail:
    """The universe with its member counts; the members themselves are paged (``list_members``)."""
    universe = await _owned(session, owner_id, universe_id)
    groups = await repository.member_counts(session, owner_id=owner_id, universe_id=universe.id)
    by_status: Counter[str] = Counter()
    by_class: Counter[str] = Counter()
    for status, asset_class, count in groups:
        by_status[status] += count
        by_class[asset_class] += count
    return UniverseDetail(
        **_summary(universe, by_status.total()).model_dump(),
        by_validation_status=ValidationCounts.model_validate(by_status),
        by_asset_class=dict(sorted(by_class.items(), key=lambda item: (-item[1], item[0]))),
        assets_url=assets_url(universe.id),
    )


def _member_cursor(cursor: str | None) -> tuple[int, int] | None:
    """The (position, asset_id) a page starts after; a forged cursor is a 422, never a 500."""
    position = decode_cursor(cursor)
    if not position:
        return None
    key = (position.get("p"), position.get("a"))
    # Both columns are 32-bit integers: a bigger number would fail in the database, not here.
    if not all(type(v) is int and 0 <= v <= _MAX_INT32 for v in key):
        raise InvalidInput("The cursor is not valid", field="cursor")
    return cast(tuple[int, int], key)


async def list_members(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
) -> Page[UniverseMember]:
    """A page of the universe's members in order; ``next_cursor`` is null on the last page.

    Keyset pages on the stored (position, asset_id): members added or removed between two pages
    never make another one skipped or repeated (additions go to the end); a reorder between two
    pages can: the next page goes on from the cursor's place in the new order.
    """
    universe = await _owned(session, owner_id, universe_id)
    rows, rank = await repository.list_members_after(
        session,
        owner_id=owner_id,
        universe_id=universe.id,
        limit=limit + 1,
        after=_member_cursor(cursor),
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = encode_cursor({"p": last.position, "a": last.asset_id})
    return Page[UniverseMember](
        items=[_member(rank + i, member, asset) for i, (member, asset) in enumerate(page)],
        next_cursor=next_cursor,
    )


async def all_members(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> tuple[Universe, list[UniverseMember]]:
    """The universe and every member in order, for an export (not for an API answer)."""
    universe = await _owned(session, owner_id, universe_id)
    rows = await repository.list_members(session, owner_id=owner_id, universe_id=universe.id)
    return universe, [_member(i, member, asset) for i, (member, asset) in enumerate(rows)]


async def check_new_universe(
    db: Database, *, owner_id: uuid.UUID, data: UniverseCreate, market: MarketRuntime | None
) -> membership.Additions:
    """Before the write: malformed symbols are a 422 at once; the catalog is read and the market
    asked about the rest with no transaction open (see ``membership.check_additions``)."""
    parsed = membership.parse_strictly(data.symbols or [], field_name="symbols")
    return await membership.check_additions(
        db,
        owner_id=owner_id,
        universe_id=None,
        symbols=[p.symbol for p in parsed if p.symbol],
        market=market,
    )


async def _initial_assets(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    data: UniverseCreate,
    additions: membership.Additions | None,
) -> list[Asset]:
    assets: list[Asset] = []
    if data.from_index is not None:
        found = await asset_service.get_index_with_assets(session, data.from_index.strip())
        if found is None:
            raise await asset_service.unknown_index(session, data.from_index, field="from_index")
        assets.extend(found[1])
    if data.symbols:
        parsed = membership.parse_strictly(data.symbols, field_name="symbols")
        if additions is None:
            additions = membership.Additions([p.symbol for p in parsed if p.symbol])
        resolved = await membership.resolve_additions(session, additions, owner_id=owner_id)
        assets.extend(membership.require_all(parsed, resolved, field_name="symbols"))
    unique = list({asset.id: asset for asset in assets}.values())  # first occurrence wins
    if len(unique) > MAX_UNIVERSE_ASSETS:
        raise InvalidInput(
            "Too many assets", field="symbols", reason=f"at most {MAX_UNIVERSE_ASSETS} assets"
        )
    return unique


async def member_count(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> int:
    return await repository.count_members(session, owner_id=owner_id, universe_id=universe_id)


async def universe_name_exists(session: AsyncSession, *, owner_id: uuid.UUID, name: str) -> bool:
    found = await repository.get_universe_by_name(session, owner_id=owner_id, name=name)
    return found is not None


async def new_universe(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    data: UniverseCreate,
    additions: membership.Additions | None = None,
) -> UniverseDetail:
    """A new universe, optionally filled from an index and/or a list of symbols (all or nothing).

    ``additions`` is what ``check_new_universe`` found before this transaction: symbols the
    catalog lacks that a provider confirmed become assets, those no provider can check now are
    added as pending assets, and only definitively unknown ones refuse the creation. Without it
    the symbols must be in the catalog.
    """
    if await universe_name_exists(session, owner_id=owner_id, name=data.name):
        raise UniverseNameTaken(data.name)
    assets = await _initial_assets(session, owner_id=owner_id, data=data, additions=additions)
    now = utcnow()
    universe = Universe(
        owner_id=owner_id,
        name=data.name,
        description=data.description,
        created_at=now,
        updated_at=now,
    )
    session.add(universe)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request took the name since the check above
        raise UniverseNameTaken(data.name) from exc
    rows, changes = membership.member_rows(
        universe, [(asset, i, {}) for i, asset in enumerate(assets)], now
    )
    await repository.insert_members(session, rows)
    await repository.insert_changes(session, changes)
    return await get_universe_detail(session, owner_id=owner_id, universe_id=universe.id)


async def create_universe(
    db: Database, *, owner_id: uuid.UUID, data: UniverseCreate, market: MarketRuntime | None
) -> UniverseDetail:
    """``check_new_universe`` (no transaction open), then ``new_universe`` in one short write
    transaction. Call it with no transaction open."""
    additions = await check_new_universe(db, owner_id=owner_id, data=data, market=market)
    async with db.transaction(user_id=owner_id) as session:
        return await new_universe(session, owner_id=owner_id, data=data, additions=additions)


async def list_universes(
    session: AsyncSession, *, owner_id: uuid.UUID, limit: int, cursor: str | None = None
) -> Page[UniverseSummary]:
    """The owner's universes, newest first."""
    rows = await repository.list_universes(
        session, owner_id=owner_id, limit=limit + 1, before=decode_time_id(cursor)
    )
    page, next_cursor = newest_first_page(rows, limit, key=lambda row: row[0])
    return Page[UniverseSummary](
        items=[_summary(universe, count) for universe, count in page], next_cursor=next_cursor
    )


async def update_universe(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, data: UniverseUpdate
) -> UniverseSummary:
    universe = await _owned(session, owner_id, universe_id)
    if data.name is not None and data.name != universe.name:
        if await universe_name_exists(session, owner_id=owner_id, name=data.name):
            raise UniverseNameTaken(data.name)
        universe.name = data.name
    if "description" in data.model_fields_set:
        universe.description = data.description
    universe.updated_at = utcnow()
    try:
        await session.flush()
    except IntegrityError as exc:
        raise UniverseNameTaken(data.name or universe.name) from exc
    count = await repository.count_members(session, owner_id=owner_id, universe_id=universe.id)
    return _summary(universe, count)


async def delete_universe(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> DeletedUniverse:
    universe = await _owned(session, owner_id, universe_id)
    deleted = DeletedUniverse(
        id=universe.id,
        name=universe.name,
        asset_count=await repository.count_members(
            session, owner_id=owner_id, universe_id=universe.id
        ),
    )
    await repository.delete_universe(session, owner_id=owner_id, universe_id=universe.id)
    return deleted


def _utc_bound(moment: datetime, field: str) -> datetime:
    """``as_utc`` for a client's time: one that leaves the datetime range in UTC is a 422."""
    try:
        return as_utc(moment)
    except OverflowError as exc:
        raise InvalidInput(
            f"{field} is out of range", field=field, reason="outside years 1 to 9999 once in UTC"
        ) from exc


def turnover_rate(additions: int, removals: int, size_start: int, size_end: int) -> Decimal:
    """(additions + removals) / 2 / average size, where average size = (start + end) / 2."""
    average_size = Decimal(size_start + size_end) / 2
    if average_size == 0:
        return Decimal(0).quantize(_RATE_PLACES)
    rate = Decimal(additions + removals) / 2 / average_size
    return rate.quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)


async def get_turnover(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    start: datetime | None = None,
    end: datetime | None = None,
) -> UniverseTurnover:
    """Changes in (start, end] and the turnover rate over them (default: the last 30 days)."""
    universe = await _owned(session, owner_id, universe_id)
    end = _utc_bound(end, "end") if end is not None else utcnow()
    if start is not None:
        start = _utc_bound(start, "start")
    else:  # the default window, cut short at the earliest time there is
        start = max(end, _EARLIEST + DEFAULT_TURNOVER_WINDOW) - DEFAULT_TURNOVER_WINDOW
    if start >= end:
        raise InvalidInput("start must be before end", field="start")
    scope = {"owner_id": owner_id, "universe_id": universe.id}
    size_start = await repository.size_at(session, at=start, **scope)
    size_end = await repository.size_at(session, at=end, **scope)
    changes = await repository.changes_between(session, start=start, end=end, **scope)
    additions = [
        TurnoverEvent(symbol=c.symbol, occurred_at=c.occurred_at)
        for c in changes
        if c.action == "added"
    ]
    removals = [
        TurnoverEvent(symbol=c.symbol, occurred_at=c.occurred_at)
        for c in changes
        if c.action == "removed"
    ]
    return UniverseTurnover(
        universe_id=universe.id,
        start=start,
        end=end,
        additions=additions,
        removals=removals,
        addition_count=len(additions),
        removal_count=len(removals),
        size_at_start=size_start,
        size_at_end=size_end,
        turnover_rate=turnover_rate(len(additions), len(removals), size_start, size_end),
    )


async def export_csv(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> tuple[str, str, int]:
    """(universe name, CSV text, member count) of the universe's members in order."""
    universe, members = await all_members(session, owner_id=owner_id, universe_id=universe_id)
    return universe.name, csv_io.render_members(members), len(members)


# --- CSV import and export as jobs ----------------------------------------------------------

IMPORT_KIND = "import_universe_csv"
EXPORT_KIND = "export_universe_csv"
UPLOAD_FILE = "upload"
EXPORT_FILE = "export"


def export_url(universe_id: uuid.UUID, operation_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/{universe_id}/exports/{operation_id}"


def import_results_url(universe_id: uuid.UUID, operation_id: uuid.UUID) -> str:
    return f"{API_PREFIX}/{universe_id}/imports/{operation_id}/results"


class JobFileNotFound(NotFound):
    code = "job_file_not_found"
    message = "No such file: unknown operation, another universe's, or expired"


class JobNotFinished(Conflict):
    code = "operation_not_finished"
    message = "The operation has not succeeded (yet): its file does not exist"


async def request_import(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, content: bytes
) -> Operation:
    """Check the file (422 now, not a failed job later) and the universe, and ask for the import
    job with the file stored beside it (both commit with the request, or neither)."""
    rows = csv_io.parse_members(content)
    await _owned(session, owner_id, universe_id)
    operation = await jobs_service.request_job(
        session,
        kind=IMPORT_KIND,
        owner_id=owner_id,
        params={"universe_id": str(universe_id), "row_count": len(rows)},
    )
    await jobs_service.attach_file(
        session, operation=operation, name=UPLOAD_FILE, content=content, media_type="text/csv"
    )
    return operation


async def request_export(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID
) -> Operation:
    await _owned(session, owner_id, universe_id)
    return await jobs_service.request_job(
        session, kind=EXPORT_KIND, owner_id=owner_id, params={"universe_id": str(universe_id)}
    )


async def _job_of_universe(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    operation_id: uuid.UUID,
    kind: str,
) -> Operation:
    operation = await jobs_service.find_operation(
        session, owner_id=owner_id, operation_id=operation_id
    )
    if (
        operation is None
        or operation.kind != kind
        or operation.params.get("universe_id") != str(universe_id)
    ):
        raise JobFileNotFound()
    return operation


async def export_file(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, operation_id: uuid.UUID
) -> tuple[str, bytes]:
    """(universe name, CSV) a succeeded export of this owner's universe wrote; 404 for others."""
    operation = await _job_of_universe(
        session, owner_id=owner_id, universe_id=universe_id, operation_id=operation_id,
        kind=EXPORT_KIND,
    )  # fmt: skip
    if operation.status != OperationStatus.SUCCEEDED:
        raise JobNotFinished(next_actions=["get_operation"])
    found = await jobs_service.operation_file(session, operation=operation, name=EXPORT_FILE)
    if found is None:
        raise JobFileNotFound()
    return str((operation.result or {}).get("name") or "universe"), found[0]


async def import_results(
    db: Database, *, owner_id: uuid.UUID, universe_id: uuid.UUID, operation_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """Every row's result of this owner's import so far, as JSON lines (row order)."""
    async with db.transaction(user_id=owner_id, readonly=True) as session:
        operation = await _job_of_universe(
            session, owner_id=owner_id, universe_id=universe_id, operation_id=operation_id,
            kind=IMPORT_KIND,
        )  # fmt: skip
    if operation.status == OperationStatus.PENDING and operation.progress_done == 0:
        raise JobNotFinished("The import has not started yet", next_actions=["get_operation"])

    async def lines() -> AsyncIterator[bytes]:
        async for item in jobs_service.stream_results(
            db, owner_id=owner_id, operation_id=operation_id
        ):
            payload = {k: v for k, v in item.items() if k != "i"}
            yield (json.dumps(payload, separators=(",", ":")) + "\n").encode()

    return lines()


def import_row_results(
    rows: Sequence[csv_io.CsvRow], results: Sequence[SymbolResult]
) -> list[dict[str, Any]]:
    return [
        ImportRowResult(
            row=row.row,
            input=csv_io.echo(row.symbol),
            symbol=result.symbol,
            status=result.status,
            reason=result.reason,
        ).model_dump(mode="json")
        for row, result in zip(rows, results, strict=True)
    ]


# --- What the market engine keeps fresh ---------------------------------------------------------


async def watch_active_universes(
    session: AsyncSession,
    *,
    now: datetime,
    active_since: datetime,
    refresh_seconds: int,
    hold_seconds: float,
) -> dict[str, int]:
    """The members of recently active users' universes become background watches of their
    quotes (low priority, refreshed every ``refresh_seconds``), held for ``hold_seconds``: renewed
    while their owners stay active, expired once they are not (system context, bound to each
    owner in turn)."""
    owners = await auth_service.recently_active_user_ids(session, since=active_since)
    watched: set[str] = set()
    for owner_id in owners:
        await set_tenant(session, owner_id)  # universe rows are read as their owner
        symbols = await repository.member_symbols(session, owner_id)
        watched.update(symbols)
        await market_watching.watch(
            session,
            owner_id=owner_id,
            client=UNIVERSE_WATCH_CLIENT,
            pairs=[(symbol, "quote") for symbol in symbols],
            now=now,
            seconds=hold_seconds,
            priority=market_watching.BACKGROUND_PRIORITY,
            refresh_seconds=refresh_seconds,
        )
    return {
        "active_users": len(owners),
        "watched_symbols": len(watched),
    }
