"""The refresh worker against FMP's real adapter and recorded answers on a local fake server:
batched calls, values stored and pushed, refusals (429) that spend the window without a breaker
failure and fall back, failures that back off, and flags that stop every call (both engines)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.events import InProcessEventBus
from quantdesk.kit.orm import utcnow
from quantdesk.market import datatypes, quota, watching
from quantdesk.market.engine import store
from quantdesk.market.engine.refresher import Refresher
from quantdesk.market.engine.schemas import RefreshItem, RetryPolicy
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import DataTypeUpdate
from quantdesk.models import RefreshRequest
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.engine.support import enqueue
from tests.market.providers.recordings import recorded, recorded_body

SYMBOLS = ("AAPL", "MSFT", "NVDA")


def _quotes(symbols: tuple[str, ...]) -> list[dict[str, object]]:
    """FMP's recorded batch-quote entry, once per symbol (prices told apart)."""
    (entry,) = recorded_body("fmp/quote_stable_AAPL.json")
    found = []
    for index, symbol in enumerate(symbols):
        item = copy.deepcopy(entry)
        item.update(symbol=symbol, price=100 + index)
        found.append(item)
    return found


def _settings(settings: Settings, fake: FakeHttpServer, *providers: str) -> Settings:
    return settings.model_copy(
        update={
            "providers": list(providers or ("fmp",)),
            "fmp_base_url": fake.url,
            "fmp_api_key": SecretStr("FMPKEY"),
            "fmp_timeout_seconds": 2.0,
            "fmp_requests_per_minute": 60.0,
            "fmp_requests_per_day": 250,
        }
    )


@pytest.fixture
async def runtime(
    edb: Database, settings: Settings, fake: FakeHttpServer
) -> AsyncIterator[MarketRuntime]:
    market = MarketRuntime(_settings(settings, fake), db=edb)
    yield market
    await market.aclose()


def _refreshes(outcome: str) -> float:
    labels = {"provider": "fmp", "data_type": "quote", "outcome": outcome}
    return REGISTRY.get_sample_value("quantdesk_market_refreshes_total", labels) or 0.0


async def _rows(db: Database) -> dict[str, RefreshRequest]:
    async with db.transaction(system=True, readonly=True) as session:
        found = (await session.execute(select(RefreshRequest))).scalars().all()
        return {f"{r.symbol}:{r.data_type}": r for r in found}


async def _stored(db: Database, symbol: str, data_type: str = "quote") -> store.StoredValue:
    async with db.transaction(system=True, readonly=True) as session:
        (value,) = await store.read_values(
            session, [(symbol, data_type)], ttls={data_type: 60}, now=utcnow()
        )
    return value


async def test_a_round_batches_the_quotes_stores_and_pushes_them(
    edb: Database, runtime: MarketRuntime, fake: FakeHttpServer
) -> None:
    fake.add("/stable/batch-quote", Reply(body=_quotes(SYMBOLS)))
    await enqueue(edb, [RefreshItem(s, "quote", 50) for s in SYMBOLS], utcnow())
    before = _refreshes("completed")
    bus = InProcessEventBus()
    async with bus.subscribe(watching.channel("MSFT", "quote")) as subscription:
        done = await Refresher(edb, runtime, bus).run_round()
        pushed = await subscription.get(wait=1.0)
    assert (done.claimed, done.completed, done.calls) == (3, 3, 1)
    assert _refreshes("completed") == before + 3  # quantdesk_market_refreshes_total
    (request,) = fake.requests("/stable/batch-quote")  # three symbols, one call
    assert request.query["symbols"].split(",") == sorted(SYMBOLS)
    msft = await _stored(edb, "MSFT")
    assert msft.source == "fmp"
    assert msft.value["price"] == "101"
    assert not msft.stale
    assert pushed is not None
    assert pushed["type"] == "data"
    assert pushed["symbol"] == "MSFT"
    assert pushed["source"] == "fmp"
    assert pushed["value"]["price"] == "101"
    rows = await _rows(edb)
    assert {r.status for r in rows.values()} == {"completed"}
    # The claim debited one call for the batch, and the worker did not ask the gate again.
    async with edb.transaction(system=True, readonly=True) as session:
        seen = await quota.usage(
            session, "fmp", limits=quota.limits_for(runtime.settings, "fmp"), now=utcnow()
        )
    assert seen["minute"]["used"] == 1


