"""Helpers of the vault tests: folders under the allowed root, API shortcuts, tree manifests."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import xxhash

from quantdesk.kit.config import Settings
from tests.factories import Account

API = "/api/v1/vaults"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def allowed_root(settings: Settings) -> Path:
    root = settings.resolved_vault_allowed_roots[0]
    root.mkdir(parents=True, exist_ok=True)
    return root


def fresh_folder(settings: Settings, label: str = "v") -> Path:
    """A new, empty folder inside the allowed root."""
    folder = allowed_root(settings) / f"{label}-{uuid.uuid4().hex[:10]}"
    folder.mkdir()
    return folder


def write(root: Path, files: dict[str, bytes], mtime: float | None = None) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if mtime is not None:
            os.utime(path, (mtime, mtime))


def manifest(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: its xxh3-128 and mtime (ns), by relative path (a symbolic
    link: its target)."""
    found: dict[str, tuple[str, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():  # the link itself, not what it points to
                found[rel] = (f"link:{os.readlink(full)}", 0)
                continue
            found[rel] = (xxhash.xxh3_128(full.read_bytes()).hexdigest(), full.stat().st_mtime_ns)
    return found


def folders(root: Path) -> set[str]:
    return {Path(d).relative_to(root).as_posix() for d, _, _ in os.walk(root)}


async def register_local(
    client: httpx.AsyncClient, user: Account, root: Path | str, name: str | None = None
) -> dict[str, Any]:
    body = {"name": name or f"vault-{uuid.uuid4().hex[:6]}", "kind": "local", "root": str(root)}
    response = await client.post(API, json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def wait_finished(
    client: httpx.AsyncClient, user: Account, operation_id: str, seconds: float = 60.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get(f"/api/v1/operations/{operation_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        if data["status"] in ("succeeded", "failed", "cancelled"):
            return data
        assert asyncio.get_running_loop().time() < deadline, data
        await asyncio.sleep(0.05)


async def run_job(
    client: httpx.AsyncClient, user: Account, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """POST a 202 endpoint and wait for its operation to succeed; the operation's result."""
    response = await client.post(path, json=body, headers=user.headers)
    assert response.status_code == 202, response.text
    operation = await wait_finished(client, user, response.json()["data"]["id"])
    assert operation["status"] == "succeeded", operation
    result: dict[str, Any] = operation["result"]
    result["_operation_id"] = operation["id"]
    return result


async def scan(client: httpx.AsyncClient, user: Account, vault_id: str) -> dict[str, Any]:
    return await run_job(client, user, f"{API}/{vault_id}/scan")


async def files(
    client: httpx.AsyncClient, user: Account, vault_id: str, **params: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/{vault_id}/files", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items
