"""Business rules of the vault: registration (the checks are in ``vault.access``), rules, files
in and out, the inventory, duplicate reports and the scan and duplicates jobs' requests (plans of
moves are in ``vault.plans``).

Network and disk I/O (S3 calls, hashing, mkdir) never runs inside a database transaction: the
request reads what it needs in a short transaction, does the I/O, then writes in another.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.jobs import service as jobs_service
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.errors import Conflict, InvalidInput, PayloadTooLarge
from quantdesk.kit.orm import utcnow
from quantdesk.kit.pagination import (
    Page,
    decode_cursor,
    decode_time_id,
    encode_cursor,
    newest_first_page,
)
from quantdesk.models import Operation, Vault, VaultFile
from quantdesk.vault import crypto, repository
from quantdesk.vault.access import check_endpoint, inside, resolve_local_root
from quantdesk.vault.errors import (
    StorageUnavailable,
    VaultFileNotFound,
    VaultNameTaken,
    VaultNotFound,
)
from quantdesk.vault.rules import DEFAULT_RULES, RuleSet
from quantdesk.vault.schemas import (
    DeletedVault,
    DuplicateCopy,
    DuplicateGroup,
    DuplicateReport,
    UploadedFile,
    VaultCreate,
    VaultFileOut,
    VaultOut,
)
from quantdesk.vault.storage import (
    Entry,
    FileExists,
    FileMissing,
    LocalStorage,
    PathRefused,
    S3Storage,
    Storage,
    StorageError,
    TooLarge,
    clean_path,
)

SCAN_KIND = "vault_scan"
DUPLICATES_KIND = "vault_duplicates"
PLAN_KIND = "vault_plan"
APPLY_KIND = "vault_apply"
ROLLBACK_KIND = "vault_rollback"
QUARANTINE = ".quarantine"
MAX_REPORT_GROUPS = 1000


def _vault_out(vault: Vault) -> VaultOut:
    return VaultOut(
        id=vault.id,
        name=vault.name,
        kind=vault.kind,
        root=vault.root,
        bucket=vault.bucket,
        prefix=vault.prefix,
        endpoint_url=vault.endpoint_url,
        region=vault.region,
        has_credentials=vault.credentials is not None,
        custom_rules=vault.rules is not None,
        last_scan_at=vault.last_scan_at,
        created_at=vault.created_at,
    )


async def create_vault(
    db: Database, settings: Settings, *, owner_id: uuid.UUID, data: VaultCreate
) -> VaultOut:
    row = Vault(id=uuid.uuid4(), owner_id=owner_id, name=data.name, kind=data.kind)
    if data.rules is not None:
        row.rules = data.rules.model_dump(mode="json")
    if data.kind == "local":
        for field in ("bucket", "prefix", "endpoint_url", "region", "credentials"):
            if getattr(data, field) is not None:
                raise InvalidInput("Not for a local vault", field=field, reason="only for s3")
        async with db.transaction(system=True, readonly=True) as session:
            others = await repository.local_roots_of_others(session, owner_id=owner_id)
        allowed = settings.resolved_vault_allowed_roots
        root = resolve_local_root(data.root or "", allowed=allowed, others=others)
        try:
            await LocalStorage.make_root(root)
        except OSError as exc:
            raise InvalidInput("The root cannot be made", field="root", reason=str(exc)) from None
        # Made now: checked again, so a link swapped in meanwhile is caught.
        root = resolve_local_root(str(root), allowed=allowed, others=others)
        row.root = str(root)
    else:
        if data.root is not None:
            raise InvalidInput("Not for an S3 vault", field="root", reason="only for local")
        if data.bucket is None:
            raise InvalidInput("An S3 vault needs a bucket", field="bucket")
        if data.prefix is not None:
            prefix = data.prefix.strip("/")
            if prefix:
                try:
                    clean_path(prefix)
                except PathRefused as exc:
                    raise InvalidInput("Bad prefix", field="prefix", reason=exc.reason) from None
            row.prefix = prefix or None
        if data.endpoint_url:
            row.endpoint_url = check_endpoint(
                data.endpoint_url, allowed=settings.vault_allowed_endpoints
            )
        row.bucket, row.region = data.bucket, data.region
        if data.credentials is not None:
            row.credentials = crypto.encrypt(
                settings,
                {
                    "access_key_id": data.credentials.access_key_id,
                    "secret_access_key": data.credentials.secret_access_key.get_secret_value(),
                },
            )
    try:
        async with db.transaction(user_id=owner_id) as session:
            if await repository.get_vault_by_name(session, owner_id=owner_id, name=data.name):
                raise VaultNameTaken(next_actions=["list_vaults"])
            await repository.add(session, row)
    except IntegrityError:
        raise VaultNameTaken(next_actions=["list_vaults"]) from None
    return _vault_out(row)


async def owned(session: AsyncSession, owner_id: uuid.UUID, vault_id: uuid.UUID) -> Vault:
    vault = await repository.get_vault(session, owner_id=owner_id, vault_id=vault_id)
    if vault is None:
        raise VaultNotFound(next_actions=["list_vaults"])
    return vault


async def get_vault(session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID) -> VaultOut:
    return _vault_out(await owned(session, owner_id, vault_id))


async def list_vaults(
    session: AsyncSession, *, owner_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[VaultOut]:
    rows = await repository.list_vaults(
        session, owner_id=owner_id, limit=limit + 1, before=decode_time_id(cursor)
    )
    page, next_cursor = newest_first_page(rows, limit)
    return Page[VaultOut](items=[_vault_out(v) for v in page], next_cursor=next_cursor)


async def delete_vault(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> DeletedVault:
    vault = await owned(session, owner_id, vault_id)
    await repository.delete_vault(session, owner_id=owner_id, vault_id=vault.id)
    return DeletedVault(id=vault.id, name=vault.name)


def vault_rules(vault: Vault) -> RuleSet:
    return RuleSet.model_validate(vault.rules) if vault.rules is not None else DEFAULT_RULES


async def get_rules(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> tuple[RuleSet, bool]:
    """The vault's rules and whether they are its own (else the defaults)."""
    vault = await owned(session, owner_id, vault_id)
    return vault_rules(vault), vault.rules is not None


