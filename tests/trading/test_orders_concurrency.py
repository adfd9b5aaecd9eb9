"""1,000 orders, deposits and withdrawals on one account at once, through the API (both engines):
cash never negative, every refused request stores nothing, the journal sums to zero per
transaction and instrument, reconcile finds no difference, and every fill is applied exactly once
(one journal transaction per fill, one fill per filled order)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.models import JournalTransaction, PaperFill, PaperOrder
from tests.factories import Account, ensure_assets
from tests.market.engine.conftest import empty_engine_tables
from tests.trading.helpers import API, assert_invariants, move, open_account
from tests.trading.test_orders import COIN, _quote

REQUESTS = 1_000
IN_FLIGHT = 50  # what one client's connection pool would allow


@pytest.fixture
async def coin(db: Database) -> AsyncIterator[None]:
    await empty_engine_tables(db)
    await ensure_assets(db, [(COIN, "Test coin", "crypto", None)])
    await _quote(db, COIN, "10")
    yield
    await empty_engine_tables(db)


async def test_1000_concurrent_orders_deposits_and_withdrawals_keep_the_ledger_honest(
    client: httpx.AsyncClient, db: Database, alice: Account, coin: None
) -> None:
    account = await open_account(client, alice, cash="2000")
    account_id = str(account["id"])
    rng = random.Random(11)
    plan: list[tuple[str, str]] = []
    for _ in range(REQUESTS):
        roll = rng.random()
        if roll < 0.35:
            plan.append(("buy", str(rng.randint(1, 20))))
        elif roll < 0.55:
            plan.append(("sell", str(rng.randint(1, 10))))
        elif roll < 0.75:
            plan.append(("deposits", f"{rng.randint(1, 5000) / 100:.2f}"))
        else:
            plan.append(("withdrawals", f"{rng.randint(1, 20000) / 100:.2f}"))
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def once(kind: str, amount: str, key: str) -> httpx.Response:
        async with gate:
            if kind in ("deposits", "withdrawals"):
                return await move(client, alice, account_id, kind, amount, key=key)
            body = {"symbol": COIN, "side": kind, "qty": amount, "client_order_id": key}
            return await client.post(f"{API}/{account_id}/orders", json=body, headers=alice.headers)

    async def send(kind: str, amount: str) -> httpx.Response:
        """As a client does: a 503 (SQLite's writer busy past its wait) is retried with the same
        key, which the idempotency rules make safe."""
        key = uuid.uuid4().hex
        for _ in range(20):
            answer = await once(kind, amount, key)
            if answer.status_code != 503:
                return answer
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        return answer

    answers = await asyncio.gather(*(send(kind, amount) for kind, amount in plan))
    outcomes: Counter[str] = Counter()
    for (kind, _), answer in zip(plan, answers, strict=True):
        if answer.status_code == 422:
            reason = answer.json()["error"]["details"][0]["reason"]
            assert reason in ("insufficient_funds", "insufficient_quantity"), answer.text
            outcomes[f"{kind} refused"] += 1
            continue
        assert answer.status_code in (200, 201), answer.text  # 200: a retry's replay
        if kind in ("buy", "sell"):
            assert answer.json()["data"]["status"] == "filled"
        outcomes[kind] += 1
    # The plan overdraws on purpose: some of each kind are refused, most go through.
    assert outcomes["withdrawals refused"] > 0
    assert outcomes["sell refused"] > 0
    assert outcomes["buy"] > 0
    assert outcomes["sell"] > 0

    stored = await assert_invariants(db, alice, account_id)
    async with db.transaction(user_id=alice.user.id, readonly=True) as session:
        orders = (await session.execute(select(PaperOrder))).scalars().all()
        fills = (await session.execute(select(PaperFill))).scalars().all()
        fill_postings = (
            (
                await session.execute(
                    select(JournalTransaction).where(JournalTransaction.kind == "fill")
                )
            )
            .scalars()
            .all()
        )
    assert len(orders) == outcomes["buy"] + outcomes["sell"]  # refused orders stored nothing
    assert len(fills) == len(orders)
    assert Counter(f.order_id for f in fills) == Counter({o.id: 1 for o in orders})
    assert sorted(t.idempotency_key for t in fill_postings) == sorted(f"fill:{f.id}" for f in fills)
    assert stored.account.reserved == 0  # nothing left reserved: every order filled at once
    held = sum((f.qty if f.side == "buy" else -f.qty for f in fills), Decimal(0))
    (position,) = stored.positions
    assert position.qty == held
