"""Paper orders through the API on both engines: market fills at the slipped quote (never better),
stale quotes rejected, resting limits filled by the matcher when the quote crosses (never better
than the quote), IOC cancels, day orders expire at the close, orders larger than the quote's
volume allows fill in parts (one per quote; IOC keeps the part, FOK takes nothing), client ids
are idempotent (twenty at once make one order), reservations hold and come back, and every fill
reconciles."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import Fetched
from quantdesk.market.providers.chain import FetchOutcome
from quantdesk.market.runtime import MarketRuntime
from quantdesk.models import Asset
from quantdesk.trading import orders
from quantdesk.trading.matcher import OrderMatcher
from tests.factories import Account, ensure_assets
from tests.market.engine.conftest import empty_engine_tables
from tests.trading.helpers import API, ledger, open_account

COIN = "TSTC-USD"  # crypto: trades around the clock, so no test depends on today's hours
STOCK = "TSTQ"  # an equity on the NYSE's calendar


@pytest.fixture
async def assets(db: Database) -> AsyncIterator[None]:
    """The test's coin and stock in the catalog, and an empty quote store before and after."""
    await empty_engine_tables(db)
    await ensure_assets(
        db, [(COIN, "Test coin", "crypto", None), (STOCK, "Test Inc", "equity", None)]
    )
    async with db.transaction() as session:
        await session.execute(update(Asset).where(Asset.symbol == STOCK).values(exchange="NYSE"))
    yield
    await empty_engine_tables(db)


async def _quote(
    db: Database, symbol: str, price: str, *, age_seconds: float = 0, volume: str | None = None
) -> None:
    """The store's quote of ``symbol``, as the engine would have written it (a new one each
    call: its ``as_of`` is now)."""
    at = utcnow() - timedelta(seconds=age_seconds)
    value = {"symbol": symbol, "price": price, "as_of": at.isoformat(), "source": "sim"}
    if volume is not None:
        value["volume"] = volume
    async with db.transaction(system=True) as session:
        await store.store_values(
            session, [Fetched(symbol, "quote", "sim", value, fetched_at=at)], ttls={"quote": 60}
        )


