"""GET market/inventory: tradable assets with the engine's latest quotes; a stale or missing quote
is queued at a low priority and answered as it is, never waited for."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.reads import LISTED_PRIORITY
from quantdesk.market.engine.schemas import Fetched
from quantdesk.models import RefreshRequest
from tests.factories import Account, ensure_assets

QUOTED, UNQUOTED = "INVQA-USD", "INVQB-USD"


async def _inventory(client: httpx.AsyncClient, user: Account, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/market/inventory", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_inventory_lists_quotes_and_queues_the_missing_ones(
    client: httpx.AsyncClient, edb: Database, alice: Account
) -> None:
    await ensure_assets(
        edb, [(QUOTED, "Quoted coin", "crypto", None), (UNQUOTED, "Unquoted coin", "crypto", None)]
    )
    value = {"symbol": QUOTED, "price": "2.5", "market_cap": "1000", "volume": "77",
             "change_percent": "-1.25", "as_of": utcnow().isoformat(), "source": "sim"}  # fmt: skip
    async with edb.transaction(system=True) as session:
        await store.store_values(
            session, [Fetched(QUOTED, "quote", "sim", value, fetched_at=utcnow())], ttls={}
        )
    found = await _inventory(client, alice, asset_class="crypto", limit=500)
    items = {item["symbol"]: item for item in found["items"]}
    quoted, unquoted = items[QUOTED], items[UNQUOTED]
    assert (quoted["price"], quoted["volume"], quoted["change_percent"]) == ("2.5", "77", "-1.25")
    assert (quoted["source"], quoted["stale"], quoted["queued"]) == ("sim", False, False)
    assert (unquoted["price"], unquoted["stale"], unquoted["queued"]) == (None, True, True)
    assert all(item["asset_class"] == "crypto" for item in found["items"])
    async with edb.transaction(system=True, readonly=True) as session:
        rows = (await session.execute(select(RefreshRequest))).scalars().all()
    queued = {r.symbol: r for r in rows}
    assert QUOTED not in queued
    assert queued[UNQUOTED].priority == LISTED_PRIORITY

    first = await _inventory(client, alice, asset_class="crypto", limit=1)
    second = await _inventory(
        client, alice, asset_class="crypto", limit=1, cursor=first["next_cursor"]
    )
    assert first["items"][0]["symbol"] < second["items"][0]["symbol"]
    bad = await client.get(
        "/api/v1/market/inventory", params={"asset_class": "bonds"}, headers=alice.headers
    )
    assert bad.status_code == 422