async def set_rules(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID, rules: RuleSet | None
) -> RuleSet:
    """Replace the vault's rules (None: back to the defaults); the next scan applies them."""
    vault = await owned(session, owner_id, vault_id)
    await repository.set_rules(
        session,
        owner_id=owner_id,
        vault_id=vault.id,
        rules=rules.model_dump(mode="json") if rules is not None else None,
        now=utcnow(),
    )
    return rules or DEFAULT_RULES


# --- storage ----------------------------------------------------------------------------------


def open_storage(settings: Settings, vault: Vault) -> Storage:
    """The vault's storage; a local root is checked again (a link swapped in is refused)."""
    if vault.kind == "local":
        root = Path(vault.root or "")
        allowed = settings.resolved_vault_allowed_roots
        if str(Path(os.path.realpath(root))) != str(root) or not any(
            root != a and inside(root, a) for a in allowed
        ):
            raise StorageUnavailable("The vault's root is no longer an allowed folder")
        return LocalStorage(root)
    secret = crypto.decrypt(settings, vault.credentials) if vault.credentials else {}
    return S3Storage(
        bucket=vault.bucket or "",
        prefix=vault.prefix or "",
        endpoint_url=vault.endpoint_url,
        region=vault.region,
        access_key_id=secret.get("access_key_id"),
        secret_access_key=secret.get("secret_access_key"),
    )


@contextlib.contextmanager
def storage_errors(field: str = "path") -> Iterator[None]:
    """Storage failures as API errors: a refused path is a 422 naming the field and the reason."""
    try:
        yield
    except PathRefused as exc:
        raise InvalidInput("The path is not allowed", field=field, reason=exc.reason) from None
    except FileMissing:
        raise VaultFileNotFound() from None
    except FileExists as exc:
        raise Conflict(exc.reason, code="vault_file_exists") from None
    except TooLarge as exc:
        raise PayloadTooLarge(exc.reason) from None
    except StorageError as exc:
        raise StorageUnavailable(exc.reason) from None
    except crypto.CredentialsUnreadable as exc:
        raise StorageUnavailable(str(exc)) from None


async def load_vault(db: Database, *, owner_id: uuid.UUID, vault_id: uuid.UUID) -> Vault:
    async with db.transaction(user_id=owner_id, readonly=True) as session:
        return await owned(session, owner_id, vault_id)


async def upload(
    db: Database,
    settings: Settings,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID,
    path: str,
    chunks: AsyncIterable[bytes],
) -> UploadedFile:
    """Stream a file into the vault (written under a temporary name, then moved into place)."""
    vault = await load_vault(db, owner_id=owner_id, vault_id=vault_id)
    with storage_errors():
        path = clean_path(path)
        if path.split("/", 1)[0] == QUARANTINE:
            raise PathRefused("the quarantine folder is the vault's own")
        storage = open_storage(settings, vault)
        try:
            entry = await storage.write(path, chunks, max_bytes=settings.vault_max_upload_bytes)
        finally:
            await storage.aclose()
    return UploadedFile(path=entry.path, size=entry.size, mtime=entry.mtime)


async def download(
    db: Database, settings: Settings, *, owner_id: uuid.UUID, vault_id: uuid.UUID, path: str
) -> tuple[Entry, AsyncIterator[bytes]]:
    """The file's stat (checked now, so a missing file is a 404 before any byte) and its bytes."""
    vault = await load_vault(db, owner_id=owner_id, vault_id=vault_id)
    with storage_errors():
        storage = open_storage(settings, vault)
        entry = await storage.stat(clean_path(path))

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in storage.read(entry.path):
                yield chunk
        finally:
            await storage.aclose()

    return entry, stream()


