"""The demo seed makes a usable login with two universes, a paper account with its starting cash
and a research vault of sample files queued for a scan; running it again changes nothing."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import httpx

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.system.demo import (
    DEMO_ACCOUNT,
    DEMO_EMAIL,
    DEMO_FILES,
    DEMO_PASSWORD,
    DEMO_UNIVERSES,
    DEMO_VAULT,
    seed_demo,
)
from quantdesk.vault.service import SCAN_KIND
from tests.cli.support import cli_env, quantdesk
from tests.factories import ensure_assets


async def test_seed_is_usable_and_idempotent(
    db: Database, client: httpx.AsyncClient, settings: Settings
) -> None:
    wanted = {symbol for _, _, symbols in DEMO_UNIVERSES for symbol in symbols}
    await ensure_assets(db, [(s, f"{s} demo asset", "equity", None) for s in sorted(wanted)])

    first = await seed_demo(db, settings)
    assert (first.user_created, first.account_created, first.vault_created) == (True, True, True)
    assert first.universes_created == [name for name, _, _ in DEMO_UNIVERSES]
    assert first.missing_symbols == []

    second = await seed_demo(db, settings)
    assert (second.user_created, second.account_created, second.vault_created) == (False,) * 3
    assert second.universes_created == []

    login = await client.post(
        "/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    listed = (await client.get("/api/v1/universes", headers=headers)).json()["data"]["items"]
    counts = {u["name"]: u["asset_count"] for u in listed}
    assert counts == {name: len(symbols) for name, _, symbols in DEMO_UNIVERSES}

    (account,) = (await client.get("/api/v1/accounts", headers=headers)).json()["data"]["items"]
    assert (account["name"], Decimal(account["cash"])) == (DEMO_ACCOUNT, Decimal(100_000))
    (vault,) = (await client.get("/api/v1/vaults", headers=headers)).json()["data"]["items"]
    assert vault["name"] == DEMO_VAULT
    root = settings.resolved_vault_allowed_roots[0] / "demo-research"
    assert {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} >= set(DEMO_FILES)
    operations = (await client.get("/api/v1/operations", headers=headers)).json()["data"]["items"]
    assert [o["kind"] for o in operations] == [SCAN_KIND]
    # the server's executor picks the queued scan up, as `make run`'s does when it starts
    status = operations[0]["status"]
    for _ in range(200):
        if status in ("succeeded", "failed", "canceled"):
            break
        await asyncio.sleep(0.05)
        found = await client.get(f"/api/v1/operations/{operations[0]['id']}", headers=headers)
        status = found.json()["data"]["status"]
    assert status == "succeeded"
    files = await client.get(f"/api/v1/vaults/{vault['id']}/files", headers=headers)
    assert {f["path"] for f in files.json()["data"]["items"]} == set(DEMO_FILES)


async def test_a_demo_vault_the_vault_roots_do_not_allow_is_skipped_not_fatal(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the vault roots should be")
    strict = settings.model_copy(update={"vault_allowed_roots": [blocked]})
    report = await seed_demo(db, strict)
    assert (report.user_created, report.account_created, report.vault_created) == (
        True,
        True,
        False,
    )
    assert report.vault_skipped


async def test_the_demo_seed_command_registers_the_vault_and_queues_its_scan(
    db: Database, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    env = cli_env(
        QUANTDESK_DATABASE_URL=settings.resolved_database_url,
        QUANTDESK_DATA_DIR=str(tmp_path),
        QUANTDESK_JWT_SECRET=settings.jwt_secret.get_secret_value(),
    )
    seeded = quantdesk("demo", "seed", env=env, cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "demo research vault registered" in seeded.stderr
    assert (tmp_path / "vaults" / "demo-research" / "inbox" / "prices.csv").is_file()
    login = await client.post(
        "/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    operations = (await client.get("/api/v1/operations", headers=headers)).json()["data"]["items"]
    assert [o["kind"] for o in operations] == [SCAN_KIND]
