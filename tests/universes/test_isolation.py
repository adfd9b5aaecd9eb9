"""Tenancy: another user's universe does not exist for you, in the API and in the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.models import Universe, UniverseAsset, UniverseChange
from tests.factories import Account, ensure_assets
from tests.universes.helpers import API, create_universe, snapshot, symbols_of

Call = Callable[[httpx.AsyncClient, str, dict[str, str]], Awaitable[httpx.Response]]

_CSV = {"file": ("x.csv", b"symbol\nJPM\n", "text/csv")}

ENDPOINTS: dict[str, Call] = {
    "get_universe": lambda c, u, h: c.get(f"{API}/{u}", headers=h),
    "list_universe_assets": lambda c, u, h: c.get(f"{API}/{u}/assets", headers=h),
    "update_universe": lambda c, u, h: c.patch(f"{API}/{u}", json={"name": "Mine now"}, headers=h),
    "delete_universe": lambda c, u, h: c.delete(f"{API}/{u}", headers=h),
    "add_assets": lambda c, u, h: c.post(f"{API}/{u}/assets", json={"add": ["JPM"]}, headers=h),
    "remove_assets": lambda c, u, h: c.post(
        f"{API}/{u}/assets", json={"remove": ["AAPL"]}, headers=h
    ),
    "reorder_universe_assets": lambda c, u, h: c.put(
        f"{API}/{u}/assets/order", json={"symbols": ["NVDA", "MSFT", "AAPL"]}, headers=h
    ),
    "get_universe_turnover": lambda c, u, h: c.get(f"{API}/{u}/turnover", headers=h),
    "export_universe_csv": lambda c, u, h: c.get(f"{API}/{u}/export", headers=h),
    "import_universe_csv": lambda c, u, h: c.post(f"{API}/{u}/import", files=_CSV, headers=h),
    "start_universe_export": lambda c, u, h: c.post(f"{API}/{u}/export", headers=h),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_bob_gets_404_on_every_endpoint_of_alices_universe_and_it_stays_unchanged(
    endpoint: str, client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(
        client, alice, "Alice's", description="private", symbols=["AAPL", "MSFT", "NVDA"]
    )
    await create_universe(client, bob, "Bob's own", symbols=["JPM"])
    before_alice, before_bob = await snapshot(db, alice.user.id), await snapshot(db, bob.user.id)

    response = await ENDPOINTS[endpoint](client, universe["id"], bob.headers)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "universe_not_found"
    assert "Alice" not in response.text
    assert "AAPL" not in response.text

    assert await snapshot(db, alice.user.id) == before_alice
    assert await snapshot(db, bob.user.id) == before_bob
    detail = (await client.get(f"{API}/{universe['id']}", headers=alice.headers)).json()["data"]
    assert detail["name"] == "Alice's"
    assert await symbols_of(client, alice, universe["id"]) == ["AAPL", "MSFT", "NVDA"]


async def test_a_random_id_is_404_and_a_malformed_id_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    missing = await client.get(f"{API}/00000000-0000-4000-8000-000000000000", headers=alice.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "universe_not_found"
    malformed = await client.get(f"{API}/not-a-uuid", headers=alice.headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["details"][0]["field"] == "universe_id"


async def test_every_endpoint_needs_authentication(client: httpx.AsyncClient) -> None:
    uid = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(API)).status_code == 401
    assert (await client.post(API, json={"name": "x"})).status_code == 401
    for call in ENDPOINTS.values():
        assert (await call(client, uid, {})).status_code == 401


async def test_list_never_shows_another_users_universes(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await create_universe(client, alice, "A1")
    await create_universe(client, bob, "B1")
    items = (await client.get(API, headers=bob.headers)).json()["data"]["items"]
    assert [u["name"] for u in items] == ["B1"]


async def _rows(db: Database, account: Account, model: Any) -> list[Any]:
    async with db.transaction(user_id=account.user.id) as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_postgresql_row_level_security_hides_other_owners_rows(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    if db.kind != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    await ensure_assets(db)
    await create_universe(client, alice, "Alice 1", symbols=["AAPL", "MSFT"])
    await create_universe(client, alice, "Alice 2", symbols=["NVDA"])
    await create_universe(client, bob, "Bob 1", symbols=["JPM"])

    # No owner filter in these queries: only the policy stands between bob and alice's rows.
    universes = await _rows(db, bob, Universe)
    assert [u.name for u in universes] == ["Bob 1"]
    members = await _rows(db, bob, UniverseAsset)
    assert {m.owner_id for m in members} == {bob.user.id}
    assert len(members) == 1
    changes = await _rows(db, bob, UniverseChange)
    assert [c.symbol for c in changes] == ["JPM"]
    assert len(await _rows(db, alice, Universe)) == 2
    assert len(await _rows(db, alice, UniverseAsset)) == 3

    # And without a tenant bound, nothing at all is visible.
    async with db.transaction() as session:
        assert (await session.execute(select(Universe))).scalars().all() == []
