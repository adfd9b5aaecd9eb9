"""Deposits and withdrawals: exact amounts, one movement per idempotency key, no overdraft."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from quantdesk.kit.db import Database
from tests.factories import Account
from tests.trading.helpers import API, assert_invariants, ledger, move, open_account


async def test_deposit_then_withdraw_moves_cash_through_the_journal(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice)
    deposit = await move(client, alice, account["id"], "deposits", "100.25", key="d1")
    assert deposit.status_code == 201, deposit.text
    assert "idempotent-replayed" not in deposit.headers
    data = deposit.json()["data"]
    assert (data["kind"], data["activity_type"], data["net_amount"]) == ("deposit", "CSD", "100.25")
    assert data["replayed"] is False
    assert data["idempotency_key"] == "d1"
    assert {(e["book"], e["amount"]) for e in data["entries"]} == {
        ("cash", "100.25"),
        ("counterparty", "-100.25"),
    }
    withdrawal = await move(client, alice, account["id"], "withdrawals", "0.25", key="w1")
    assert withdrawal.status_code == 201, withdrawal.text
    assert withdrawal.json()["data"]["net_amount"] == "-0.25"
    detail = (await client.get(f"{API}/{account['id']}", headers=alice.headers)).json()["data"]
    assert detail["cash"] == "100"
    stored = await assert_invariants(db, alice, account["id"])
    assert [t.kind for t in stored.transactions] == ["deposit", "withdrawal"]


async def test_amounts_are_exact_decimals_never_floats(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice)
    for _ in range(10):  # 0.1 ten times is 1 exactly, unlike in floating point
        body = {"amount": 0.1, "idempotency_key": f"k{_}"}
        response = await client.post(
            f"{API}/{account['id']}/deposits", json=body, headers=alice.headers
        )
        assert response.status_code == 201, response.text
    assert (await ledger(db, alice, account["id"])).account.cash == Decimal("1")
    big = await move(client, alice, account["id"], "deposits", "999999999999.99")
    assert big.status_code == 201, big.text
    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == Decimal("1000000000000.99")


async def test_the_same_key_and_amount_replays_the_original(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice)
    first = await move(client, alice, account["id"], "deposits", "50", key="retry-me")
    again = await move(client, alice, account["id"], "deposits", "50.00", key="retry-me")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    replay = again.json()
    assert replay["data"]["replayed"] is True
    assert replay["metadata"]["replayed"] is True
    assert replay["data"]["id"] == first.json()["data"]["id"]
    assert replay["data"]["created_at"] == first.json()["data"]["created_at"]
    stored = await assert_invariants(db, alice, account["id"])
    assert len(stored.transactions) == 1
    assert stored.account.cash == Decimal("50")


@pytest.mark.parametrize(
    ("kind", "amount"), [("deposits", "51"), ("withdrawals", "50"), ("withdrawals", "1")]
)
async def test_the_same_key_for_another_movement_is_a_409_naming_the_key(
    kind: str, amount: str, client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="100")
    assert (await move(client, alice, account["id"], "deposits", "50", key="k-1")).is_success
    response = await move(client, alice, account["id"], kind, amount, key="k-1")
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "k-1" in response.json()["message"]
    assert error["details"][0]["field"] == "idempotency_key"
    assert "a deposit of 50" in error["details"][0]["reason"]
    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == Decimal("150")
    assert len(stored.transactions) == 2


async def test_twenty_identical_requests_at_once_make_one_deposit(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice)
    responses = await asyncio.gather(
        *(move(client, alice, account["id"], "deposits", "25", key="once") for _ in range(20))
    )
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["data"]["id"] for r in responses}) == 1
    assert sum(r.json()["data"]["replayed"] for r in responses) == 19
    stored = await assert_invariants(db, alice, account["id"])
    assert len(stored.transactions) == 1
    assert stored.account.cash == Decimal("25")


async def test_twenty_identical_withdrawals_at_once_make_one(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="30")
    responses = await asyncio.gather(
        *(move(client, alice, account["id"], "withdrawals", "20", key="w") for _ in range(20))
    )
    # Without the key, only one of these could be paid anyway; with it, the others are replays
    # of that one, not refusals.
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == Decimal("10")


async def test_a_withdrawal_beyond_buying_power_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="100")
    response = await move(client, alice, account["id"], "withdrawals", "100.01", key="too-much")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "insufficient_funds"
    assert body["error"]["details"] == [{"field": "amount", "reason": "insufficient_funds"}]
    assert "100" in body["message"]
    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == Decimal("100")
    assert [t.kind for t in stored.transactions] == ["deposit"]
    # The key was not spent by the refusal: once there is money, the same key works.
    assert (await move(client, alice, account["id"], "deposits", "1")).is_success
    retry = await move(client, alice, account["id"], "withdrawals", "100.01", key="too-much")
    assert retry.status_code == 201, retry.text
    assert (await assert_invariants(db, alice, account["id"])).account.cash == Decimal("0.99")


async def test_everything_can_be_withdrawn_but_not_a_cent_more(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="0.01")
    assert (await move(client, alice, account["id"], "withdrawals", "0.01")).status_code == 201
    assert (await move(client, alice, account["id"], "withdrawals", "0.01")).status_code == 422
    assert (await assert_invariants(db, alice, account["id"])).account.cash == Decimal("0")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "10"}, "idempotency_key"),
        ({"amount": "10", "idempotency_key": ""}, "idempotency_key"),
        ({"amount": "10", "idempotency_key": "k" * 129}, "idempotency_key"),
        ({"amount": "10", "idempotency_key": "a\x00b"}, "idempotency_key"),
        ({"idempotency_key": "k"}, "amount"),
        ({"amount": "0", "idempotency_key": "k"}, "amount"),
        ({"amount": "-5", "idempotency_key": "k"}, "amount"),
        ({"amount": "10.001", "idempotency_key": "k"}, "amount"),
        ({"amount": 0.1 + 0.2, "idempotency_key": "k"}, "amount"),
        ({"amount": "1000000000000.01", "idempotency_key": "k"}, "amount"),
        ({"amount": "Infinity", "idempotency_key": "k"}, "amount"),
        ({"amount": "ten", "idempotency_key": "k"}, "amount"),
        ({"amount": "10", "idempotency_key": "k", "memo": "x" * 501}, "memo"),
        ({"amount": "10", "idempotency_key": "k", "extra": 1}, "extra"),
    ],
)
@pytest.mark.parametrize("kind", ["deposits", "withdrawals"])
async def test_bad_input_is_a_422_naming_the_field_and_moves_nothing(
    kind: str,
    body: dict[str, object],
    field: str,
    client: httpx.AsyncClient,
    db: Database,
    alice: Account,
) -> None:
    account = await open_account(client, alice, cash="100")
    response = await client.post(f"{API}/{account['id']}/{kind}", json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert details[0]["field"] == field
    assert details[0]["reason"]
    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == Decimal("100")
    assert len(stored.transactions) == 1


async def test_a_key_of_128_characters_and_a_memo_are_kept(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice)
    key = "k" * 128
    body = {"amount": "5", "idempotency_key": key, "memo": "payday"}
    response = await client.post(
        f"{API}/{account['id']}/deposits", json=body, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["memo"] == "payday"
    [stored] = (await ledger(db, alice, account["id"])).transactions
    assert (stored.idempotency_key, stored.memo) == (key, "payday")


async def test_an_empty_memo_is_no_memo(client: httpx.AsyncClient, alice: Account) -> None:
    """Found by the API fuzzer: "" passed the schema and then the journal refused it (a 500)."""
    account = await open_account(client, alice)
    body = {"amount": "5", "idempotency_key": "empty-memo", "memo": ""}
    response = await client.post(
        f"{API}/{account['id']}/deposits", json=body, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["memo"] is None
