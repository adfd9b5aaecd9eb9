"""HTTP surface of the research vault: vaults, their files, scans, duplicates, plans of moves
and their rollback, and the files linked to an asset."""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from quantdesk.auth.dependencies import AppSettings, AuthenticatedUser, CurrentUser
from quantdesk.jobs.schemas import OperationOut
from quantdesk.kit.db import Db, DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.errors import PayloadTooLarge
from quantdesk.kit.pagination import Page
from quantdesk.vault import plans, service
from quantdesk.vault.rules import RuleSet
from quantdesk.vault.schemas import (
    CleanupRequest,
    DeletedVault,
    DuplicateReport,
    OrganizeRequest,
    PlanOut,
    PlanSummary,
    UploadedFile,
    VaultCreate,
    VaultFileOut,
    VaultOut,
)

router = APIRouter(tags=["vault"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Envelope[None], "description": "No such vault (or file, or plan) among yours"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": Envelope[None], "description": "Invalid input (error.details name the field)"}
}
VaultId = Annotated[uuid.UUID, Path(description="The vault's id")]
FilePath = Annotated[str, Path(description="The file's path inside the vault")]
Cursor = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the last page")]


def _location(response: Response, operation_id: uuid.UUID) -> None:
    response.headers["Location"] = f"/api/v1/operations/{operation_id}"


def upload_limit(settings_max: int) -> Any:
    """For the body-size middleware: a file upload may be as large as the vault allows."""

    def limit(scope: dict[str, Any]) -> int | None:
        path = str(scope.get("path", ""))
        if (
            scope.get("method") == "PUT"
            and path.startswith("/api/v1/vaults/")
            and "/files/" in path
        ):
            return settings_max
        return None

    return limit


@router.post(
    "/vaults",
    response_model=Envelope[VaultOut],
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Envelope[None], "description": "vault_name_taken"}, **_INVALID},
)
async def create_vault(
    body: VaultCreate, db: Db, user: AuthenticatedUser, settings: AppSettings
) -> Envelope[VaultOut]:
    """Register a vault: a local folder (`kind: local`, `root` inside one of the folders the admin
    allows, QUANTDESK_VAULT_ALLOWED_ROOTS; never one overlapping another user's vault) or an
    S3/R2/MinIO bucket (`kind: s3`, `bucket`, optional `prefix`, `endpoint_url` (https, or allowed
    by QUANTDESK_VAULT_ALLOWED_ENDPOINTS), `region`, `credentials`). Credentials are stored
    encrypted and never shown again. `rules` (optional) replace the default categorisation rules.
    """
    vault = await service.create_vault(db, settings, owner_id=user.id, data=body)
    return ok(
        vault, f"Vault '{vault.name}' registered", next_actions=["scan_vault", "upload_vault_file"]
    )


