from __future__ import annotations

import httpx

from quantdesk.kit.db import Database
from tests.factories import Account, ensure_assets
from tests.universes.helpers import (
    API,
    change,
    create_universe,
    ensure_bulk_assets,
    members_of,
    snapshot,
    symbols_of,
)


async def test_every_status_is_reported_per_input_symbol(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Statuses", symbols=["AAPL", "MSFT"])
    response = await change(
        client,
        alice,
        universe["id"],
        add=["nvda", "AAPL", "ZZZZZZ", "A B", "brk.b", "NVDA"],
        remove=["MSFT", "JPM", "QQQQQQ", "$$$"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    results = [(r["input"], r["action"], r["symbol"], r["status"]) for r in body["data"]["results"]]
    assert results == [
        ("nvda", "add", "NVDA", "added"),
        ("AAPL", "add", "AAPL", "already_present"),
        ("ZZZZZZ", "add", "ZZZZZZ", "unknown_symbol"),
        ("A B", "add", None, "invalid_format"),
        ("brk.b", "add", "BRK-B", "added"),
        ("NVDA", "add", "NVDA", "already_present"),
        ("MSFT", "remove", "MSFT", "removed"),
        ("JPM", "remove", "JPM", "not_present"),
        ("QQQQQQ", "remove", "QQQQQQ", "unknown_symbol"),
        ("$$$", "remove", None, "invalid_format"),
    ]
    assert body["data"]["results"][3]["reason"]
    assert body["data"]["counts"] == {
        "added": 2,
        "added_pending": 0,  # no live provider in the test set-up: the catalog decides
        "already_present": 2,
        "removed": 1,
        "not_present": 1,
        "unknown_symbol": 2,
        "invalid_format": 2,
    }
    assert body["data"]["asset_count"] == 3
    assert body["next_actions"] == [
        "get_universe",
        "list_universe_assets",
        "get_universe_turnover",
        "search_assets",
    ]
    # New members go to the end in input order; removal closes the gap in the ranks.
    assert await symbols_of(client, alice, universe["id"]) == ["AAPL", "NVDA", "BRK-B"]
    stored = await snapshot(db, alice.user.id)
    assert stored.change_count == 2 + 2 + 1  # two initial, two added, one removed


async def test_a_symbol_in_both_add_and_remove_is_422_and_nothing_changes(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Both", symbols=["AAPL"])
    before = await snapshot(db, alice.user.id)
    for add, remove in ((["MSFT", "aapl"], ["AAPL"]), (["BRK.B"], ["BRK-B"])):
        response = await change(client, alice, universe["id"], add=add, remove=remove)
        assert response.status_code == 422
        detail = response.json()["error"]["details"][0]
        assert detail["field"] == "remove"
        assert "both" in detail["reason"]
    assert await snapshot(db, alice.user.id) == before


async def test_ten_thousand_symbols_are_accepted_in_one_request(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 10_000)
    universe = await create_universe(client, alice, "Ten thousand")
    response = await change(client, alice, universe["id"], add=symbols[:9_000])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["counts"]["added"] == 9_000
    mixed = await change(client, alice, universe["id"], add=symbols[9_000:], remove=symbols[:9_000])
    assert mixed.status_code == 200, mixed.text
    counts = mixed.json()["data"]["counts"]
    assert (counts["added"], counts["removed"]) == (1_000, 9_000)
    assert await symbols_of(client, alice, universe["id"]) == symbols[9_000:]


async def test_ten_thousand_and_one_symbols_are_422_and_nothing_changes(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Limit", symbols=["AAPL"])
    before = await snapshot(db, alice.user.id)
    symbols = await ensure_bulk_assets(db, 10_000)

    too_many = await change(client, alice, universe["id"], add=[*symbols, "MSFT"])
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"][0]["field"] == "add"

    split = await change(client, alice, universe["id"], add=symbols[:6_000], remove=symbols[5_999:])
    assert split.status_code == 422
    assert "10000" in split.json()["error"]["details"][0]["reason"]
    assert await snapshot(db, alice.user.id) == before


async def test_five_thousand_symbols_in_one_call_are_all_added_in_order(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 5_000)
    universe = await create_universe(client, alice, "Fast")
    response = await change(client, alice, universe["id"], add=symbols)
    assert response.status_code == 200
    assert response.json()["data"]["asset_count"] == 5_000
    # Speed is measured by bench/bench_universe_add.py, not asserted here.
    assert await symbols_of(client, alice, universe["id"]) == symbols


async def test_removed_then_re_added_goes_to_the_end(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Cycle", symbols=["AAPL", "MSFT", "NVDA"])
    assert (await change(client, alice, universe["id"], remove=["AAPL"])).status_code == 200
    assert (await change(client, alice, universe["id"], add=["AAPL"])).status_code == 200
    members = await members_of(client, alice, universe["id"])
    assert [(a["symbol"], a["position"]) for a in members] == [
        ("MSFT", 0),
        ("NVDA", 1),
        ("AAPL", 2),
    ]


async def test_reorder_sets_the_full_order(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Order", symbols=["AAPL", "MSFT", "NVDA"])
    url = f"{API}/{universe['id']}/assets/order"
    response = await client.put(
        url, json={"symbols": ["nvda", "AAPL", "MSFT"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["asset_count"] == 3
    assert await symbols_of(client, alice, universe["id"]) == ["NVDA", "AAPL", "MSFT"]
    # New members still go after the reordered ones.
    await change(client, alice, universe["id"], add=["JPM"])
    assert await symbols_of(client, alice, universe["id"]) == ["NVDA", "AAPL", "MSFT", "JPM"]


async def test_reorder_that_is_not_a_permutation_is_422_with_the_reason(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Perm", symbols=["AAPL", "MSFT", "NVDA"])
    url = f"{API}/{universe['id']}/assets/order"
    before = await snapshot(db, alice.user.id)
    cases = {
        "missing members: MSFT": ["NVDA", "AAPL"],
        "not members: JPM": ["NVDA", "AAPL", "MSFT", "JPM"],
        "listed more than once: AAPL": ["NVDA", "AAPL", "MSFT", "AAPL"],
        "not members: ZZZZZZ": ["NVDA", "AAPL", "MSFT", "ZZZZZZ"],
    }
    for expected, symbols in cases.items():
        response = await client.put(url, json={"symbols": symbols}, headers=alice.headers)
        assert response.status_code == 422, symbols
        detail = response.json()["error"]["details"][0]
        assert detail["field"] == "symbols"
        assert expected in detail["reason"]
    malformed = await client.put(url, json={"symbols": ["A B"]}, headers=alice.headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["details"][0]["field"] == "symbols.0"
    assert await snapshot(db, alice.user.id) == before


async def test_empty_change_is_a_harmless_no_op(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Noop", symbols=["AAPL"])
    response = await change(client, alice, universe["id"])
    assert response.status_code == 200
    assert response.json()["data"]["results"] == []
    assert response.json()["data"]["asset_count"] == 1
