"""Members a page at a time (`list_universe_assets`), and the counts in the universe's answer."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from quantdesk.kit.db import Database
from quantdesk.models import Asset
from quantdesk.models.asset import AssetClass, ValidationStatus
from quantdesk.universes import repository
from tests.factories import Account, ensure_assets
from tests.universes.helpers import (
    API,
    change,
    create_universe,
    ensure_bulk_assets,
    get_detail,
    member_pages,
    members_of,
)


def _cursor(position: object) -> str:
    raw = json.dumps(position).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _page(
    client: httpx.AsyncClient, account: Account, universe_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"{API}/{universe_id}/assets", params=params, headers=account.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_pages_walk_every_member_once_in_order_and_match_the_export(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = (await ensure_bulk_assets(db, 23))[::-1]  # not in symbol or id order
    universe = await create_universe(client, alice, "Walk", symbols=symbols)

    pages = await member_pages(client, alice, universe["id"], limit=5)
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    walked = [member for page in pages for member in page]
    assert [m["symbol"] for m in walked] == symbols
    assert [m["position"] for m in walked] == list(range(23))

    exact = await member_pages(client, alice, universe["id"], limit=23)
    assert [len(page) for page in exact] == [23]  # no empty page after a full last one
    export = await client.get(f"{API}/{universe['id']}/export", headers=alice.headers)
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [row["symbol"] for row in rows] == symbols


async def test_ranks_close_the_gaps_removals_leave_and_pages_follow_a_reorder(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 12)
    universe = await create_universe(client, alice, "Gaps", symbols=symbols)
    removed = [symbols[0], symbols[5], symbols[6]]
    assert (await change(client, alice, universe["id"], remove=removed)).status_code == 200
    kept = [s for s in symbols if s not in removed]

    walked = [
        m for page in await member_pages(client, alice, universe["id"], limit=4) for m in page
    ]
    assert [(m["symbol"], m["position"]) for m in walked] == [(s, i) for i, s in enumerate(kept)]

    reordered = kept[::-1]
    response = await client.put(
        f"{API}/{universe['id']}/assets/order", json={"symbols": reordered}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "assets" not in body["data"]  # the answer stays small: counts, not members
    assert body["data"]["asset_count"] == 9
    assert body["next_actions"][0] == "list_universe_assets"
    pages = await member_pages(client, alice, universe["id"], limit=4)
    assert [len(page) for page in pages] == [4, 4, 1]
    walked = [m for page in pages for m in page]
    assert [(m["symbol"], m["position"]) for m in walked] == [
        (s, i) for i, s in enumerate(reordered)
    ]


async def test_changes_between_two_pages_neither_skip_nor_repeat_a_member(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 11)
    universe = await create_universe(client, alice, "Moving", symbols=symbols[:10])
    first = (await _page(client, alice, universe["id"], limit=4))["data"]
    assert [m["symbol"] for m in first["items"]] == symbols[:4]

    # One seen member leaves and one joins: an offset would now skip symbols[4].
    changed = await change(client, alice, universe["id"], add=[symbols[10]], remove=[symbols[1]])
    assert changed.status_code == 200, changed.text
    rest: list[dict[str, Any]] = []
    cursor = first["next_cursor"]
    while cursor:
        page = (await _page(client, alice, universe["id"], limit=4, cursor=cursor))["data"]
        rest += page["items"]
        cursor = page["next_cursor"]
    assert [m["symbol"] for m in rest] == symbols[4:11]
    assert [m["position"] for m in rest] == list(range(3, 10))  # ranks as they are now


async def test_default_and_largest_page_sizes(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 1001)
    universe = await create_universe(client, alice, "Large", symbols=symbols)

    default = await _page(client, alice, universe["id"])
    assert len(default["data"]["items"]) == 100
    assert default["data"]["next_cursor"]
    assert default["next_actions"][0] == "list_universe_assets"
    assert default["metadata"]["count"] == 100

    largest = (await _page(client, alice, universe["id"], limit=1000))["data"]
    assert len(largest["items"]) == 1000
    last = await _page(client, alice, universe["id"], limit=1000, cursor=largest["next_cursor"])
    assert [(m["symbol"], m["position"]) for m in last["data"]["items"]] == [(symbols[-1], 1000)]
    assert last["data"]["next_cursor"] is None
    assert "list_universe_assets" not in last["next_actions"]

    for limit in (0, 1001):
        response = await client.get(
            f"{API}/{universe['id']}/assets", params={"limit": limit}, headers=alice.headers
        )
        assert response.status_code == 422, limit
        assert response.json()["error"]["details"][0]["field"] == "limit"


FORGED = {
    "not base64": "!!!",
    "not JSON": base64.urlsafe_b64encode(b"position 3").decode(),
    "a list": _cursor([0, 1]),
    "another list's cursor": _cursor({"c": "2026-01-01T00:00:00+00:00", "id": "x"}),
    "a key missing": _cursor({"p": 3}),
    "text": _cursor({"p": "3", "a": 1}),
    "a boolean": _cursor({"p": True, "a": 1}),
    "a fraction": _cursor({"p": 1.5, "a": 1}),
    "null": _cursor({"p": None, "a": 1}),
    "negative": _cursor({"p": -1, "a": 1}),
    "past 32 bits": _cursor({"p": 2**31, "a": 1}),
    "past 64 bits": _cursor({"p": 0, "a": 10**30}),
    "too long": "A" * 513,
}


@pytest.mark.parametrize("forged", list(FORGED))
async def test_a_forged_cursor_is_422_on_cursor(
    forged: str, client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Forged", symbols=["AAPL", "MSFT"])
    response = await client.get(
        f"{API}/{universe['id']}/assets",
        params={"cursor": FORGED[forged], "limit": 1},
        headers=alice.headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "cursor"


async def test_another_users_universe_is_404_whatever_the_cursor(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Alice's", symbols=["AAPL", "MSFT"])
    first = await _page(client, alice, universe["id"], limit=1)
    for cursor in (None, first["data"]["next_cursor"], FORGED["text"]):
        params = {"cursor": cursor} if cursor else {}
        response = await client.get(
            f"{API}/{universe['id']}/assets", params=params, headers=bob.headers
        )
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "universe_not_found"
        assert "AAPL" not in response.text
        assert "MSFT" not in response.text


async def test_postgresql_row_level_security_hides_members_and_counts_from_others(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    if db.kind != "postgresql":
        pytest.skip("row-level security is a PostgreSQL feature")
    await ensure_assets(db)
    created = await create_universe(client, alice, "Alice's", symbols=["AAPL", "MSFT"])
    universe_id = uuid.UUID(created["id"])
    scope = {"owner_id": alice.user.id, "universe_id": universe_id}
    # Asked for alice's rows by name in bob's transaction: only the policy says no.
    async with db.transaction(user_id=bob.user.id, readonly=True) as session:
        assert await repository.list_members_after(session, limit=10, **scope) == ([], 0)
        assert await repository.member_counts(session, **scope) == []
    async with db.transaction(user_id=alice.user.id, readonly=True) as session:
        rows, rank = await repository.list_members_after(session, limit=10, **scope)
        assert ([asset.symbol for _, asset in rows], rank) == (["AAPL", "MSFT"], 0)


# Assets of this test alone: it changes their validation status.
_COUNTED = [
    ("QMCNTPEND", "Counted Pending Co.", AssetClass.EQUITY, None),
    ("QMCNTGONE", "Counted Refuted Co.", AssetClass.EQUITY, None),
]


async def _set_status(db: Database, statuses: dict[str, ValidationStatus]) -> None:
    async with db.transaction() as session:
        for symbol, status in statuses.items():
            await session.execute(
                update(Asset).where(Asset.symbol == symbol).values(validation_status=status.value)
            )


async def test_the_universe_answer_counts_members_and_lists_none(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    await ensure_assets(db, _COUNTED)
    await _set_status(db, {s: ValidationStatus.VALID for s, *_ in _COUNTED})
    symbols = ["AAPL", "BTC", "QMCNTPEND", "SPY", "QMCNTGONE"]
    universe = await create_universe(client, alice, "Counted", symbols=symbols)
    # Later a provider refutes one, and another is back to pending (as while providers are down).
    await _set_status(
        db, {"QMCNTPEND": ValidationStatus.PENDING, "QMCNTGONE": ValidationStatus.INVALID}
    )

    response = await client.get(f"{API}/{universe['id']}", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    data = body["data"]
    assert "assets" not in data
    assert data["asset_count"] == 5
    assert data["by_validation_status"] == {"valid": 3, "pending": 1, "invalid": 1}
    assert list(data["by_asset_class"].items()) == [("equity", 3), ("crypto", 1), ("etf", 1)]
    assert data["assets_url"] == f"{API}/{universe['id']}/assets"
    assert body["metadata"]["asset_count"] == 5
    assert body["next_actions"][0] == "list_universe_assets"

    members = await members_of(client, alice, universe["id"])
    assert [(m["symbol"], m["validation_status"]) for m in members] == [
        ("AAPL", "valid"),
        ("BTC", "valid"),
        ("QMCNTPEND", "pending"),
        ("SPY", "valid"),
        ("QMCNTGONE", "invalid"),
    ]

    empty = await get_detail(client, alice, (await create_universe(client, alice, "Empty"))["id"])
    assert empty["asset_count"] == 0
    assert empty["by_validation_status"] == {"valid": 0, "pending": 0, "invalid": 0}
    assert empty["by_asset_class"] == {}
    assert (await _page(client, alice, empty["id"]))["data"] == {"items": [], "next_cursor": None}
