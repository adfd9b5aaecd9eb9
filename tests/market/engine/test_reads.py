"""GET market/data/{symbol} (stored values; a stale one queues its refresh, once, at high
priority, never while the engine or its type is off: then it is fetched on demand, see
test_on_demand) and GET market/history/{symbol}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import text

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import Fetched
from quantdesk.market.providers.datasets import Quote
from tests.factories import Account

DATA = "/api/v1/market/data"
HISTORY = "/api/v1/market/history"


def _quote(price: str, at: datetime) -> Fetched:
    value = Quote(symbol="AAPL", price=Decimal(price), currency="USD", as_of=at, source="yahoo")
    return Fetched(symbol="AAPL", data_type="quote", provider="yahoo", value=value, fetched_at=at)


async def _store(db: Database, *fetched: Fetched) -> None:
    async with db.transaction(system=True) as session:
        await store.store_values(session, list(fetched), ttls={"quote": 60})


async def _pending(db: Database) -> list[tuple[str, str, int]]:
    async with db.transaction(system=True) as session:
        rows = await session.execute(
            text(
                "SELECT symbol, data_type, priority FROM market_refresh_queue "
                "WHERE status = 'pending' ORDER BY data_type"
            )
        )
        return [(s, t, int(p)) for s, t, p in rows.all()]


async def test_fresh_values_are_served_and_stale_ones_queue_their_refresh_once(
    client: httpx.AsyncClient, edb: Database, alice: Account
) -> None:
    await _store(edb, _quote("189.50", utcnow()))
    for _ in range(2):  # asking twice queues once
        response = await client.get(
            f"{DATA}/aapl", params={"types": "quote,profile"}, headers=alice.headers
        )
        assert response.status_code == 200, response.text
    values = {v["data_type"]: v for v in response.json()["data"]["values"]}
    assert values["quote"]["stale"] is False
    assert values["quote"]["queued"] is False
    assert values["quote"]["source"] == "yahoo"
    assert values["quote"]["value"]["price"] == "189.50"
    assert (values["profile"]["stale"], values["profile"]["queued"]) == (True, True)
    assert values["profile"]["value"] is None
    assert await _pending(edb) == [("AAPL", "profile", 200)]


async def test_nothing_is_queued_while_the_engine_is_off(
    client: httpx.AsyncClient, restore_registry: Database, alice: Account
) -> None:
    async with restore_registry.transaction(system=True) as session:
        await session.execute(text("UPDATE market_flags SET enabled = false"))
    response = await client.get(f"{DATA}/MSFT", headers=alice.headers)
    (quote,) = response.json()["data"]["values"]
    # Fetched on demand instead (engine.on_demand; see test_on_demand).
    assert (quote["stale"], quote["queued"], quote["on_demand"]) == (False, False, "fetched")
    assert await _pending(restore_registry) == []


async def test_bad_symbols_and_types_are_422(client: httpx.AsyncClient, alice: Account) -> None:
    bad_type = await client.get(f"{DATA}/AAPL", params={"types": "quotes"}, headers=alice.headers)
    assert bad_type.status_code == 422
    assert bad_type.json()["error"]["details"][0]["field"] == "types[0]"
    bad_symbol = await client.get(f"{DATA}/A%20B", headers=alice.headers)
    assert bad_symbol.status_code == 422
    backwards = await client.get(
        f"{HISTORY}/AAPL",
        params={"from": "2026-11-27T10:00:00Z", "to": "2026-11-27T09:00:00Z"},
        headers=alice.headers,
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["details"][0]["field"] == "from"


async def test_history_as_points_and_as_bars(
    client: httpx.AsyncClient, edb: Database, alice: Account
) -> None:
    t0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
    for minute, price in enumerate(("10", "12", "9", "11")):
        await _store(edb, _quote(price, t0 + timedelta(minutes=minute)))
    window = {"from": "2026-11-27T10:00:00Z", "to": "2026-11-27T10:03:00"}  # naive: UTC
    raw = await client.get(f"{HISTORY}/aapl", params=window, headers=alice.headers)
    assert raw.status_code == 200, raw.text
    assert [p["price"] for p in raw.json()["data"]["points"]] == ["10", "12", "9"]
    daily = await client.get(
        f"{HISTORY}/AAPL", params={**window, "to": "2026-11-28T00:00:00Z", "interval": "1d"},
        headers=alice.headers,
    )  # fmt: skip
    (bar,) = daily.json()["data"]["bars"]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == ("10", "12", "9", "11")