@router.get("/vaults", response_model=Envelope[Page[VaultOut]])
async def list_vaults(
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> Envelope[Page[VaultOut]]:
    """Your vaults, newest first."""
    page = await service.list_vaults(session, owner_id=user.id, limit=limit, cursor=cursor)
    return ok(page, f"{len(page.items)} vault(s)", next_actions=["get_vault", "create_vault"])


@router.get("/vaults/{vault_id}", response_model=Envelope[VaultOut], responses=_NOT_FOUND)
async def get_vault(vault_id: VaultId, session: DbSession, user: CurrentUser) -> Envelope[VaultOut]:
    """One of your vaults (credentials are never shown: `has_credentials` says if it has some)."""
    vault = await service.get_vault(session, owner_id=user.id, vault_id=vault_id)
    return ok(vault, f"Vault '{vault.name}'", next_actions=["list_vault_files", "scan_vault"])


@router.delete("/vaults/{vault_id}", response_model=Envelope[DeletedVault], responses=_NOT_FOUND)
async def delete_vault(
    vault_id: VaultId, session: DbSession, user: CurrentUser
) -> Envelope[DeletedVault]:
    """Forget a vault (its inventory and plans); the files themselves are left untouched."""
    deleted = await service.delete_vault(session, owner_id=user.id, vault_id=vault_id)
    return ok(deleted, f"Vault '{deleted.name}' removed", next_actions=["list_vaults"])


@router.get("/vaults/{vault_id}/rules", response_model=Envelope[RuleSet], responses=_NOT_FOUND)
async def get_vault_rules(
    vault_id: VaultId, session: DbSession, user: CurrentUser
) -> Envelope[RuleSet]:
    """The categorisation rules the vault uses (its own, or the defaults: see `custom`)."""
    rules, custom = await service.get_rules(session, owner_id=user.id, vault_id=vault_id)
    return ok(rules, f"{len(rules.rules)} rule(s)", next_actions=["set_vault_rules"], custom=custom)


@router.put(
    "/vaults/{vault_id}/rules",
    response_model=Envelope[RuleSet],
    responses={**_NOT_FOUND, **_INVALID},
)
async def set_vault_rules(
    vault_id: VaultId, body: RuleSet, session: DbSession, user: CurrentUser
) -> Envelope[RuleSet]:
    """Replace the vault's rules: filters (extensions, mime, name_regex, sizes, dates,
    has_symbol) and a target template such as `{category}/{symbol}/{year}/{name}`; the first rule
    that matches a file decides. The next scan and plan use them."""
    rules = await service.set_rules(session, owner_id=user.id, vault_id=vault_id, rules=body)
    return ok(rules, "Rules saved", next_actions=["scan_vault", "organize_vault"], custom=True)


@router.delete("/vaults/{vault_id}/rules", response_model=Envelope[RuleSet], responses=_NOT_FOUND)
async def reset_vault_rules(
    vault_id: VaultId, session: DbSession, user: CurrentUser
) -> Envelope[RuleSet]:
    """Go back to the default rules (filings, statements, research notes, spreadsheets, data
    files, images, archives)."""
    rules = await service.set_rules(session, owner_id=user.id, vault_id=vault_id, rules=None)
    return ok(rules, "Default rules restored", next_actions=["scan_vault"], custom=False)


@router.get(
    "/vaults/{vault_id}/files",
    response_model=Envelope[Page[VaultFileOut]],
    responses={**_NOT_FOUND, **_INVALID},
)
async def list_vault_files(
    vault_id: VaultId,
    session: DbSession,
    user: CurrentUser,
    category: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Part of the path")] = None,
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Envelope[Page[VaultFileOut]]:
    """The vault's inventory as of its last scan, by path; filter by category, symbol, text."""
    page = await service.list_files(
        session,
        owner_id=user.id,
        vault_id=vault_id,
        limit=limit,
        cursor=cursor,
        category=category,
        query=q,
        symbol=symbol,
    )
    return ok(page, f"{len(page.items)} file(s)", next_actions=["download_vault_file"])


@router.put(
    "/vaults/{vault_id}/files/{path:path}",
    response_model=Envelope[UploadedFile],
    status_code=status.HTTP_201_CREATED,
    responses={
        **_NOT_FOUND,
        **_INVALID,
        413: {
            "model": Envelope[None],
            "description": "Larger than QUANTDESK_VAULT_MAX_UPLOAD_BYTES",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The file's bytes, as they are (not a form)",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_vault_file(
    vault_id: VaultId,
    path: FilePath,
    request: Request,
    db: Db,
    user: AuthenticatedUser,
    settings: AppSettings,
) -> Envelope[UploadedFile]:
    """Upload a file (the raw request body), streamed; it replaces a file at the same path.

    It is written under a temporary name and moved into place once complete, so nothing half
    written is ever left behind; past QUANTDESK_VAULT_MAX_UPLOAD_BYTES it is a 413.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.vault_max_upload_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.vault_max_upload_bytes} bytes")

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    uploaded = await service.upload(
        db, settings, owner_id=user.id, vault_id=vault_id, path=path, chunks=body()
    )
    return ok(uploaded, f"Stored {uploaded.path}", next_actions=["scan_vault"])


@router.get(
    "/vaults/{vault_id}/files/{path:path}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file itself"},
        **_NOT_FOUND,
        **_INVALID,
    },
)
async def download_vault_file(
    vault_id: VaultId, path: FilePath, db: Db, user: AuthenticatedUser, settings: AppSettings
) -> StreamingResponse:
    """Download a file, streamed (the file itself, not an envelope; errors still are)."""
    entry, chunks = await service.download(
        db, settings, owner_id=user.id, vault_id=vault_id, path=path
    )
    media_type = mimetypes.guess_type(entry.path)[0] or "application/octet-stream"
    name = quote(entry.path.rsplit("/", 1)[-1])
    return StreamingResponse(
        chunks,
        media_type=media_type,
        headers={
            "Content-Length": str(entry.size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "X-Content-Type-Options": "nosniff",
        },
    )


_ACCEPTED: dict[int | str, dict[str, Any]] = {**_NOT_FOUND, **_INVALID}


@router.post(
    "/vaults/{vault_id}/scan",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ACCEPTED,
)
async def scan_vault(
    vault_id: VaultId, response: Response, session: DbSession, user: CurrentUser
) -> Envelope[OperationOut]:
    """Scan the vault into its inventory (a job: 202 with the operation; live progress on
    `/ws/operations/{id}`). Files whose size and mtime did not change are not read again."""
    operation = await service.request_scan(session, owner_id=user.id, vault_id=vault_id)
    _location(response, operation.id)
    return ok(OperationOut.of(operation), "Scan started", next_actions=["get_operation"])


@router.post(
    "/vaults/{vault_id}/duplicates",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ACCEPTED,
)
async def find_vault_duplicates(
    vault_id: VaultId, response: Response, session: DbSession, user: CurrentUser
) -> Envelope[OperationOut]:
    """Find duplicate files among the scanned ones (a job): by size, hard links dropped, then
    the first and last 4 KiB, then the whole content (xxh3-128)."""
    operation = await service.request_duplicates(session, owner_id=user.id, vault_id=vault_id)
    _location(response, operation.id)
    return ok(
        OperationOut.of(operation),
        "Looking for duplicates",
        next_actions=["get_operation", "get_vault_duplicates"],
    )


@router.get(
    "/vaults/{vault_id}/duplicates",
    response_model=Envelope[DuplicateReport],
    responses=_NOT_FOUND,
)
async def get_vault_duplicates(
    vault_id: VaultId, session: DbSession, user: CurrentUser
) -> Envelope[DuplicateReport]:
    """The duplicate groups the last duplicates job found, with the bytes each would reclaim."""
    report = await service.duplicate_report(session, owner_id=user.id, vault_id=vault_id)
    return ok(
        report,
        f"{report.group_count} group(s), {report.reclaimable_bytes} bytes reclaimable",
        next_actions=["clean_up_vault_duplicates"],
    )


def _plan_accepted(
    response: Response, plan_id: uuid.UUID, vault_id: uuid.UUID, operation: Any
) -> Envelope[OperationOut]:
    _location(response, operation.id)
    return ok(
        OperationOut.of(operation),
        "Planning started: read the plan before applying it",
        next_actions=["get_operation", "get_vault_plan"],
        plan_id=str(plan_id),
        plan_url=f"/api/v1/vaults/{vault_id}/plans/{plan_id}",
    )


@router.post(
    "/vaults/{vault_id}/duplicates/cleanup",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ACCEPTED,
)
async def clean_up_vault_duplicates(
    vault_id: VaultId,
    response: Response,
    session: DbSession,
    user: CurrentUser,
    body: Annotated[CleanupRequest | None, Body()] = None,
) -> Envelope[OperationOut]:
    """Plan the clean-up of duplicates (a job): one copy per group is kept by `keep` (oldest,
    newest, shortest_path, or the one inside `reference`), the others are to move to the vault's
    `.quarantine/` folder. Nothing is deleted and nothing moves until the plan is applied."""
    plan, operation = await plans.request_cleanup(
        session, owner_id=user.id, vault_id=vault_id, data=body or CleanupRequest()
    )
    return _plan_accepted(response, plan.id, vault_id, operation)


@router.post(
    "/vaults/{vault_id}/organize",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses=_ACCEPTED,
)
async def organize_vault(
    vault_id: VaultId,
    response: Response,
    session: DbSession,
    user: CurrentUser,
    body: Annotated[OrganizeRequest | None, Body()] = None,
) -> Envelope[OperationOut]:
    """Plan where each scanned file goes by the vault's rules (a dry run, as a job): every move
    with its conflict resolution (`skip`, or `rename_new`). Read it with `get_vault_plan`."""
    plan, operation = await plans.request_organize(
        session, owner_id=user.id, vault_id=vault_id, data=body or OrganizeRequest()
    )
    return _plan_accepted(response, plan.id, vault_id, operation)


@router.get(
    "/vaults/{vault_id}/plans",
    response_model=Envelope[Page[PlanSummary]],
    responses={**_NOT_FOUND, **_INVALID},
)
async def list_vault_plans(
    vault_id: VaultId,
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> Envelope[Page[PlanSummary]]:
    """The vault's plans (organise, duplicate clean-up), newest first, with their operations."""
    page = await plans.list_plans(
        session, owner_id=user.id, vault_id=vault_id, limit=limit, cursor=cursor
    )
    return ok(page, f"{len(page.items)} plan(s)", next_actions=["get_vault_plan"])


@router.get(
    "/vaults/{vault_id}/plans/{plan_id}",
    response_model=Envelope[PlanOut],
    responses={**_NOT_FOUND, **_INVALID},
)
async def get_vault_plan(
    vault_id: VaultId,
    plan_id: Annotated[uuid.UUID, Path()],
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    cursor: Cursor = None,
) -> Envelope[PlanOut]:
    """A plan and its moves in order (src, dst, size, mtime, hash, status and why)."""
    plan = await plans.get_plan(
        session, owner_id=user.id, vault_id=vault_id, plan_id=plan_id, limit=limit, cursor=cursor
    )
    actions = ["apply_vault_plan"] if plan.status == "ready" else ["rollback_operation"]
    return ok(plan, f"Plan {plan.status}: {plan.move_count} move(s)", next_actions=actions)


@router.post(
    "/vaults/{vault_id}/plans/{plan_id}/apply",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_NOT_FOUND, 409: {"model": Envelope[None], "description": "Plan not ready"}},
)
async def apply_vault_plan(
    vault_id: VaultId,
    plan_id: Annotated[uuid.UUID, Path()],
    response: Response,
    session: DbSession,
    user: CurrentUser,
) -> Envelope[OperationOut]:
    """Carry out a ready plan (a job). Each file is checked (size, mtime, hash) just before its
    move and skipped if it changed; every move is journaled before it happens, so the operation
    can be rolled back (`rollback_operation`)."""
    operation = await plans.request_apply(
        session, owner_id=user.id, vault_id=vault_id, plan_id=plan_id
    )
    _location(response, operation.id)
    return ok(
        OperationOut.of(operation),
        "Applying the plan",
        next_actions=["get_operation", "rollback_operation"],
    )


@router.post(
    "/operations/{operation_id}/rollback",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses={**_NOT_FOUND, 409: {"model": Envelope[None], "description": "Nothing to undo"}},
)
async def rollback_operation(
    operation_id: Annotated[uuid.UUID, Path(description="The apply operation's id")],
    response: Response,
    session: DbSession,
    user: CurrentUser,
) -> Envelope[OperationOut]:
    """Undo the moves of a vault apply operation, in reverse order (a job). Each file's hash is
    checked first; a file now at the original path is never overwritten (reported as a
    conflict)."""
    operation = await plans.request_rollback(session, owner_id=user.id, operation_id=operation_id)
    _location(response, operation.id)
    return ok(OperationOut.of(operation), "Rolling back", next_actions=["get_operation"])


@router.get(
    "/assets/{symbol}/files",
    response_model=Envelope[Page[VaultFileOut]],
    responses=_NOT_FOUND,
)
async def list_asset_files(
    symbol: Annotated[str, Path(max_length=32)],
    session: DbSession,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Envelope[Page[VaultFileOut]]:
    """Your vault files that name this asset's symbol (in their name or folders), all vaults."""
    canonical, page = await service.asset_files(
        session, owner_id=user.id, symbol=symbol, limit=limit, cursor=cursor
    )
    return ok(
        page, f"{len(page.items)} file(s) about {canonical}", next_actions=["download_vault_file"]
    )