async def test_a_symbol_the_provider_does_not_know_is_stored_as_nothing_there(
    edb: Database, runtime: MarketRuntime, fake: FakeHttpServer
) -> None:
    fake.add("/stable/batch-quote", Reply(body=_quotes(("AAPL",))))
    await enqueue(edb, [RefreshItem(s, "quote", 50) for s in ("AAPL", "NOPEQ")], utcnow())
    done = await Refresher(edb, runtime, None).run_round()
    assert done.completed == 2
    unknown = await _stored(edb, "NOPEQ")
    assert unknown.value is None
    assert unknown.source == "fmp"
    assert not unknown.stale


async def test_a_429_spends_the_window_without_a_breaker_failure_and_the_fallback_serves(
    edb: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/stable/batch-quote", recorded("fmp/error_429_limit-reach.json"))
    market = MarketRuntime(_settings(settings, fake, "fmp", "sim"), db=edb)
    try:
        await enqueue(edb, [RefreshItem("AAPL", "quote", 50)], utcnow())
        worker = Refresher(edb, market, None)
        first = await worker.run_round()
        assert (first.claimed, first.refused) == (1, 1)
        row = (await _rows(edb))["AAPL:quote"]
        assert row.status == "pending"
        assert row.attempts == 0
        assert market.breakers["fmp"].state == "closed"
        second = await worker.run_round()  # FMP is spent for every process: sim serves
    finally:
        await market.aclose()
    assert (second.claimed, second.completed) == (1, 1)
    assert len(fake.requests("/stable/batch-quote")) == 1
    value = await _stored(edb, "AAPL")
    assert value.source == "sim"
    async with edb.transaction(system=True, readonly=True) as session:
        seen = await quota.usage(
            session, "fmp", limits=quota.limits_for(market.settings, "fmp"), now=utcnow()
        )
    assert seen["spent_until"] is not None


async def test_a_failure_backs_off_and_counts_until_the_attempts_are_spent(
    edb: Database, runtime: MarketRuntime, fake: FakeHttpServer
) -> None:
    fake.add("/stable/profile", Reply(status=503, body={"error": "down"}))
    await enqueue(edb, [RefreshItem("AAPL", "profile", 30)], utcnow())
    worker = Refresher(edb, runtime, None, policy=RetryPolicy(base_seconds=0, max_attempts=2))
    first = await worker.run_round()
    row = (await _rows(edb))["AAPL:profile"]
    assert (first.retried, row.status, row.attempts) == (1, "pending", 1)
    assert row.error is not None
    assert row.error["kind"] == "unavailable"
    second = await worker.run_round()
    row = (await _rows(edb))["AAPL:profile"]
    assert (second.failed, row.status, row.attempts) == (1, "failed", 2)
    assert len(fake.requests("/stable/profile")) == 2


async def test_a_hung_provider_is_given_up_at_the_call_timeout(
    edb: Database, runtime: MarketRuntime, fake: FakeHttpServer
) -> None:
    fake.add("/stable/profile", Reply(body=[], delay=1.5))
    await enqueue(edb, [RefreshItem("AAPL", "profile", 30)], utcnow())
    worker = Refresher(edb, runtime, None, call_timeout_seconds=0.3)
    started = datetime.now(UTC)
    done = await worker.run_round()
    assert datetime.now(UTC) - started < timedelta(seconds=1.2)
    assert done.retried == 1
    row = (await _rows(edb))["AAPL:profile"]
    assert row.error is not None
    assert "0.3 s" in row.error["message"]


async def test_no_provider_call_while_the_engine_or_the_type_is_off(
    restore_registry: Database, runtime: MarketRuntime, fake: FakeHttpServer
) -> None:
    db = restore_registry
    fake.add("/stable/batch-quote", Reply(body=_quotes(("AAPL",))))
    await enqueue(db, [RefreshItem("AAPL", "quote", 50)], utcnow())
    async with db.transaction(system=True) as session:
        await datatypes.set_engine(session, False, actor="test")
    worker = Refresher(db, runtime, None)
    off = await worker.run_round()
    assert off.claimed == 0
    assert (await _rows(db))["AAPL:quote"].status == "pending"
    async with db.transaction(system=True) as session:
        await datatypes.set_engine(session, True, actor="test")
        await datatypes.update_type(session, "quote", DataTypeUpdate(enabled=False), actor="test")
    worker.forget_plan()
    type_off = await worker.run_round()
    assert type_off.claimed == 0
    assert type_off.calls == 0
    assert fake.requests() == []
    assert (await _rows(db))["AAPL:quote"].status == "failed"  # nothing serves a type that is off
