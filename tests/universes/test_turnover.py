from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from quantdesk.kit.db import Database
from quantdesk.models import UniverseChange
from quantdesk.universes.service import turnover_rate
from tests.factories import Account, ensure_assets
from tests.universes.helpers import API, change, create_universe

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 10, tzinfo=UTC)
T2 = datetime(2026, 1, 20, tzinfo=UTC)
T3 = datetime(2026, 2, 5, tzinfo=UTC)

# (when, action, symbol): 4 members at T0; +NVDA -AAPL at T1; -MSFT at T2; +JPM at T3.
HISTORY = [
    (T0, "added", "AAPL"),
    (T0, "added", "MSFT"),
    (T0, "added", "GOOGL"),
    (T0, "added", "AMZN"),
    (T1, "added", "NVDA"),
    (T1, "removed", "AAPL"),
    (T2, "removed", "MSFT"),
    (T3, "added", "JPM"),
]


async def _universe_with_history(client: httpx.AsyncClient, db: Database, account: Account) -> str:
    assets = await ensure_assets(db)
    universe = await create_universe(client, account, "History")
    async with db.transaction(user_id=account.user.id) as session:
        for when, action, symbol in HISTORY:
            session.add(
                UniverseChange(
                    universe_id=uuid.UUID(universe["id"]),
                    owner_id=account.user.id,
                    asset_id=assets[symbol].id,
                    symbol=symbol,
                    action=action,
                    occurred_at=when,
                )
            )
    return str(universe["id"])


async def _turnover(
    client: httpx.AsyncClient, account: Account, universe_id: str, **params: str
) -> httpx.Response:
    return await client.get(f"{API}/{universe_id}/turnover", params=params, headers=account.headers)


async def test_turnover_over_a_known_history_is_exact(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    universe_id = await _universe_with_history(client, db, alice)
    response = await _turnover(
        client, alice, universe_id, start="2026-01-05T00:00:00Z", end="2026-01-31T00:00:00Z"
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [a["symbol"] for a in data["additions"]] == ["NVDA"]
    assert [r["symbol"] for r in data["removals"]] == ["AAPL", "MSFT"]
    assert (data["addition_count"], data["removal_count"]) == (1, 2)
    assert (data["size_at_start"], data["size_at_end"]) == (4, 3)
    # (1 + 2) / 2 / ((4 + 3) / 2) = 3/7
    assert data["turnover_rate"] == "0.428571"
    assert data["additions"][0]["occurred_at"].startswith("2026-01-10T00:00:00")


async def test_window_is_start_exclusive_end_inclusive(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    universe_id = await _universe_with_history(client, db, alice)
    data = (
        await _turnover(
            client, alice, universe_id, start="2026-01-01T00:00:00Z", end="2026-01-10T00:00:00Z"
        )
    ).json()["data"]
    # The T0 additions are before the window (they make size_at_start); T1 is inside it.
    assert (data["size_at_start"], data["size_at_end"]) == (4, 4)
    assert (data["addition_count"], data["removal_count"]) == (1, 1)
    assert data["turnover_rate"] == "0.250000"


async def test_naive_times_are_utc_and_offsets_are_converted(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    universe_id = await _universe_with_history(client, db, alice)
    naive = (
        await _turnover(client, alice, universe_id, start="2026-01-05T00:00:00", end="2026-02-10")
    ).json()["data"]
    assert naive["start"].startswith("2026-01-05T00:00:00")
    assert (naive["addition_count"], naive["removal_count"]) == (2, 2)
    # 23:00 on the 9th at -02:00 is 01:00 UTC on the 10th: after T1.
    offset = (
        await _turnover(
            client, alice, universe_id, start="2026-01-09T23:00:00-02:00", end="2026-01-31T00:00Z"
        )
    ).json()["data"]
    assert offset["start"].startswith("2026-01-10T01:00:00")
    assert (offset["addition_count"], offset["removal_count"]) == (0, 1)
    assert (offset["size_at_start"], offset["size_at_end"]) == (4, 3)


async def test_default_window_is_the_last_30_days(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Recent", symbols=["AAPL", "MSFT"])
    await change(client, alice, universe["id"], add=["NVDA"], remove=["AAPL"])
    response = await _turnover(client, alice, universe["id"])
    data = response.json()["data"]
    start, end = datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])
    assert end - start == timedelta(days=30)
    assert abs(datetime.now(UTC) - end) < timedelta(minutes=1)
    # Created inside the window: it starts at 0 and ends at 2 after 3 additions and 1 removal.
    assert (data["size_at_start"], data["size_at_end"]) == (0, 2)
    assert (data["addition_count"], data["removal_count"]) == (3, 1)
    assert data["turnover_rate"] == "2.000000"
    assert "get_universe" in response.json()["next_actions"]


async def test_empty_window_and_empty_universe_have_zero_turnover(
    client: httpx.AsyncClient, alice: Account
) -> None:
    universe = await create_universe(client, alice, "Empty")
    data = (await _turnover(client, alice, universe["id"])).json()["data"]
    assert data["turnover_rate"] == "0.000000"
    assert data["additions"] == data["removals"] == []


async def test_start_not_before_end_or_bad_dates_are_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    universe = await create_universe(client, alice, "Bad dates")
    same = await _turnover(
        client, alice, universe["id"], start="2026-01-01T00:00:00Z", end="2026-01-01T00:00:00Z"
    )
    assert same.status_code == 422
    assert same.json()["error"]["details"][0]["field"] == "start"
    reversed_window = await _turnover(
        client, alice, universe["id"], start="2026-02-01T00:00:00Z", end="2026-01-01T00:00:00Z"
    )
    assert reversed_window.status_code == 422
    garbage = await _turnover(client, alice, universe["id"], start="yesterday")
    assert garbage.status_code == 422
    assert garbage.json()["error"]["details"][0]["field"] == "start"


def test_turnover_rate_formula_and_rounding() -> None:
    assert turnover_rate(3, 0, 0, 3) == Decimal("1.000000")
    assert turnover_rate(1, 1, 3, 3) == Decimal("0.333333")
    assert turnover_rate(1, 0, 2, 1) == Decimal("0.333333")
    assert turnover_rate(2, 1, 1, 2) == Decimal("1.000000")
    assert turnover_rate(1, 0, 0, 0) == Decimal("0.000000")
    assert turnover_rate(1, 0, 4, 5) == Decimal("0.111111")
    assert turnover_rate(2, 0, 2, 1) == Decimal("0.666667")  # half-up at the 6th place


async def test_the_turnover_definition_is_in_the_api_docs(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/universes/{universe_id}/turnover"]["get"]
    assert operation["operationId"] == "get_universe_turnover"
    assert "(additions + removals) / 2 / average_size" in operation["description"]
    assert "(size_at_start + size_at_end) / 2" in operation["description"]