@pytest.fixture
def no_provider(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers that cannot answer now (a stale store stays stale)."""
    runtime: MarketRuntime = app.state.market

    async def unanswered(dataset: Any, query: Any = None, **_: Any) -> Any:
        return FetchOutcome(dataset=dataset.dataset, answered=False)

    monkeypatch.setattr(runtime, "fetch", unanswered)


async def _order(
    client: httpx.AsyncClient, user: Account, account_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"{API}/{account_id}/orders", json=body, headers=user.headers)


async def _account(client: httpx.AsyncClient, user: Account, cash: str = "10000") -> str:
    found = await open_account(client, user, cash=cash)
    return str(found["id"])


async def _detail(client: httpx.AsyncClient, user: Account, account_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/{account_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def _reconciled(client: httpx.AsyncClient, user: Account, account_id: str) -> bool:
    response = await client.get(f"{API}/{account_id}/reconcile", headers=user.headers)
    assert response.status_code == 200, response.text
    return bool(response.json()["data"]["balanced"])


async def test_a_market_buy_fills_at_the_slipped_quote_and_reconciles(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100")
    response = await _order(client, alice, account, symbol=COIN, side="buy", qty="10")
    assert response.status_code == 201, response.text
    order = response.json()["data"]
    assert order["status"] == "filled"
    assert order["filled_avg_price"] == "100.05"  # 5 bps against the buyer, never better
    (fill,) = order["fills"]
    assert (fill["qty"], fill["price"], fill["quote_price"], fill["quote_source"]) == (
        "10",
        "100.05",
        "100",
        "sim",
    )
    for step in ("created_at", "accepted_at", "filled_at"):
        assert order[step] is not None
    detail = await _detail(client, alice, account)
    assert D(detail["cash"]) == D("8999.50")
    assert D(detail["reserved"]) == 0
    (position,) = detail["positions"]
    assert (position["symbol"], D(position["qty"])) == (COIN, D(10))
    assert await _reconciled(client, alice, account)
    book = await ledger(db, alice, account)
    assert all(total == 0 for total in book.sums_per_transaction_and_instrument().values())


async def test_a_market_order_without_a_fresh_quote_is_rejected_quote_stale(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None, no_provider: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100", age_seconds=600)
    response = await _order(client, alice, account, symbol=COIN, side="buy", qty="1")
    assert response.status_code == 201, response.text
    order = response.json()["data"]
    assert (order["status"], order["reject_reason"]) == ("rejected", "quote_stale")
    assert order["rejected_at"] is not None
    assert "quote_stale" in response.json()["message"]
    detail = await _detail(client, alice, account)
    assert (D(detail["cash"]), D(detail["reserved"]), detail["positions"]) == (D(10000), 0, [])


async def test_a_resting_limit_fills_when_the_quote_crosses_never_better_than_either(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "105")
    response = await _order(
        client, alice, account, symbol=COIN, side="buy", type="limit", qty="2",
        limit_price="100", time_in_force="gtc",
    )  # fmt: skip
    order = response.json()["data"]
    assert order["status"] == "accepted"
    assert D(order["reserved_cash"]) == D("200.00")
    assert D((await _detail(client, alice, account))["reserved"]) == D("200.00")
    matcher = OrderMatcher(db, app.state.settings)
    assert (await matcher.run_round()).changed == {}  # 105 is above the limit
    await _quote(db, COIN, "90")
    assert (await matcher.run_round()).changed == {"filled": 1}
    found = (
        await client.get(f"{API}/{account}/orders/{order['id']}", headers=alice.headers)
    ).json()
    filled = found["data"]
    assert (filled["status"], filled["filled_avg_price"]) == ("filled", "100")  # the worse: 100
    assert D(filled["fills"][0]["price"]) >= D("90")
    detail = await _detail(client, alice, account)
    assert (D(detail["cash"]), D(detail["reserved"])) == (D("9800.00"), 0)
    assert await _reconciled(client, alice, account)
    assert (await matcher.run_round()).changed == {}  # a fill is applied once


async def test_an_ioc_order_that_cannot_fill_at_once_is_canceled_and_releases(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "105")
    response = await _order(
        client, alice, account, symbol=COIN, side="buy", type="limit", qty="1",
        limit_price="100", time_in_force="ioc",
    )  # fmt: skip
    order = response.json()["data"]
    assert (order["status"], order["canceled_at"] is not None) == ("canceled", True)
    assert D((await _detail(client, alice, account))["reserved"]) == 0


async def test_a_day_order_expires_at_its_exchange_s_close(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, STOCK, "50")
    response = await _order(
        client, alice, account, symbol=STOCK, side="buy", type="limit", qty="1",
        limit_price="40",
    )  # fmt: skip
    order = response.json()["data"]
    assert order["status"] == "accepted"
    closes = datetime.fromisoformat(order["expires_at"])
    assert closes.astimezone(UTC).hour in (18, 21)  # the NYSE's close (early or not), in UTC
    worked = await orders.work_open_order(
        db, app.state.settings, order_id=uuid.UUID(order["id"]), owner_id=alice.user.id,
        account_id=uuid.UUID(account), quote=None, now=closes + timedelta(seconds=1),
    )  # fmt: skip
    assert worked == "expired"
    detail = await _detail(client, alice, account)
    assert D(detail["reserved"]) == 0


async def test_a_client_order_id_makes_one_order_however_often_it_is_sent(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100")
    body = {"symbol": COIN, "side": "buy", "qty": "1", "client_order_id": "my-order-1"}
    answers = await asyncio.gather(*(_order(client, alice, account, **body) for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    other = await _order(client, alice, account, **{**body, "qty": "2"})
    assert other.status_code == 409
    assert other.json()["error"]["details"][0]["field"] == "client_order_id"
    detail = await _detail(client, alice, account)
    assert D(detail["positions"][0]["qty"]) == 1  # bought once
    assert await _reconciled(client, alice, account)


async def test_orders_beyond_buying_power_or_holdings_are_refused_and_store_nothing(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice, cash="100")
    await _quote(db, COIN, "100")
    too_dear = await _order(client, alice, account, symbol=COIN, side="buy", qty="2")
    assert too_dear.status_code == 422
    assert too_dear.json()["error"]["details"][0]["reason"] == "insufficient_funds"
    not_held = await _order(client, alice, account, symbol=COIN, side="sell", qty="1")
    assert not_held.status_code == 422
    assert not_held.json()["error"]["details"][0]["reason"] == "insufficient_quantity"
    listed = await client.get(f"{API}/{account}/orders?status=all", headers=alice.headers)
    assert listed.json()["data"]["count"] == 0
    assert D((await _detail(client, alice, account))["cash"]) == D(100)


async def test_bad_orders_get_a_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    both = await _order(client, alice, account, symbol=COIN, side="buy", qty="1", notional="5")
    assert both.status_code == 422
    no_limit = await _order(client, alice, account, symbol=COIN, side="buy", type="limit", qty="1")
    assert no_limit.status_code == 422
    assert "limit_price" in no_limit.text
    unknown = await _order(client, alice, account, symbol="NOPE-XYZ", side="buy", qty="1")
    assert unknown.status_code == 404


async def test_cancel_releases_a_resting_order_and_refuses_a_closed_one(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100")
    resting = (
        await _order(
            client, alice, account, symbol=COIN, side="buy", type="limit", qty="1",
            limit_price="50", time_in_force="gtc",
        )
    ).json()["data"]  # fmt: skip
    canceled = await client.delete(f"{API}/{account}/orders/{resting['id']}", headers=alice.headers)
    assert canceled.status_code == 200
    assert canceled.json()["data"]["status"] == "canceled"
    assert D((await _detail(client, alice, account))["reserved"]) == 0
    again = await client.delete(f"{API}/{account}/orders/{resting['id']}", headers=alice.headers)
    assert again.status_code == 422


async def test_sell_and_close_a_position_realizes_the_gain(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100")
    await _order(client, alice, account, symbol=COIN, side="buy", qty="4")
    await _quote(db, COIN, "120")
    closed = await client.delete(f"{API}/{account}/positions/{COIN}", headers=alice.headers)
    assert closed.status_code == 201, closed.text
    sale = closed.json()["data"]
    assert (sale["side"], sale["status"], sale["filled_avg_price"]) == ("sell", "filled", "119.94")
    detail = await _detail(client, alice, account)
    assert detail["positions"] == []
    # Bought 4 at 100.05 (400.20), sold at 119.94 (479.76): cash 10,000 - 400.20 + 479.76.
    assert D(detail["cash"]) == D("10079.56")
    assert await _reconciled(client, alice, account)


async def test_positions_are_valued_at_the_engine_s_latest_quote(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100")
    await _order(client, alice, account, symbol=COIN, side="buy", qty="10")
    await _quote(db, COIN, "120")
    detail = await _detail(client, alice, account)
    (position,) = detail["positions"]
    assert (position["price"], position["price_source"], position["quote_source"]) == (
        "120",
        "quote",
        "sim",
    )
    assert position["price_stale"] is False
    assert (D(position["market_value"]), D(position["unrealized_pnl"])) == (D(1200), D("199.50"))
    assert D(detail["equity"]) == D("8999.50") + D(1200)


# 2.5 % (the default share) of a $40,000 volume at $100: 10 coins per quote.
THIN = "40000"


async def test_an_order_beyond_the_quote_s_volume_fills_in_parts_one_per_quote(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100", volume=THIN)
    response = await _order(client, alice, account, symbol=COIN, side="buy", qty="25")
    assert response.status_code == 201, response.text
    order = response.json()["data"]
    assert (order["status"], D(order["filled_qty"])) == ("partially_filled", D(10))
    # the rest (15 at the slipped 100.05) is set aside; 10 are bought
    detail = await _detail(client, alice, account)
    assert (D(detail["cash"]), D(detail["reserved"])) == (D("8999.50"), D("1500.75"))
    matcher = OrderMatcher(db, app.state.settings)
    assert (await matcher.run_round()).changed == {}  # one fill per quote: this one is taken
    await _quote(db, COIN, "101", volume=THIN)
    assert (await matcher.run_round()).changed == {"partially_filled": 1}
    await _quote(db, COIN, "100", volume=THIN)
    assert (await matcher.run_round()).changed == {"filled": 1}
    found = (
        await client.get(f"{API}/{account}/orders/{order['id']}", headers=alice.headers)
    ).json()["data"]
    # 2.5 % of 40,000 / 101 = 9.900990099 coins at the second quote; the last 5.099009901 at
    # the third
    fills = [(D(f["qty"]), D(f["price"])) for f in found["fills"]]
    assert fills == [
        (D(10), D("100.05")),
        (D("9.900990099"), D("101.0505")),
        (D("5.099009901"), D("100.05")),
    ]
    assert (found["status"], D(found["filled_qty"])) == ("filled", D(25))
    assert found["filled_at"] is not None
    average = sum(qty * price for qty, price in fills) / 25
    assert D(found["filled_avg_price"]) == average.quantize(D("0.000001"))
    paid = sum(D(f["gross"]) for f in found["fills"])
    detail = await _detail(client, alice, account)
    assert (D(detail["cash"]), D(detail["reserved"])) == (D(10_000) - paid, 0)
    assert await _reconciled(client, alice, account)
    book = await ledger(db, alice, account)
    assert all(total == 0 for total in book.sums_per_transaction_and_instrument().values())


async def test_ioc_keeps_the_part_that_fills_fok_takes_nothing_and_cancel_keeps_the_fills(
    client: httpx.AsyncClient, db: Database, alice: Account, assets: None
) -> None:
    account = await _account(client, alice)
    await _quote(db, COIN, "100", volume=THIN)
    ioc = (
        await _order(client, alice, account, symbol=COIN, side="buy", qty="25", time_in_force="ioc")
    ).json()["data"]
    assert (ioc["status"], D(ioc["filled_qty"]), ioc["canceled_at"] is not None) == (
        "canceled",
        D(10),
        True,
    )
    assert "the rest canceled" in ioc["status_message"]
    fok = await _order(
        client, alice, account, symbol=COIN, side="buy", qty="25", time_in_force="fok"
    )
    assert fok.status_code == 201, fok.text
    assert (fok.json()["data"]["status"], D(fok.json()["data"]["filled_qty"])) == ("canceled", 0)
    assert "not fillable in full" in fok.json()["data"]["status_message"]
    detail = await _detail(client, alice, account)
    assert (D(detail["cash"]), D(detail["reserved"])) == (D("8999.50"), 0)  # the IOC's 10 only
    whole = await _order(
        client, alice, account, symbol=COIN, side="buy", qty="5", time_in_force="fok"
    )
    assert whole.json()["data"]["status"] == "filled"
    part = (
        await _order(
            client, alice, account, symbol=COIN, side="sell", qty="12", time_in_force="gtc"
        )
    ).json()["data"]
    assert (part["status"], D(part["filled_qty"]), D(part["reserved_qty"])) == (
        "partially_filled",
        D(10),
        D(2),
    )
    canceled = await client.delete(f"{API}/{account}/orders/{part['id']}", headers=alice.headers)
    assert canceled.json()["data"]["status"] == "canceled"
    assert D(canceled.json()["data"]["filled_qty"]) == D(10)
    (position,) = (await _detail(client, alice, account))["positions"]
    assert (D(position["qty"]), D(position["reserved_qty"])) == (D(5), 0)
    assert await _reconciled(client, alice, account)
