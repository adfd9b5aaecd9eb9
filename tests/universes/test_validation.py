"""Hostile and malformed input: a clear 422 naming the field, and nothing stored changes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from quantdesk.kit.db import Database
from tests.factories import Account, ensure_assets
from tests.universes.helpers import API, change, create_universe, snapshot, symbols_of


async def test_unicode_and_emoji_names_are_fine_and_stored_normalised(
    client: httpx.AsyncClient, alice: Account
) -> None:
    decomposed = "E\u0301nergie 🌱 — 株式"
    created = await create_universe(client, alice, decomposed)
    assert created["name"] == "Énergie 🌱 — 株式"  # NFC: one code point for É
    fetched = (await client.get(f"{API}/{created['id']}", headers=alice.headers)).json()
    assert fetched["data"]["name"] == "Énergie 🌱 — 株式"
    same = await client.post(API, json={"name": "Énergie 🌱 — 株式"}, headers=alice.headers)
    assert same.status_code == 409


async def test_sql_looking_names_are_stored_literally(
    client: httpx.AsyncClient, alice: Account
) -> None:
    name = "Robert'); DROP TABLE universes;--"
    created = await create_universe(client, alice, name, description="' OR 1=1 --")
    listed = (await client.get(API, headers=alice.headers)).json()["data"]["items"]
    assert [(u["name"], u["description"]) for u in listed] == [(name, "' OR 1=1 --")]
    assert created["name"] == name


async def test_a_name_of_200_characters_is_the_limit(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_universe(client, alice, "n" * 200)
    response = await client.post(API, json={"name": "n" * 201}, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "name"


BAD_CREATE_BODIES: dict[str, tuple[Any, str]] = {
    "empty name": ({"name": ""}, "name"),
    "blank name": ({"name": "   "}, "name"),
    "control character": ({"name": "bad\x07bell"}, "name"),
    "nul": ({"name": "bad\x00nul"}, "name"),
    "line break": ({"name": "two\nlines"}, "name"),
    "number as name": ({"name": 123}, "name"),
    "list as name": ({"name": ["x"]}, "name"),
    "missing name": ({"description": "x"}, "name"),
    "huge description": ({"name": "d", "description": "x" * 2001}, "description"),
    "control in description": ({"name": "d", "description": "a\x1bb"}, "description"),
    "symbols not a list": ({"name": "s", "symbols": "AAPL"}, "symbols"),
    "symbol not a string": ({"name": "s", "symbols": [1]}, "symbols.0"),
    "10,001 symbols": ({"name": "s", "symbols": ["AAPL"] * 10_001}, "symbols"),
    "malformed symbol": ({"name": "s", "symbols": ["DROP TABLE x;--"]}, "symbols.0"),
    "unknown field": ({"name": "s", "owner_id": "someone"}, "owner_id"),
    "from_index type": ({"name": "s", "from_index": 5}, "from_index"),
}


@pytest.mark.parametrize("case", list(BAD_CREATE_BODIES))
async def test_bad_create_bodies_are_422_with_the_field(
    case: str, client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    body, field = BAD_CREATE_BODIES[case]
    response = await client.post(API, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field
    assert error["details"][0]["reason"]
    assert (await snapshot(db, alice.user.id)).universes == []


async def test_lone_surrogates_and_non_json_bodies_are_422(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    headers = {**alice.headers, "Content-Type": "application/json"}
    surrogate = await client.post(API, content=b'{"name": "x\\ud800y"}', headers=headers)
    assert surrogate.status_code == 422
    assert surrogate.json()["error"]["details"][0]["field"] == "name"
    garbage = await client.post(API, content=b"{not json", headers=headers)
    assert garbage.status_code == 422
    assert (await snapshot(db, alice.user.id)).universes == []


BAD_CHANGE_BODIES: dict[str, tuple[Any, str]] = {
    "add is a string": ({"add": "AAPL"}, "add"),
    "add of numbers": ({"add": [1, 2]}, "add.0"),
    "add of objects": ({"add": [{"symbol": "AAPL"}]}, "add.0"),
    "remove is null": ({"remove": None}, "remove"),
    "huge string": ({"add": ["A" * 65]}, "add.0"),
    "10,001 in add": ({"add": ["AAPL"] * 10_001}, "add"),
    "unknown field": ({"symbols": ["AAPL"]}, "symbols"),
    "body is a list": (["AAPL"], "body"),
}


@pytest.mark.parametrize("case", list(BAD_CHANGE_BODIES))
async def test_bad_membership_bodies_are_422_and_change_nothing(
    case: str, client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Guarded", symbols=["AAPL", "MSFT"])
    before = await snapshot(db, alice.user.id)
    body, field = BAD_CHANGE_BODIES[case]
    response = await client.post(f"{API}/{universe['id']}/assets", json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == field
    assert detail["reason"]
    assert await snapshot(db, alice.user.id) == before


async def test_symbol_shaped_attacks_are_invalid_format_per_symbol(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Attacks", symbols=["AAPL"])
    hostile = [
        "DROP TABLE x;--",
        "ÄPFEL",
        "A B",
        "'; DELETE FROM assets;--",
        "<script>",
        "",
        "AAPL\u0000",
        "\uff21\uff21\uff30\uff2c",  # full-width AAPL: not ASCII
        "A" * 33,
    ]
    response = await change(client, alice, universe["id"], add=[*hostile, "MSFT"])
    assert response.status_code == 200, response.text
    results = response.json()["data"]["results"]
    assert [r["status"] for r in results] == ["invalid_format"] * len(hostile) + ["added"]
    assert all(r["symbol"] is None and r["reason"] for r in results[:-1])
    assert await symbols_of(client, alice, universe["id"]) == ["AAPL", "MSFT"]


async def test_bad_patch_and_reorder_bodies_are_422(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Patchy", symbols=["AAPL", "MSFT"])
    before = await snapshot(db, alice.user.id)
    url = f"{API}/{universe['id']}"
    for body, field in (
        ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "tab\tname"}, "name"),
        ({"description": ["x"]}, "description"),
    ):
        response = await client.patch(url, json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["details"][0]["field"] == field
    for body, field in (
        ({"symbols": "AAPL"}, "symbols"),
        ({"symbols": [1]}, "symbols.0"),
        ({}, "symbols"),
    ):
        response = await client.put(f"{url}/assets/order", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["details"][0]["field"] == field
    assert await snapshot(db, alice.user.id) == before


async def test_list_limit_is_bounded(client: httpx.AsyncClient, alice: Account) -> None:
    for limit in ("0", "201", "abc"):
        response = await client.get(API, params={"limit": limit}, headers=alice.headers)
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["field"] == "limit"
