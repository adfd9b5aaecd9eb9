"""Files in and out (streamed, size-limited, never half written), the scan's inventory (types
from the content, incremental re-scans), categories, and files linked to catalog assets."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from tests.factories import Account, ensure_assets
from tests.vault.helpers import API, PDF, PNG, files, fresh_folder, register_local, scan, write


async def test_upload_and_download_stream_the_bytes(
    client: httpx.AsyncClient, settings: Settings, alice: Account
) -> None:
    root = fresh_folder(settings)
    vault = await register_local(client, alice, root)
    content = os.urandom(300_000)
    url = f"{API}/{vault['id']}/files/notes/deep/report 2024.bin"
    response = await client.put(url, content=content, headers=alice.headers)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["size"] == len(content)
    assert (root / "notes" / "deep" / "report 2024.bin").read_bytes() == content
    download = await client.get(url, headers=alice.headers)
    assert download.status_code == 200
    assert download.content == content
    missing = await client.get(f"{API}/{vault['id']}/files/nope.txt", headers=alice.headers)
    assert missing.status_code == 404


async def test_upload_over_the_limit_is_413_and_leaves_nothing(
    client: httpx.AsyncClient, settings: Settings, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = fresh_folder(settings)
    vault = await register_local(client, alice, root)
    url = f"{API}/{vault['id']}/files/big.bin"
    assert (await client.put(url, content=b"old", headers=alice.headers)).status_code == 201
    monkeypatch.setattr(settings, "vault_max_upload_bytes", 1000)
    response = await client.put(url, content=b"x" * 1001, headers=alice.headers)
    assert response.status_code == 413, response.text

    async def chunked() -> object:  # no Content-Length: counted as it streams
        for _ in range(5):
            yield b"y" * 400

    response = await client.put(url, content=chunked(), headers=alice.headers)  # type: ignore[arg-type]
    assert response.status_code == 413, response.text
    assert os.listdir(root) == ["big.bin"]
    assert (root / "big.bin").read_bytes() == b"old"


async def test_paths_that_leave_the_vault_are_422(
    client: httpx.AsyncClient, settings: Settings, alice: Account, tmp_path: Path
) -> None:
    root = fresh_folder(settings)
    vault = await register_local(client, alice, root)
    os.symlink(tmp_path, root / "out")
    for path in ("a/%2e%2e/%2e%2e/x.txt", "%2e%2e/x.txt", "out/x.txt", ".quarantine/x.txt"):
        response = await client.put(
            f"{API}/{vault['id']}/files/{path}", content=b"x", headers=alice.headers
        )
        assert response.status_code in (404, 422), (path, response.text)
        if response.status_code == 422:
            assert response.json()["error"]["details"][0]["field"] == "path"
    assert os.listdir(tmp_path) == []
    response = await client.get(f"{API}/{vault['id']}/files/out/x.txt", headers=alice.headers)
    assert response.status_code == 422


async def test_scan_types_categories_symbols_and_incremental_rescans(
    client: httpx.AsyncClient, db: Database, settings: Settings, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    root = fresh_folder(settings)
    write(
        root,
        {
            "inbox/AAPL_10-K_2023.pdf": PDF,
            "inbox/broker statement march.csv": b"date,amount\n",
            "inbox/thesis.md": b"# Why MSFT\n",
            "inbox/photo.jpg": PNG,  # a PNG whatever its name says
            "MSFT/model.xlsx": b"PK\x03\x04not really",
            "inbox/prices.parquet": b"PAR1....PAR1",
            "inbox/old.zip": b"PK\x05\x06" + b"\x00" * 18,
            "inbox/README": b"hello",
        },
    )
    vault = await register_local(client, alice, root)
    first = await scan(client, alice, vault["id"])
    assert first["files"] == 8
    assert first["counts"]["new"] == 8
    listed = {f["path"]: f for f in await files(client, alice, vault["id"])}
    assert listed["inbox/photo.jpg"]["mime"] == "image/png"
    assert listed["inbox/AAPL_10-K_2023.pdf"]["mime"] == "application/pdf"
    assert listed["inbox/AAPL_10-K_2023.pdf"]["category"] == "filings"
    assert listed["inbox/AAPL_10-K_2023.pdf"]["symbol"] == "AAPL"
    assert listed["inbox/broker statement march.csv"]["category"] == "statements"
    assert listed["inbox/thesis.md"]["category"] == "research"
    assert listed["inbox/photo.jpg"]["category"] == "images"
    assert listed["MSFT/model.xlsx"]["category"] == "spreadsheets"
    assert listed["MSFT/model.xlsx"]["symbol"] == "MSFT"  # from its folder
    assert listed["inbox/prices.parquet"]["category"] == "data"
    assert listed["inbox/old.zip"]["category"] == "archives"
    assert listed["inbox/README"]["category"] == "other"
    assert listed["inbox/README"]["inode"]
    filings = await files(client, alice, vault["id"], category="filings")
    assert [f["path"] for f in filings] == ["inbox/AAPL_10-K_2023.pdf"]
    assert [f["path"] for f in await files(client, alice, vault["id"], q="THESIS")] == [
        "inbox/thesis.md"
    ]
    assert [f["path"] for f in await files(client, alice, vault["id"], symbol="msft")] == [
        "MSFT/model.xlsx"
    ]
    linked = await client.get("/api/v1/assets/AAPL/files", headers=alice.headers)
    assert linked.status_code == 200, linked.text
    assert [f["path"] for f in linked.json()["data"]["items"]] == ["inbox/AAPL_10-K_2023.pdf"]
    theirs = await client.get("/api/v1/assets/AAPL/files", headers=bob.headers)
    assert theirs.json()["data"]["items"] == []

    again = await scan(client, alice, vault["id"])
    assert again["read"] == 0
    assert again["counts"]["unchanged"] == 8
    (root / "inbox" / "thesis.md").write_bytes(b"# Why MSFT, revised\n")
    (root / "inbox" / "README").unlink()
    write(root, {"new/notes.txt": b"n"})
    third = await scan(client, alice, vault["id"])
    assert third["read"] == 2
    assert third["counts"] == {"new": 1, "changed": 1, "unchanged": 6, "removed": 1}
    # Paging through the inventory, two at a time, sees every file once.
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(f"{API}/{vault['id']}/files", params=params, headers=alice.headers)
        ).json()["data"]
        seen.extend(f["path"] for f in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(seen)
    assert len(seen) == 8
