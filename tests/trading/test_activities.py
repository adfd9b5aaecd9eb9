"""Activities: the journal as a filtered, keyset-paged list, oldest or newest first."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from quantdesk.kit.db import Database
from quantdesk.trading import entries, journal, service
from tests.factories import Account
from tests.trading.helpers import API, move, open_account

D = Decimal


async def _list(
    client: httpx.AsyncClient, user: Account, account_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"{API}/{account_id}/activities", params=params, headers=user.headers
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _all(
    client: httpx.AsyncClient, user: Account, account_id: str, **params: Any
) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = await _list(
            client, user, account_id, **params, **({"cursor": cursor} if cursor else {})
        )
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _every_kind(client: httpx.AsyncClient, db: Database, user: Account) -> str:
    """An account with one activity of each type: CSD (starting cash), CSW, FILL, FEE, DIV,
    and a CORR reversing a second deposit."""
    account = await open_account(client, user, cash="1000")
    await move(client, user, account["id"], "withdrawals", "100")
    second = (await move(client, user, account["id"], "deposits", "5")).json()["data"]
    owner, aid = user.user.id, uuid.UUID(account["id"])
    async with db.transaction(user_id=owner) as session:
        row = await service.get_account(session, owner_id=owner, account_id=aid)
        legs = entries.fill_entries(symbol="AAPL", qty=D(2), price=D("187.12"))
        await journal.post_transaction(session, row, "fill", legs, price=D("187.12"))
        await journal.post_transaction(session, row, "fee", entries.fee_entries(D("0.35")))
        await journal.post_transaction(
            session, row, "dividend", entries.dividend_entries(D("0.48")), symbol="AAPL"
        )
        await journal.reverse(
            session, owner_id=owner, transaction_id=uuid.UUID(second["id"]), reason="duplicate"
        )
    return str(account["id"])


async def test_every_activity_newest_first_with_its_entries(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account_id = await _every_kind(client, db, alice)
    items = (await _list(client, alice, account_id))["items"]
    assert [i["activity_type"] for i in items] == [
        "CORR",
        "DIV",
        "FEE",
        "FILL",
        "CSD",
        "CSW",
        "CSD",
    ]
    fill = items[3]
    assert (fill["symbol"], fill["qty"], fill["price"], fill["net_amount"]) == (
        "AAPL",
        "2",
        "187.12",
        "-374.24",
    )
    assert {(e["book"], e["instrument"], e["amount"]) for e in fill["entries"]} == {
        ("cash", "USD", "-374.24"),
        ("counterparty", "USD", "374.24"),
        ("position", "AAPL", "2"),
        ("counterparty", "AAPL", "-2"),
    }
    correction = items[0]
    assert correction["reverses_id"] == items[4]["id"]
    assert (correction["memo"], correction["net_amount"]) == ("duplicate", "-5")
    assert items[1]["symbol"] == "AAPL"
    oldest_first = (await _list(client, alice, account_id, direction="asc"))["items"]
    assert [i["id"] for i in oldest_first] == [i["id"] for i in reversed(items)]


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ("CSD", ["CSD", "CSD"]),
        ("csw,fee", ["FEE", "CSW"]),
        ("FILL, DIV", ["DIV", "FILL"]),
        ("CORR", ["CORR"]),
        ("CSD,CSW,FILL,FEE,DIV", ["DIV", "FEE", "FILL", "CSD", "CSW", "CSD"]),
    ],
)
async def test_types_filter(
    types: str, expected: list[str], client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account_id = await _every_kind(client, db, alice)
    items = (await _list(client, alice, account_id, types=types))["items"]
    assert [i["activity_type"] for i in items] == expected


async def test_after_and_until_are_exclusive_bounds(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account_id = await _every_kind(client, db, alice)
    items = (await _list(client, alice, account_id, direction="asc"))["items"]
    times = [i["created_at"] for i in items]
    assert times == sorted(times)
    between = await _list(
        client, alice, account_id, direction="asc", after=times[1], until=times[5]
    )
    assert [i["id"] for i in between["items"]] == [i["id"] for i in items[2:5]]
    since = await _list(client, alice, account_id, after=times[4])
    assert [i["id"] for i in since["items"]] == [i["id"] for i in reversed(items[5:])]


@pytest.mark.parametrize("direction", ["asc", "desc"])
async def test_pages_cover_everything_once_even_while_movements_arrive(
    direction: str, client: httpx.AsyncClient, alice: Account
) -> None:
    account = await open_account(client, alice)
    for n in range(1, 8):
        assert (await move(client, alice, account["id"], "deposits", str(n))).status_code == 201
    everything = (await _list(client, alice, account["id"], direction=direction))["items"]
    first = await _list(client, alice, account["id"], direction=direction, limit=3)
    assert first["next_cursor"]
    await move(client, alice, account["id"], "deposits", "100")  # arrives between two pages
    seen = list(first["items"])
    cursor = first["next_cursor"]
    while cursor:
        page = await _list(
            client, alice, account["id"], direction=direction, limit=3, cursor=cursor
        )
        seen.extend(page["items"])
        cursor = page["next_cursor"]
    ids = [i["id"] for i in seen]
    assert len(ids) == len(set(ids))
    if direction == "desc":  # the newcomer is newer than every page: it is not on a later one
        assert ids == [i["id"] for i in everything]
    else:  # oldest first: it is simply the last
        assert ids[:-1] == [i["id"] for i in everything]
        assert seen[-1]["net_amount"] == "100"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"types": "CSD,XYZ"}, "types"),
        ({"direction": "sideways"}, "direction"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"after": "yesterday"}, "after"),
        ({"after": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "after"),
        ({"until": "0001-01-01T00:00:00+01:00"}, "until"),
    ],
)
async def test_bad_parameters_are_a_422_naming_the_field(
    params: dict[str, Any], field: str, client: httpx.AsyncClient, alice: Account
) -> None:
    account = await open_account(client, alice)
    response = await client.get(
        f"{API}/{account['id']}/activities", params=params, headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == field


async def test_all_pages_of_a_long_history(client: httpx.AsyncClient, alice: Account) -> None:
    account = await open_account(client, alice)
    for n in range(1, 12):
        await move(client, alice, account["id"], "deposits", str(n))
    items = await _all(client, alice, account["id"], direction="asc", limit=4)
    assert [i["net_amount"] for i in items] == [str(n) for n in range(1, 12)]


async def test_posting_order_is_kept_even_when_the_clock_stands_still_or_steps_back(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await open_account(client, alice)
    stopped = datetime(2020, 1, 1, tzinfo=UTC)  # before the account was even opened
    monkeypatch.setattr(journal, "utcnow", lambda: stopped)
    for n in range(1, 6):
        await move(client, alice, account["id"], "deposits", str(n))
    items = (await _list(client, alice, account["id"], direction="asc"))["items"]
    assert [i["net_amount"] for i in items] == ["1", "2", "3", "4", "5"]
    times = [datetime.fromisoformat(i["created_at"]) for i in items]
    assert all(a < b for a, b in itertools.pairwise(times))
