"""Simultaneous requests on one universe: no lost update, no 500, one winner per name."""

from __future__ import annotations

import asyncio

import httpx

from quantdesk.kit.db import Database
from tests.factories import Account
from tests.universes.helpers import (
    API,
    change,
    create_universe,
    ensure_bulk_assets,
    snapshot,
    symbols_of,
)


async def test_concurrent_additions_to_one_universe_all_land_in_distinct_positions(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 400)
    universe = await create_universe(client, alice, "Busy")
    # Eight overlapping batches at once: each shares its first five symbols with the others.
    batches = [symbols[:5] + symbols[i : i + 50] for i in range(0, 400, 50)]
    responses = await asyncio.gather(
        *(change(client, alice, universe["id"], add=b) for b in batches)
    )
    assert [r.status_code for r in responses] == [200] * len(batches)
    assert sum(r.json()["data"]["counts"]["added"] for r in responses) == 400

    detail = (await client.get(f"{API}/{universe['id']}", headers=alice.headers)).json()["data"]
    assert detail["asset_count"] == 400
    assert sorted(await symbols_of(client, alice, universe["id"])) == symbols
    stored_positions = [
        position for _, _, position, _ in (await snapshot(db, alice.user.id)).members
    ]
    assert len(set(stored_positions)) == 400  # the universe lock kept appends from colliding


async def test_concurrent_creates_with_one_name_have_one_winner(
    client: httpx.AsyncClient, alice: Account
) -> None:
    responses = await asyncio.gather(
        *(client.post(API, json={"name": "Same"}, headers=alice.headers) for _ in range(5))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["code"] == "universe_name_taken"
