"""Scanning a vault into its inventory: incremental (a file whose size and mtime are unchanged is
not read again), its type from its content (magic bytes, ``filetype``) and its extension, its
category and catalog symbol from the rules.

Listing and reading happen with no transaction open; each batch of files is then written in one
short transaction together with the job's checkpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import filetype
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.jobs.context import JobContext
from quantdesk.kit.orm import utcnow
from quantdesk.models import Asset, ValidationStatus, Vault, VaultFile
from quantdesk.vault import repository, service
from quantdesk.vault.rules import FileFacts, RuleSet, categorise, extension_of, symbol_candidates
from quantdesk.vault.storage import Entry, Storage, StorageError
from quantdesk.vault.storage.base import head_bytes

BATCH = 200
HEAD_BYTES = 8192


def owner_of(ctx: JobContext) -> uuid.UUID:
    if ctx.owner_id is None:
        raise ValueError(f"{ctx.kind} needs an owner")
    return ctx.owner_id


async def list_all(storage: Storage) -> list[Entry]:
    """Every file of the storage, but the vault's own quarantine."""
    entries: list[Entry] = []
    cursor = None
    while True:
        page = await storage.list(cursor=cursor, limit=1000)
        entries.extend(e for e in page.entries if e.path.split("/", 1)[0] != service.QUARANTINE)
        if page.cursor is None:
            return entries
        cursor = page.cursor


def sniff(head: bytes) -> str | None:
    kind = filetype.guess(head) if head else None
    return str(kind.mime) if kind is not None else None


def _inode(entry: Entry) -> str | None:
    if entry.inode is None:
        return None
    return f"{entry.device or 0}:{entry.inode}"


async def link_symbols(session: AsyncSession, paths: Sequence[str]) -> dict[str, Asset]:
    """The catalog asset each path names, if any (file name first, then folders)."""
    candidates = {path: symbol_candidates(path) for path in paths}
    tokens = sorted({t for found in candidates.values() for t in found})
    if not tokens:
        return {}
    resolved = await asset_service.resolve_symbols(session, tokens)
    linked: dict[str, Asset] = {}
    for path, found in candidates.items():
        for token in found:
            asset = resolved.get(token)
            # Pending assets are private to whoever asked for them: never linked here.
            if asset is not None and asset.validation_status != ValidationStatus.PENDING.value:
                linked[path] = asset
                break
    return linked


@dataclass
class ScanCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def read(self) -> int:
        return self.new + self.changed


async def _apply_batch(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    vault: Vault,
    rules: RuleSet,
    batch: Sequence[Entry],
    heads: dict[str, str | None],
    scan_id: uuid.UUID,
    counts: ScanCounts,
) -> None:
    now = utcnow()
    known = await repository.files_by_path(
        session, owner_id=owner_id, vault_id=vault.id, paths=[e.path for e in batch]
    )
    assets = await link_symbols(session, [e.path for e in batch])
    for entry in batch:
        row = known.get(entry.path)
        asset = assets.get(entry.path)
        if row is None:
            row = VaultFile(vault_id=vault.id, owner_id=owner_id, path=entry.path)
            repository.add_file(session, row)
            counts.new += 1
            row.mime = heads.get(entry.path)
        elif row.size != entry.size or row.mtime != entry.mtime:
            counts.changed += 1
            row.mime = heads.get(entry.path)
            row.edge_hash = row.content_hash = None  # they described the old content
        else:
            counts.unchanged += 1
        row.name = entry.path.rsplit("/", 1)[-1][:255]
        row.size, row.mtime, row.inode, row.links = (
            entry.size,
            entry.mtime,
            _inode(entry),
            entry.links,
        )
        row.extension = extension_of(row.name)
        row.symbol = asset.symbol if asset is not None else None
        row.asset_id = asset.id if asset is not None else None
        rule = categorise(
            rules, FileFacts(entry.path, entry.size, entry.mtime, row.mime, row.symbol)
        )
        row.category = rule.category if rule is not None else "other"
        row.scan_id, row.scanned_at = scan_id, now
    await session.flush()


async def run_scan(ctx: JobContext, vault_id: uuid.UUID) -> dict[str, Any]:
    owner_id = owner_of(ctx)
    settings = ctx.resources.settings
    vault = await service.load_vault(ctx.resources.db, owner_id=owner_id, vault_id=vault_id)
    rules = service.vault_rules(vault)
    storage = service.open_storage(settings, vault)
    scan_id = uuid.uuid4()
    counts = ScanCounts()
    try:
        entries = await list_all(storage)
        total = len(entries)
        await ctx.progress(0, total, f"{total} files listed")
        async with ctx.transaction(readonly=True) as session:
            before = {
                row.path: (row.size, row.mtime)
                for row in await repository.inventory(session, owner_id=owner_id, vault_id=vault.id)
            }
        for start in range(0, total, BATCH):
            await ctx.check_cancelled()
            batch = entries[start : start + BATCH]
            heads: dict[str, str | None] = {}
            for entry in batch:  # read only what is new or changed
                if before.get(entry.path) != (entry.size, entry.mtime):
                    try:
                        heads[entry.path] = sniff(await head_bytes(storage, entry.path, HEAD_BYTES))
                    except StorageError:
                        heads[entry.path] = None  # gone or unreadable since the listing
            async with ctx.transaction() as session:
                await _apply_batch(
                    session,
                    owner_id=owner_id,
                    vault=vault,
                    rules=rules,
                    batch=batch,
                    heads=heads,
                    scan_id=scan_id,
                    counts=counts,
                )
                done = start + len(batch)
                await ctx.checkpoint(session, done, total, f"{done} of {total} files scanned")
        async with ctx.transaction() as session:
            removed = await repository.delete_unseen(
                session, owner_id=owner_id, vault_id=vault.id, scan_id=scan_id
            )
            await repository.mark_scanned(
                session, owner_id=owner_id, vault_id=vault.id, now=utcnow()
            )
    finally:
        await storage.aclose()
    return {
        "vault_id": str(vault.id),
        "files": total,
        "counts": {
            "new": counts.new,
            "changed": counts.changed,
            "unchanged": counts.unchanged,
            "removed": removed,
        },
        "read": counts.read,
    }
