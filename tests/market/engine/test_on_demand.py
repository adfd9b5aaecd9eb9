"""GET market/data/{symbol} while the engine or a data type is off: a stale (or missing) value is
fetched on demand through the provider chain (the test app's is ``sim``), outside any
transaction and within QUANTDESK_MARKET_READ_BUDGET_SECONDS; stored, and returned with its
source. While both are on nothing is fetched: the refresh is queued."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from quantdesk.kit.db import Database
from quantdesk.market.providers.chain import FetchOutcome
from quantdesk.market.runtime import MarketRuntime
from tests.factories import Account

DATA = "/api/v1/market/data"


class FetchSpy:
    """The app's ``MarketRuntime.fetch``, counted, optionally slowed down or unanswered; checks
    that no database connection is held while the providers are asked."""

    def __init__(self, runtime: MarketRuntime, db: Database) -> None:
        self.runtime, self.db = runtime, db
        self.original = runtime.fetch
        self.calls: list[str] = []
        self.held: list[int] = []
        self.delay = 0.0
        self.answer = True

    async def __call__(self, dataset: Any, query: Any = None, **kwargs: Any) -> Any:
        self.calls.append(str(getattr(dataset, "dataset", dataset)))
        self.held.append(sum(self.db.pool_status().values()))
        await asyncio.sleep(self.delay)
        if not self.answer:
            return FetchOutcome(dataset=dataset.dataset, answered=False)
        return await self.original(dataset, query, **kwargs)


@pytest.fixture
def spy(app: FastAPI, restore_registry: Database, monkeypatch: pytest.MonkeyPatch) -> FetchSpy:
    runtime: MarketRuntime = app.state.market
    found = FetchSpy(runtime, restore_registry)
    monkeypatch.setattr(runtime, "fetch", found)
    return found


@pytest.fixture
def budget(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime: MarketRuntime = app.state.market
    short = runtime.settings.model_copy(update={"market_read_budget_seconds": 0.3})
    monkeypatch.setattr(runtime, "settings", short)


async def _engine(db: Database, *, on: bool) -> None:
    async with db.transaction(system=True) as session:
        await session.execute(text("UPDATE market_flags SET enabled = :on"), {"on": on})


async def _type(db: Database, name: str, *, on: bool) -> None:
    async with db.transaction(system=True) as session:
        await session.execute(
            text("UPDATE market_data_types SET enabled = :on WHERE name = :n"),
            {"on": on, "n": name},
        )


async def _stored(db: Database) -> dict[tuple[str, str], str]:
    async with db.transaction(system=True, readonly=True) as session:
        rows = await session.execute(text("SELECT symbol, data_type, provider FROM market_values"))
        return {(s, t): p for s, t, p in rows.all()}


async def _pending(db: Database) -> list[tuple[str, str]]:
    async with db.transaction(system=True, readonly=True) as session:
        rows = await session.execute(
            text("SELECT symbol, data_type FROM market_refresh_queue WHERE status = 'pending'")
        )
        return sorted((s, t) for s, t in rows.all())


async def _get(client: httpx.AsyncClient, account: Account, types: str) -> dict[str, Any]:
    response = await client.get(f"{DATA}/msft", params={"types": types}, headers=account.headers)
    assert response.status_code == 200, response.text
    return {v["data_type"]: v for v in response.json()["data"]["values"]}


async def test_engine_off_fetches_stores_and_labels_sim(
    client: httpx.AsyncClient, spy: FetchSpy, alice: Account
) -> None:
    await _engine(spy.db, on=False)

    values = await _get(client, alice, "quote,financial-statements,dividend-history")

    for data_type in ("quote", "financial-statements", "dividend-history"):
        value = values[data_type]
        assert (value["stale"], value["queued"], value["on_demand"]) == (False, False, "fetched")
        assert value["source"] == "sim"
        assert value["as_of"] is not None
    assert values["quote"]["value"]["source"] == "sim"
    assert len(values["financial-statements"]["value"]) == 5  # StatementsQuery's default
    assert sorted(spy.calls) == ["dividend-history", "financial-statements", "quote"]
    assert spy.held == [0, 0, 0]  # no transaction open while the providers are asked
    assert await _stored(spy.db) == {
        ("MSFT", "quote"): "sim",
        ("MSFT", "financial-statements"): "sim",
        ("MSFT", "dividend-history"): "sim",
    }
    assert await _pending(spy.db) == []

    again = await _get(client, alice, "quote")  # fresh now: served from the store
    assert (again["quote"]["stale"], again["quote"]["on_demand"]) == (False, None)
    assert len(spy.calls) == 3


async def test_engine_on_fetches_nothing_and_queues(
    client: httpx.AsyncClient, spy: FetchSpy, alice: Account
) -> None:
    values = await _get(client, alice, "quote,profile")

    for value in values.values():
        assert (value["stale"], value["queued"], value["on_demand"]) == (True, True, None)
    assert spy.calls == []
    assert await _stored(spy.db) == {}
    assert await _pending(spy.db) == [("MSFT", "profile"), ("MSFT", "quote")]


async def test_a_type_off_is_fetched_on_demand_while_the_engine_queues_the_others(
    client: httpx.AsyncClient, spy: FetchSpy, alice: Account
) -> None:
    await _type(spy.db, "ratios-ttm", on=False)

    values = await _get(client, alice, "quote,ratios-ttm")

    assert (values["quote"]["queued"], values["quote"]["on_demand"]) == (True, None)
    ratios = values["ratios-ttm"]
    assert (ratios["stale"], ratios["queued"], ratios["on_demand"]) == (False, False, "fetched")
    assert ratios["source"] == "sim"
    assert spy.calls == ["ratios-ttm"]
    assert await _stored(spy.db) == {("MSFT", "ratios-ttm"): "sim"}
    assert await _pending(spy.db) == [("MSFT", "quote")]


async def test_past_the_budget_the_value_is_stale_and_the_late_answer_is_stored(
    client: httpx.AsyncClient, spy: FetchSpy, budget: None, alice: Account
) -> None:
    await _engine(spy.db, on=False)
    spy.delay = 0.8

    values = await _get(client, alice, "quote")

    quote = values["quote"]
    assert (quote["stale"], quote["on_demand"], quote["value"]) == (True, "timed_out", None)
    for _ in range(50):  # the fetch goes on after the answer, and stores what it gets
        if await _stored(spy.db):
            break
        await asyncio.sleep(0.1)
    assert await _stored(spy.db) == {("MSFT", "quote"): "sim"}
    spy.delay = 0.0
    again = await _get(client, alice, "quote")
    assert (again["quote"]["stale"], again["quote"]["source"]) == (False, "sim")
    assert len(spy.calls) == 1


async def test_readers_of_one_pair_share_one_fetch_and_an_unanswered_one_says_so(
    client: httpx.AsyncClient, spy: FetchSpy, alice: Account, bob: Account
) -> None:
    await _engine(spy.db, on=False)
    spy.delay = 0.3

    first, second = await asyncio.gather(_get(client, alice, "quote"), _get(client, bob, "quote"))

    assert first["quote"]["on_demand"] == second["quote"]["on_demand"] == "fetched"
    assert spy.calls == ["quote"]

    spy.delay, spy.answer = 0.0, False  # every provider passed over (quota, breakers)
    profile = (await _get(client, alice, "profile"))["profile"]
    assert (profile["stale"], profile["on_demand"], profile["value"]) == (True, "unanswered", None)
    assert ("MSFT", "profile") not in await _stored(spy.db)


async def test_a_value_fetched_on_demand_reaches_its_watchers(
    app: FastAPI, client: httpx.AsyncClient, spy: FetchSpy, alice: Account
) -> None:
    await _engine(spy.db, on=False)
    async with app.state.bus.subscribe("market:quote:MSFT") as subscription:
        await _get(client, alice, "quote")
        pushed = await subscription.get(wait=1.0)
    assert pushed is not None
    assert (pushed["type"], pushed["symbol"], pushed["source"]) == ("data", "MSFT", "sim")
    assert pushed["value"]["price"]


async def test_a_fresh_value_for_work_that_cannot_wait_is_fetched_whatever_the_engine(
    app: FastAPI, spy: FetchSpy
) -> None:
    from quantdesk.market.engine.reads import fresh_value

    async def ask(max_age: float) -> Any:
        return await fresh_value(
            spy.db, runtime=app.state.market, symbol="MSFT", data_type="quote",
            max_age_seconds=max_age, budget_seconds=2.0,
        )  # fmt: skip

    first = await ask(60)  # the engine is on, yet nothing is queued: fetched now
    assert (first.stale, first.source) == (False, "sim")
    assert spy.calls == ["quote"]
    assert await _pending(spy.db) == []
    again = await ask(60)  # young enough: the stored one, no call
    assert again.as_of == first.as_of
    assert spy.calls == ["quote"]
    await asyncio.sleep(1.1)
    newer = await ask(1)  # older than a second now: fetched again
    assert newer.as_of is not None
    assert first.as_of is not None
    assert newer.as_of > first.as_of
    assert spy.calls == ["quote", "quote"]
