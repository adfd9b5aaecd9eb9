"""The demo seed makes a usable account with two universes, and running it again changes nothing."""

from __future__ import annotations

import httpx

from quantdesk.kit.db import Database
from quantdesk.system.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_UNIVERSES, seed_demo
from tests.factories import ensure_assets


async def test_seed_is_usable_and_idempotent(db: Database, client: httpx.AsyncClient) -> None:
    wanted = {symbol for _, _, symbols in DEMO_UNIVERSES for symbol in symbols}
    await ensure_assets(db, [(s, f"{s} demo asset", "equity", None) for s in sorted(wanted)])

    first = await seed_demo(db)
    assert first.user_created
    assert first.universes_created == [name for name, _, _ in DEMO_UNIVERSES]
    assert first.missing_symbols == []

    second = await seed_demo(db)
    assert not second.user_created
    assert second.universes_created == []

    login = await client.post(
        "/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    listed = (await client.get("/api/v1/universes", headers=headers)).json()["data"]["items"]
    counts = {u["name"]: u["asset_count"] for u in listed}
    assert counts == {name: len(symbols) for name, _, symbols in DEMO_UNIVERSES}