# --- the inventory ----------------------------------------------------------------------------


def _file_out(row: VaultFile) -> VaultFileOut:
    return VaultFileOut(
        vault_id=row.vault_id,
        path=row.path,
        size=row.size,
        mtime=row.mtime,
        inode=row.inode,
        extension=row.extension,
        mime=row.mime,
        category=row.category,
        symbol=row.symbol,
        content_hash=row.content_hash,
    )


def _file_cursor(cursor: str | None) -> tuple[str, str] | None:
    position = decode_cursor(cursor)
    if not position:
        return None
    vault_key, path = position.get("v"), position.get("p")
    try:
        uuid.UUID(str(vault_key))
    except ValueError:
        raise InvalidInput("The cursor is not valid", field="cursor") from None
    if not isinstance(path, str):
        raise InvalidInput("The cursor is not valid", field="cursor")
    return str(vault_key), path


def _file_page(rows: list[VaultFile], limit: int) -> Page[VaultFileOut]:
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        next_cursor = encode_cursor({"v": str(page[-1].vault_id), "p": page[-1].path})
    return Page[VaultFileOut](items=[_file_out(r) for r in page], next_cursor=next_cursor)


async def list_files(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault_id: uuid.UUID,
    limit: int,
    cursor: str | None = None,
    category: str | None = None,
    query: str | None = None,
    symbol: str | None = None,
) -> Page[VaultFileOut]:
    vault = await owned(session, owner_id, vault_id)
    rows = await repository.list_files(
        session,
        owner_id=owner_id,
        vault_id=vault.id,
        limit=limit + 1,
        after=_file_cursor(cursor),
        category=category,
        query=query,
        symbol=symbol.strip().upper() if symbol else None,
    )
    return _file_page(rows, limit)


async def asset_files(
    session: AsyncSession, *, owner_id: uuid.UUID, symbol: str, limit: int, cursor: str | None
) -> tuple[str, Page[VaultFileOut]]:
    """Your vault files linked to the asset (their name or folder names its symbol)."""
    asset = await asset_service.get_visible_asset(session, symbol=symbol, viewer_id=owner_id)
    rows = await repository.list_files(
        session,
        owner_id=owner_id,
        vault_id=None,
        limit=limit + 1,
        after=_file_cursor(cursor),
        asset_id=asset.id,
    )
    return asset.symbol, _file_page(rows, limit)


def inode_key(row: VaultFile) -> str:
    """One key per stored file: its inode where the storage has one, else its path."""
    return row.inode or f"path:{row.path}"


def group_duplicates(rows: list[VaultFile]) -> list[DuplicateGroup]:
    """Rows sharing (size, full hash) grouped; hard links of one inode are one copy."""
    groups: dict[tuple[int, str], dict[str, list[VaultFile]]] = {}
    for row in rows:
        if row.content_hash is None or row.size == 0:
            continue
        copies = groups.setdefault((row.size, row.content_hash), {})
        copies.setdefault(inode_key(row), []).append(row)
    found = []
    for (size, digest), copies in groups.items():
        if len(copies) < 2:
            continue
        listed = sorted(
            (
                DuplicateCopy(paths=sorted(r.path for r in links), mtime=links[0].mtime)
                for links in copies.values()
            ),
            key=lambda c: c.paths[0],
        )
        found.append(
            DuplicateGroup(
                size=size,
                content_hash=digest,
                copies=listed,
                reclaimable_bytes=size * (len(listed) - 1),
            )
        )
    found.sort(key=lambda g: (-g.reclaimable_bytes, g.copies[0].paths[0]))
    return found


async def duplicate_report(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> DuplicateReport:
    """Duplicate groups found by the last duplicates job (``find_vault_duplicates``)."""
    vault = await owned(session, owner_id, vault_id)
    groups = group_duplicates(
        await repository.hashed_files(session, owner_id=owner_id, vault_id=vault.id)
    )
    return DuplicateReport(
        groups=groups[:MAX_REPORT_GROUPS],
        group_count=len(groups),
        reclaimable_bytes=sum(g.reclaimable_bytes for g in groups),
    )


# --- jobs and plans ---------------------------------------------------------------------------


async def request_scan(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> Operation:
    vault = await owned(session, owner_id, vault_id)
    return await jobs_service.request_job(
        session, kind=SCAN_KIND, owner_id=owner_id, params={"vault_id": str(vault.id)}
    )


async def request_duplicates(
    session: AsyncSession, *, owner_id: uuid.UUID, vault_id: uuid.UUID
) -> Operation:
    vault = await owned(session, owner_id, vault_id)
    return await jobs_service.request_job(
        session, kind=DUPLICATES_KIND, owner_id=owner_id, params={"vault_id": str(vault.id)}
    )
