"""Finding duplicate files, as fclones and rmlint do, cheapest test first:

1. group the inventory by size (empty files are never duplicates: nothing to reclaim);
2. hard links to one inode are one file (keeping both reclaims nothing);
3. hash the first and last 4 KiB of what is left, regroup;
4. hash the whole content (xxh3-128) of what is still grouped, regroup.

Hashes are stored on the inventory rows for the (size, mtime) they were taken at, so a second run
reads nothing that has not changed. A file whose size or mtime moved since the scan is left out.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from quantdesk.jobs.context import JobContext
from quantdesk.models import VaultFile
from quantdesk.vault import repository, service
from quantdesk.vault.scan import owner_of
from quantdesk.vault.storage import Storage, StorageError
from quantdesk.vault.storage.base import edge_hash

WRITE_BATCH = 200


def _by_inode(rows: Iterable[VaultFile]) -> dict[str, list[VaultFile]]:
    grouped: dict[str, list[VaultFile]] = defaultdict(list)
    for row in rows:
        grouped[service.inode_key(row)].append(row)
    return grouped


def _regroup(
    groups: list[list[list[VaultFile]]], key: Callable[[VaultFile], str | None]
) -> list[list[list[VaultFile]]]:
    """Split each group of inodes (each a list of its links) by ``key`` of its first link;
    keep the parts with two inodes or more."""
    result: list[list[list[VaultFile]]] = []
    for group in groups:
        parts: dict[str, list[list[VaultFile]]] = defaultdict(list)
        for links in group:
            value = key(links[0])
            if value is not None:
                parts[value].append(links)
        result.extend(part for part in parts.values() if len(part) > 1)
    return result


async def _hash_all(
    storage: Storage,
    groups: list[list[list[VaultFile]]],
    *,
    full: bool,
    found: dict[int, str],
    changed: set[int],
    progress: Callable[[], Any],
) -> None:
    for group in groups:
        for links in group:
            row = links[0]
            if (row.content_hash if full else row.edge_hash) is not None:
                found[row.id] = row.content_hash if full else row.edge_hash  # type: ignore[assignment]
                continue
            try:
                entry = await storage.stat(row.path)
                if (entry.size, entry.mtime) != (row.size, row.mtime):
                    changed.add(row.id)
                    continue
                if full:
                    found[row.id] = await storage.hash(row.path)
                else:
                    found[row.id] = await edge_hash(storage, row.path, row.size)
            except StorageError:
                changed.add(row.id)
            await progress()


async def run_duplicates(ctx: JobContext, vault_id: uuid.UUID) -> dict[str, Any]:
    owner_id = owner_of(ctx)
    vault = await service.load_vault(ctx.resources.db, owner_id=owner_id, vault_id=vault_id)
    async with ctx.transaction(readonly=True) as session:
        rows = await repository.same_size_files(session, owner_id=owner_id, vault_id=vault.id)
    by_size: dict[int, list[VaultFile]] = defaultdict(list)
    for row in rows:
        by_size[row.size].append(row)
    groups = [
        list(inodes.values()) for same in by_size.values() if len(inodes := _by_inode(same)) > 1
    ]
    total = sum(len(g) for g in groups)
    done = 0

    async def tick() -> None:
        nonlocal done
        done += 1
        if done % 50 == 0:
            await ctx.check_cancelled()
            await ctx.progress(done, None, f"{done} files hashed")

    await ctx.progress(0, None, f"{total} files share their size with another")
    edges: dict[int, str] = {}
    fulls: dict[int, str] = {}
    changed: set[int] = set()
    storage = service.open_storage(ctx.resources.settings, vault)
    try:
        await _hash_all(storage, groups, full=False, found=edges, changed=changed, progress=tick)
        groups = _regroup(groups, lambda r: edges.get(r.id))
        await _hash_all(storage, groups, full=True, found=fulls, changed=changed, progress=tick)
        groups = _regroup(groups, lambda r: fulls.get(r.id))
    finally:
        await storage.aclose()
    # Every link of an inode gets its hashes, so the report lists them all.
    updates: list[tuple[VaultFile, str | None, str | None]] = []
    for links in _by_inode(rows).values():
        first = links[0].id
        if first in edges or first in fulls:
            updates.extend((row, edges.get(first), fulls.get(first)) for row in links)
    for start in range(0, len(updates), WRITE_BATCH):
        async with ctx.transaction() as session:
            for row, edge, full in updates[start : start + WRITE_BATCH]:
                await repository.set_hashes(
                    session,
                    owner_id=owner_id,
                    file_id=row.id,
                    size=row.size,
                    mtime=row.mtime,
                    edge_hash=edge,
                    content_hash=full,
                )
    async with ctx.transaction(readonly=True) as session:
        report = await service.duplicate_report(session, owner_id=owner_id, vault_id=vault.id)
    return {
        "vault_id": str(vault.id),
        "counts": {
            "groups": report.group_count,
            "edge_hashed": len(edges),
            "fully_hashed": len(fulls),
            "changed_since_scan": len(changed),
        },
        "reclaimable_bytes": report.reclaimable_bytes,
        "groups": [g.model_dump(mode="json") for g in report.groups[:100]],
        "report_url": f"/api/v1/vaults/{vault.id}/duplicates",
    }
