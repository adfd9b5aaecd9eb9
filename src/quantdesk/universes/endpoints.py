"""HTTP surface of universes: named, ordered, owned lists of catalog assets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from quantdesk.auth.dependencies import AuthenticatedUser, CurrentUser
from quantdesk.jobs.schemas import OperationOut
from quantdesk.kit.db import Db, DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.pagination import Page
from quantdesk.market.runtime import MarketRuntimeDep
from quantdesk.universes import csv_io, membership, service
from quantdesk.universes.schemas import (
    DEFAULT_MEMBERS_PAGE,
    MAX_MEMBERS_PAGE,
    DeletedUniverse,
    MembershipChange,
    MembershipResult,
    ReorderRequest,
    UniverseCreate,
    UniverseDetail,
    UniverseMember,
    UniverseSummary,
    UniverseTurnover,
    UniverseUpdate,
)

router = APIRouter(prefix="/universes", tags=["universes"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Envelope[None], "description": "No such universe among yours"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": Envelope[None], "description": "Invalid input (error.details name the field)"}
}
UniverseId = Annotated[uuid.UUID, Path(description="The universe's id")]


def operation_location(operation_id: uuid.UUID) -> str:
    return f"/api/v1/operations/{operation_id}"


@router.post(
    "",
    response_model=Envelope[UniverseDetail],
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {"model": Envelope[None], "description": "universe_name_taken"},
        **_INVALID,
    },
)
async def create_universe(
    body: UniverseCreate, db: Db, user: AuthenticatedUser, market: MarketRuntimeDep
) -> Envelope[UniverseDetail]:
    """Create a universe, empty or filled from `symbols` and/or an index (`from_index`).

    All or nothing: a malformed or unknown symbol, or an unknown index, is a 422 (field `symbols.N`
    or `from_index`) and nothing is created. Index members come first in symbol order, then the
    `symbols` in the order given; duplicates are kept once. Names are unique per user (409).
    Symbols the catalog lacks are validated with the data providers; those no provider can check
    now are added as pending assets, visible only to you until a provider confirms them.
    The answer is the universe with its member counts, like `get_universe`.
    """
    detail = await service.create_universe(db, owner_id=user.id, data=body, market=market)
    return ok(
        detail,
        f"Universe '{detail.name}' created with {detail.asset_count} assets",
        next_actions=["add_assets_to_universe", "list_universe_assets", "import_universe_csv"],
        asset_count=detail.asset_count,
    )


@router.get("", response_model=Envelope[Page[UniverseSummary]])
async def list_universes(
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Envelope[Page[UniverseSummary]]:
    """Your universes with their asset counts, newest first; `next_cursor` gives the next page."""
    page = await service.list_universes(session, owner_id=user.id, limit=limit, cursor=cursor)
    return ok(
        page,
        f"{len(page.items)} universe(s)",
        next_actions=["get_universe", "create_universe"],
        count=len(page.items),
    )


@router.get("/{universe_id}", response_model=Envelope[UniverseDetail], responses=_NOT_FOUND)
async def get_universe(
    universe_id: UniverseId, session: DbSession, user: CurrentUser
) -> Envelope[UniverseDetail]:
    """A universe with its member counts (in all, by validation status, by asset class).

    The members themselves are paged, in order, at `assets_url` (`list_universe_assets`).
    """
    detail = await service.get_universe_detail(session, owner_id=user.id, universe_id=universe_id)
    return ok(
        detail,
        f"Universe '{detail.name}' with {detail.asset_count} assets",
        next_actions=[
            "list_universe_assets",
            "add_assets_to_universe",
            "reorder_universe_assets",
            "get_universe_turnover",
            "export_universe_csv",
        ],
        asset_count=detail.asset_count,
    )


@router.get(
    "/{universe_id}/assets",
    response_model=Envelope[Page[UniverseMember]],
    responses={**_NOT_FOUND, **_INVALID},
)
async def list_universe_assets(
    universe_id: UniverseId,
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[
        int, Query(ge=1, le=MAX_MEMBERS_PAGE, description="Members per page")
    ] = DEFAULT_MEMBERS_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page")
    ] = None,
) -> Envelope[Page[UniverseMember]]:
    """The universe's members in order (`position` is the 0-based rank), a page at a time;
    `next_cursor` gives the next page and is null on the last one.

    Members added between two pages show up on a later page; a reorder between two pages makes
    the next one go on from the cursor's place in the new order.
    """
    page = await service.list_members(
        session, owner_id=user.id, universe_id=universe_id, limit=limit, cursor=cursor
    )
    more = ["list_universe_assets"] if page.next_cursor else []
    return ok(
        page,
        f"{len(page.items)} asset(s)" + (", more on the next page" if page.next_cursor else ""),
        next_actions=[*more, "get_universe", "add_assets_to_universe", "export_universe_csv"],
        count=len(page.items),
    )


@router.patch(
    "/{universe_id}",
    response_model=Envelope[UniverseSummary],
    responses={**_NOT_FOUND, 409: {"model": Envelope[None], "description": "universe_name_taken"}},
)
async def update_universe(
    universe_id: UniverseId, body: UniverseUpdate, session: DbSession, user: CurrentUser
) -> Envelope[UniverseSummary]:
    """Rename a universe or change its description (`description: null` clears it)."""
    summary = await service.update_universe(
        session, owner_id=user.id, universe_id=universe_id, data=body
    )
    return ok(summary, f"Universe '{summary.name}' updated", next_actions=["get_universe"])


@router.delete("/{universe_id}", response_model=Envelope[DeletedUniverse], responses=_NOT_FOUND)
async def delete_universe(
    universe_id: UniverseId, session: DbSession, user: CurrentUser
) -> Envelope[DeletedUniverse]:
    """Delete a universe, its memberships and its change log (the catalog assets stay)."""
    deleted = await service.delete_universe(session, owner_id=user.id, universe_id=universe_id)
    return ok(
        deleted,
        f"Universe '{deleted.name}' deleted",
        next_actions=["list_universes", "create_universe"],
    )


@router.post(
    "/{universe_id}/assets",
    response_model=Envelope[MembershipResult],
    responses={**_NOT_FOUND, **_INVALID},
)
async def add_assets_to_universe(
    universe_id: UniverseId,
    body: MembershipChange,
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
) -> Envelope[MembershipResult]:
    """Add and/or remove assets by symbol (up to 10,000 in `add` and `remove` together).

    Each input gets a result: `added`, `added_pending`, `already_present`, `removed`,
    `not_present`, `unknown_symbol` or `invalid_format`. Symbols the catalog lacks are validated
    with the data providers; when none can answer now the symbol is still added, as a pending
    asset validated in the background (`added_pending`), visible only to you until a provider
    confirms it. The valid part is applied at once (one transaction); new members go to the end
    in input order. A symbol in both lists is a 422 and changes nothing.
    """
    result = await membership.change_members(
        db,
        owner_id=user.id,
        universe_id=universe_id,
        add=body.add,
        remove=body.remove,
        market=market,
    )
    counts = result.counts
    unrecognised = counts.unknown_symbol + counts.invalid_format
    pending = f", {counts.added_pending} pending validation" if counts.added_pending else ""
    return ok(
        result,
        f"{counts.added} added{pending}, {counts.removed} removed, {unrecognised} not recognised",
        next_actions=["get_universe", "list_universe_assets", "get_universe_turnover"]
        + (["search_assets"] if unrecognised else []),
        asset_count=result.asset_count,
    )


@router.put(
    "/{universe_id}/assets/order",
    response_model=Envelope[UniverseDetail],
    responses={**_NOT_FOUND, **_INVALID},
)
async def reorder_universe_assets(
    universe_id: UniverseId, body: ReorderRequest, session: DbSession, user: CurrentUser
) -> Envelope[UniverseDetail]:
    """Set the order of the members: `symbols` must list every current member exactly once.

    The answer is the universe with its member counts, like `get_universe`; the members in
    their new order are at `assets_url`.
    """
    await membership.reorder_members(
        session, owner_id=user.id, universe_id=universe_id, symbols=body.symbols
    )
    detail = await service.get_universe_detail(session, owner_id=user.id, universe_id=universe_id)
    return ok(
        detail,
        "Order saved",
        next_actions=["list_universe_assets", "export_universe_csv"],
        asset_count=detail.asset_count,
    )


@router.get(
    "/{universe_id}/turnover",
    response_model=Envelope[UniverseTurnover],
    responses={**_NOT_FOUND, **_INVALID},
)
async def get_universe_turnover(
    universe_id: UniverseId,
    session: DbSession,
    user: CurrentUser,
    start: Annotated[datetime | None, Query(description="ISO 8601; default end - 30 days")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601; default now")] = None,
) -> Envelope[UniverseTurnover]:
    """Additions and removals in the window (start, end] and the turnover rate over it.

    `turnover_rate = (additions + removals) / 2 / average_size`, where
    `average_size = (size_at_start + size_at_end) / 2`; it is 0 when the average size is 0.
    Sizes are replayed from the change log (additions minus removals up to that instant).
    The rate is a decimal string rounded half-up to 6 places. Times without an offset are UTC;
    `start` must be before `end`.
    """
    turnover = await service.get_turnover(
        session, owner_id=user.id, universe_id=universe_id, start=start, end=end
    )
    return ok(
        turnover,
        f"{turnover.addition_count} additions, {turnover.removal_count} removals, "
        f"turnover {turnover.turnover_rate}",
        next_actions=["get_universe", "add_assets_to_universe"],
    )


@router.get(
    "/{universe_id}/export",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The CSV file itself (not an envelope)",
        },
        **_NOT_FOUND,
    },
)
async def export_universe_csv(
    universe_id: UniverseId, session: DbSession, user: CurrentUser
) -> Response:
    """Download the members as CSV, in order: `symbol,name,asset_class,exchange,sector`, then one
    column per membership metadata key (alphabetical).

    This answer is the CSV file itself, not the JSON envelope (errors still are envelopes).
    Cells a spreadsheet would run as a formula are prefixed with `'` (import removes it again).
    """
    name, text, _ = await service.export_csv(session, owner_id=user.id, universe_id=universe_id)
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": csv_io.content_disposition(name)},
    )


@router.post(
    "/{universe_id}/import",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_NOT_FOUND, **_INVALID},
)
async def import_universe_csv(
    universe_id: UniverseId,
    response: Response,
    session: DbSession,
    user: CurrentUser,
    file: Annotated[
        UploadFile,
        File(
            description="UTF-8 CSV: a header with a symbol (or ticker) column, "
            "or one column of symbols"
        ),
    ],
) -> Envelope[OperationOut]:
    """Add the rows of a CSV file (at most 5 MB and 10,000 rows) to the universe, as a background
    job: 202 with the operation (`Location: /api/v1/operations/{id}`); follow it there or on
    `/ws/operations/{id}`.

    The file is checked at once (an unusable file is a 422 on field `file`). It has a header row,
    or is a single column of symbols without one (when the first cell reads as a symbol rather
    than a column name). The header's columns are a closed set: `symbol` or `ticker` (any case;
    exactly one is required); `name`, `asset_class`, `exchange` and `sector`, which are the
    catalog's (written by export) and ignored; and `meta.<key>` columns, kept as the member's
    metadata under `<key>` (text). Any other column, or a value in a column without a name, is a
    422 naming it and the allowed columns. The finished operation's result has the counts and a
    result per row like `add_assets_to_universe` (`row` counts the header, if any, as row 1; the
    first 1,000 inline, all of them at `results_url`). Valid rows are added, the others reported.
    Members already present keep their metadata. Comma, semicolon and tab delimiters are
    recognised.
    """
    content = await file.read(csv_io.MAX_IMPORT_BYTES + 1)
    operation = await service.request_import(
        session, owner_id=user.id, universe_id=universe_id, content=content
    )
    response.headers["Location"] = operation_location(operation.id)
    return ok(
        OperationOut.of(operation),
        "Import started",
        next_actions=["get_operation", "cancel_operation", "get_universe"],
    )


@router.post(
    "/{universe_id}/export",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses=_NOT_FOUND,
)
async def start_universe_export(
    universe_id: UniverseId, response: Response, session: DbSession, user: CurrentUser
) -> Envelope[OperationOut]:
    """Write the members' CSV file in the background (same columns as `export_universe_csv`,
    which still answers small universes at once): 202 with the operation; its result's
    `download_url` serves the file once it has succeeded."""
    operation = await service.request_export(session, owner_id=user.id, universe_id=universe_id)
    response.headers["Location"] = operation_location(operation.id)
    return ok(
        OperationOut.of(operation),
        "Export started",
        next_actions=["get_operation", "download_universe_export"],
    )


_FILE_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Envelope[None], "description": "Not your universe or operation, or expired"},
    409: {"model": Envelope[None], "description": "The operation has not succeeded (yet)"},
}


@router.get(
    "/{universe_id}/exports/{operation_id}",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "The CSV file the export wrote (not an envelope)",
        },
        **_FILE_ERRORS,
    },
)
async def download_universe_export(
    universe_id: UniverseId,
    operation_id: Annotated[uuid.UUID, Path(description="The export operation's id")],
    session: DbSession,
    user: CurrentUser,
) -> Response:
    """The CSV file a succeeded `start_universe_export` wrote; its owner only (others get 404).
    Files are kept for `QUANTDESK_OPERATIONS_RETENTION_DAYS`."""
    name, content = await service.export_file(
        session, owner_id=user.id, universe_id=universe_id, operation_id=operation_id
    )
    return Response(
        content=content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": csv_io.content_disposition(name)},
    )


@router.get(
    "/{universe_id}/imports/{operation_id}/results",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "One JSON object per row: row, input, symbol, status, reason",
        },
        **_FILE_ERRORS,
    },
)
async def get_universe_import_results(
    universe_id: UniverseId,
    operation_id: Annotated[uuid.UUID, Path(description="The import operation's id")],
    db: Db,
    user: AuthenticatedUser,
) -> StreamingResponse:
    """Every row's result of an `import_universe_csv` so far, as JSON lines (row order):
    complete once it has succeeded; a cancelled or running one gives the rows it has done."""
    lines = await service.import_results(
        db, owner_id=user.id, universe_id=universe_id, operation_id=operation_id
    )
    return StreamingResponse(lines, media_type="application/x-ndjson")
