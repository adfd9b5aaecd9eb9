"""Many movements on one account at once: cash never negative, every movement applied once,
the journal balanced and reconciled afterwards."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import httpx

from quantdesk.kit.db import Database
from tests.factories import Account
from tests.trading.helpers import API, assert_invariants, move, open_account

MOVEMENTS = 200


async def test_200_concurrent_deposits_and_withdrawals_never_overdraw(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    account = await open_account(client, alice, cash="500")
    rng = random.Random(7)
    plan = [
        ("deposits" if rng.random() < 0.4 else "withdrawals", f"{rng.randint(1, 30000) / 100:.2f}")
        for _ in range(MOVEMENTS)
    ]
    asked = {
        kind: sum(Decimal(a) for k, a in plan if k == kind) for kind in ("deposits", "withdrawals")
    }
    assert asked["withdrawals"] > 500 + asked["deposits"]  # so some must be refused
    responses = await asyncio.gather(
        *(move(client, alice, account["id"], kind, amount) for kind, amount in plan)
    )
    paid = Decimal(0)
    refused = 0
    for (kind, amount), response in zip(plan, responses, strict=True):
        if response.status_code == 422:
            assert kind == "withdrawals"
            assert response.json()["error"]["code"] == "insufficient_funds"
            refused += 1
            continue
        assert response.status_code == 201, response.text
        paid += Decimal(amount) if kind == "deposits" else -Decimal(amount)
    assert 0 < refused < MOVEMENTS

    stored = await assert_invariants(db, alice, account["id"])
    assert stored.account.cash == Decimal(500) + paid
    assert len(stored.transactions) == 1 + MOVEMENTS - refused
    # In posting order (entry ids), the running cash balance never dipped below zero.
    running = Decimal(0)
    for entry in stored.entries:
        if entry.book == "cash":
            running += entry.amount
            assert running >= 0
    report = (await client.get(f"{API}/{account['id']}/reconcile", headers=alice.headers)).json()
    assert report["data"]["balanced"] is True
    assert report["data"]["cash_ledger"] == report["data"]["cash_balance"]


async def test_concurrent_movements_on_two_accounts_do_not_mix(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    mine = await open_account(client, alice, cash="100")
    theirs = await open_account(client, bob, cash="100")
    calls = [move(client, alice, mine["id"], "withdrawals", "1") for _ in range(30)]
    calls += [move(client, bob, theirs["id"], "deposits", "1") for _ in range(30)]
    responses = await asyncio.gather(*calls)
    assert {r.status_code for r in responses} == {201}
    assert (await assert_invariants(db, alice, mine["id"])).account.cash == Decimal(70)
    assert (await assert_invariants(db, bob, theirs["id"])).account.cash == Decimal(130)
