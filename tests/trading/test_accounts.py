"""Paper accounts over the API: open, list, read, rename; another user's account is 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import httpx
import pytest

from quantdesk.kit.db import Database
from tests.factories import Account
from tests.trading.helpers import API, assert_invariants, ledger, move, open_account


async def test_open_an_empty_account(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    response = await client.post(API, json={"name": "  Main  "}, headers=alice.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["name"] == "Main"
    assert data["currency"] == "USD"
    assert (data["cash"], data["reserved"], data["buying_power"]) == ("0", "0", "0")
    stored = await ledger(db, alice, data["id"])
    assert stored.account.owner_id == alice.user.id
    assert stored.transactions == []


async def test_starting_cash_is_a_deposit_in_the_journal(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    data = await open_account(client, alice, cash="10000.50")
    assert data["cash"] == "10000.5"
    assert data["buying_power"] == "10000.5"
    stored = await assert_invariants(db, alice, data["id"])
    [deposit] = stored.transactions
    assert deposit.kind == "deposit"
    assert deposit.reference == "starting_cash"
    assert sorted((e.book, e.amount) for e in stored.entries) == [
        ("cash", Decimal("10000.50")),
        ("counterparty", Decimal("-10000.50")),
    ]


async def test_get_shows_balances_and_positions_valued_at_the_last_fill(
    client: httpx.AsyncClient, alice: Account
) -> None:
    data = await open_account(client, alice, cash="100")
    detail = (await client.get(f"{API}/{data['id']}", headers=alice.headers)).json()["data"]
    assert detail["cash"] == "100"
    assert detail["equity"] == "100"
    assert detail["long_market_value"] == "0"
    assert detail["positions"] == []


async def test_list_is_yours_only_newest_first_and_paged(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for name in ("A", "B", "C"):
        await open_account(client, alice, name)
    await open_account(client, bob, "Bob's")
    first = (await client.get(API, params={"limit": 2}, headers=alice.headers)).json()["data"]
    assert [a["name"] for a in first["items"]] == ["C", "B"]
    rest = (
        await client.get(
            API, params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice.headers
        )
    ).json()["data"]
    assert [a["name"] for a in rest["items"]] == ["A"]
    assert rest["next_cursor"] is None
    bobs = (await client.get(API, headers=bob.headers)).json()["data"]["items"]
    assert [a["name"] for a in bobs] == ["Bob's"]


async def test_rename(client: httpx.AsyncClient, alice: Account) -> None:
    data = await open_account(client, alice, "Old")
    response = await client.patch(
        f"{API}/{data['id']}", json={"name": "New"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "New"
    detail = (await client.get(f"{API}/{data['id']}", headers=alice.headers)).json()["data"]
    assert detail["name"] == "New"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"name": "A", "starting_cash": "-1"}, "starting_cash"),
        ({"name": "A", "starting_cash": "1.001"}, "starting_cash"),
        ({"name": "A", "starting_cash": "NaN"}, "starting_cash"),
        ({"name": "A", "starting_cash": "1e13"}, "starting_cash"),
        ({"name": "A", "starting_cash": True}, "starting_cash"),
        ({"name": "A", "currency": "EUR"}, "currency"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_opens_nothing(
    body: dict[str, object], field: str, client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(API, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert details[0]["field"] == field
    assert details[0]["reason"]
    assert (await client.get(API, headers=alice.headers)).json()["data"]["items"] == []


async def test_a_100_character_name_is_accepted(client: httpx.AsyncClient, alice: Account) -> None:
    assert (await open_account(client, alice, "x" * 100))["name"] == "x" * 100


Call = Callable[[httpx.AsyncClient, str, dict[str, str]], Awaitable[httpx.Response]]
_MOVE = {"amount": "1", "idempotency_key": "k"}
ENDPOINTS: dict[str, Call] = {
    "get_account": lambda c, a, h: c.get(f"{API}/{a}", headers=h),
    "update_account": lambda c, a, h: c.patch(f"{API}/{a}", json={"name": "Mine"}, headers=h),
    "deposit_to_account": lambda c, a, h: c.post(f"{API}/{a}/deposits", json=_MOVE, headers=h),
    "withdraw_from_account": lambda c, a, h: c.post(
        f"{API}/{a}/withdrawals", json=_MOVE, headers=h
    ),
    "reconcile_account": lambda c, a, h: c.get(f"{API}/{a}/reconcile", headers=h),
    "list_account_activities": lambda c, a, h: c.get(f"{API}/{a}/activities", headers=h),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
async def test_bob_gets_404_on_every_endpoint_of_alices_account_and_it_stays_unchanged(
    endpoint: str, client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    account = await open_account(client, alice, "Alice's", cash="500")
    before = await ledger(db, alice, account["id"])

    response = await ENDPOINTS[endpoint](client, account["id"], bob.headers)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "account_not_found"
    # nothing of the account leaks (the metadata's random request id may hold any digits)
    answer = response.json()
    shown = str({k: v for k, v in answer.items() if k != "metadata"})
    assert "Alice" not in response.text
    assert "500" not in shown

    after = await ledger(db, alice, account["id"])
    assert (after.account.name, after.account.cash) == ("Alice's", Decimal("500"))
    assert [t.id for t in after.transactions] == [t.id for t in before.transactions]


async def test_a_random_id_is_404_a_malformed_one_422_and_every_endpoint_needs_a_login(
    client: httpx.AsyncClient, alice: Account
) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"{API}/{missing}", headers=alice.headers)).status_code == 404
    malformed = await client.get(f"{API}/not-a-uuid", headers=alice.headers)
    assert malformed.status_code == 422
    assert malformed.json()["error"]["details"][0]["field"] == "account_id"
    assert (await client.get(API)).status_code == 401
    assert (await client.post(API, json={"name": "x"})).status_code == 401
    for call in ENDPOINTS.values():
        assert (await call(client, missing, {})).status_code == 401


async def test_accounts_are_independent(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    one = await open_account(client, alice, "One", cash="10")
    two = await open_account(client, alice, "Two")
    assert (await move(client, alice, two["id"], "deposits", "5", key="same")).status_code == 201
    # The same key on another account is another movement.
    assert (await move(client, alice, one["id"], "deposits", "5", key="same")).status_code == 201
    assert (await ledger(db, alice, one["id"])).account.cash == Decimal("15")
    assert (await ledger(db, alice, two["id"])).account.cash == Decimal("5")
