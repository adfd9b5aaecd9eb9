from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from quantdesk.kit.db import Database
from quantdesk.models import Asset, UniverseAsset, UniverseChange
from tests.factories import Account, ensure_assets, ensure_index
from tests.universes.helpers import API, create_universe, members_of, snapshot, symbols_of


async def test_create_returns_the_universe_with_counts_and_its_members_are_in_order(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    response = await client.post(
        API,
        json={
            "name": "  Big Tech  ",
            "description": "Mega caps",
            "symbols": ["nvda", "AAPL", "brk.b", "AAPL"],
        },
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert "add_assets_to_universe" in body["next_actions"]
    data = body["data"]
    assert data["name"] == "Big Tech"
    assert data["description"] == "Mega caps"
    assert data["asset_count"] == 3
    assert data["by_validation_status"] == {"valid": 3, "pending": 0, "invalid": 0}
    assert data["by_asset_class"] == {"equity": 3}
    assert "assets" not in data  # the members are paged, even in this answer
    assert data["assets_url"] == f"{API}/{data['id']}/assets"
    assert body["metadata"]["asset_count"] == 3
    members = await members_of(client, alice, data["id"])
    assert [(a["symbol"], a["position"]) for a in members] == [
        ("NVDA", 0),
        ("AAPL", 1),
        ("BRK-B", 2),
    ]
    stored = await snapshot(db, alice.user.id)
    assert [m[1] for m in stored.members] == ["NVDA", "AAPL", "BRK-B"]
    assert stored.change_count == 3  # the initial members are logged as additions


async def test_create_from_index_takes_the_members_in_symbol_order(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    await ensure_index(db, "Test Index 3", ["MSFT", "AAPL", "JPM"])
    data = await create_universe(client, alice, "From index", from_index="Test Index 3")
    assert await symbols_of(client, alice, data["id"]) == ["AAPL", "JPM", "MSFT"]

    both = await create_universe(
        client, alice, "Index plus", from_index="Test Index 3", symbols=["BTC", "AAPL"]
    )
    assert await symbols_of(client, alice, both["id"]) == ["AAPL", "JPM", "MSFT", "BTC"]


async def test_create_from_an_unknown_index_is_422_on_from_index_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    response = await client.post(
        API, json={"name": "Nope", "from_index": "No Such Index"}, headers=alice.headers
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["field"] == "from_index"
    assert "No Such Index" in error["details"][0]["reason"]
    assert (await snapshot(db, alice.user.id)).universes == []


async def test_create_with_unknown_or_malformed_symbols_is_422_naming_each(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    malformed = await client.post(
        API, json={"name": "X", "symbols": ["AAPL", "A B", "ÄPFEL"]}, headers=alice.headers
    )
    assert malformed.status_code == 422
    fields = [d["field"] for d in malformed.json()["error"]["details"]]
    assert fields == ["symbols.1", "symbols.2"]

    unknown = await client.post(
        API, json={"name": "X", "symbols": ["AAPL", "ZZZZZZ"]}, headers=alice.headers
    )
    assert unknown.status_code == 422
    detail = unknown.json()["error"]["details"][0]
    assert detail["field"] == "symbols.1"
    assert "ZZZZZZ" in detail["reason"]
    assert (await snapshot(db, alice.user.id)).universes == []


async def test_duplicate_name_for_the_same_owner_is_409_but_other_owners_may_reuse_it(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await create_universe(client, alice, "Dividends")
    again = await client.post(API, json={"name": " Dividends "}, headers=alice.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "universe_name_taken"
    await create_universe(client, bob, "Dividends")


async def test_list_shows_only_mine_with_counts_newest_first_and_paginates(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    names = [f"U{i}" for i in range(5)]
    for i, name in enumerate(names):
        await create_universe(client, alice, name, symbols=["AAPL", "MSFT", "NVDA"][:i])
    await create_universe(client, bob, "Bob's")

    first = await client.get(API, params={"limit": 2}, headers=alice.headers)
    assert first.status_code == 200
    page = first.json()["data"]
    assert [u["name"] for u in page["items"]] == ["U4", "U3"]
    assert [u["asset_count"] for u in page["items"]] == [3, 3]
    seen = [u["name"] for u in page["items"]]
    cursor = page["next_cursor"]
    while cursor:
        response = await client.get(
            API, params={"limit": 2, "cursor": cursor}, headers=alice.headers
        )
        page = response.json()["data"]
        seen += [u["name"] for u in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["U4", "U3", "U2", "U1", "U0"]

    everything = (await client.get(API, headers=alice.headers)).json()["data"]["items"]
    assert {u["name"]: u["asset_count"] for u in everything} == {
        "U0": 0,
        "U1": 1,
        "U2": 2,
        "U3": 3,
        "U4": 3,
    }


async def test_a_bad_cursor_is_422(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get(API, params={"cursor": "not-a-cursor"}, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "cursor"


async def test_members_have_catalog_fields_in_position_order(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    created = await create_universe(client, alice, "Detail", symbols=["JPM", "BTC", "SPY"])
    response = await client.get(f"{API}/{created['id']}/assets", headers=alice.headers)
    assert response.status_code == 200
    assets = response.json()["data"]["items"]
    assert [a["symbol"] for a in assets] == ["JPM", "BTC", "SPY"]
    jpm = assets[0]
    assert jpm["name"] == "JPMorgan Chase & Co."
    assert jpm["asset_class"] == "equity"
    assert jpm["sector"] == "Financials"
    assert jpm["metadata"] == {}
    assert jpm["validation_status"] == "valid"
    assert jpm["added_at"].endswith(("Z", "+00:00"))


async def test_patch_renames_and_clears_the_description(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_universe(client, alice, "Old", description="first")
    await create_universe(client, alice, "Taken")
    url = f"{API}/{created['id']}"

    renamed = await client.patch(url, json={"name": "New"}, headers=alice.headers)
    assert renamed.status_code == 200
    assert renamed.json()["data"]["name"] == "New"
    assert renamed.json()["data"]["description"] == "first"

    cleared = await client.patch(url, json={"description": None}, headers=alice.headers)
    assert cleared.status_code == 200
    assert (cleared.json()["data"]["name"], cleared.json()["data"]["description"]) == ("New", None)

    clash = await client.patch(url, json={"name": "Taken"}, headers=alice.headers)
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "universe_name_taken"

    null_name = await client.patch(url, json={"name": None}, headers=alice.headers)
    assert null_name.status_code == 422
    assert (await client.get(url, headers=alice.headers)).json()["data"]["name"] == "New"


async def test_delete_removes_memberships_and_log_but_not_the_assets(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    created = await create_universe(client, alice, "Doomed", symbols=["AAPL", "MSFT"])
    kept = await create_universe(client, alice, "Kept", symbols=["AAPL"])

    doomed_id = uuid.UUID(created["id"])
    response = await client.delete(f"{API}/{doomed_id}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["data"]["asset_count"] == 2

    assert (await client.get(f"{API}/{created['id']}", headers=alice.headers)).status_code == 404
    async with db.transaction(user_id=alice.user.id) as session:
        leftover = (
            await session.execute(
                select(func.count()).where(UniverseAsset.universe_id == doomed_id)
            )
        ).scalar_one()
        log = (
            await session.execute(
                select(func.count()).where(UniverseChange.universe_id == doomed_id)
            )
        ).scalar_one()
        assets = (
            await session.execute(select(func.count()).where(Asset.symbol.in_(["AAPL", "MSFT"])))
        ).scalar_one()
    assert (leftover, log, assets) == (0, 0, 2)
    assert await symbols_of(client, alice, kept["id"]) == ["AAPL"]


async def test_operation_ids_are_the_documented_verbs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    ids = {
        op["operationId"]
        for path, ops in spec["paths"].items()
        if path.startswith("/api/v1/universes")
        for op in ops.values()
    }
    assert ids == {
        "create_universe",
        "list_universes",
        "get_universe",
        "list_universe_assets",
        "update_universe",
        "delete_universe",
        "add_assets_to_universe",
        "reorder_universe_assets",
        "get_universe_turnover",
        "export_universe_csv",
        "import_universe_csv",
        "start_universe_export",
        "download_universe_export",
        "get_universe_import_results",
    }
