"""The engine at a glance (``engine.status``, GET market/status): queue depth and its oldest due
row, refreshes finished per minute, the quota ledger per limited provider, the freshness of the
watched pairs (one statement, whatever their number), the engine switch."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import event, text

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import quota, watching
from quantdesk.market.engine import status, status_repository, store
from quantdesk.market.engine.schemas import Fetched, QueueDepth
from quantdesk.market.providers.datasets import Quote
from quantdesk.models import RefreshRequest
from tests.factories import Account
from tests.market.engine.test_plans import T0, _fill, _plan

STATUS = "/api/v1/market/status"
TTLS = {"quote": 60, "profile": 86400}


def _quote(symbol: str, fetched_at: datetime) -> Fetched:
    value = Quote(symbol=symbol, price=Decimal("10"), as_of=fetched_at, source="yahoo")
    return Fetched(
        symbol=symbol, data_type="quote", provider="yahoo", value=value, fetched_at=fetched_at
    )


def _row(
    symbol: str, status_: str, *, run_at: datetime, updated_at: datetime, provider: str | None
) -> RefreshRequest:
    return RefreshRequest(
        symbol=symbol, data_type="quote", provider=provider, priority=0, status=status_,
        attempts=0, run_at=run_at, created_at=run_at, updated_at=updated_at,
    )  # fmt: skip


async def _seed(db: Database, alice: Account, now: datetime) -> None:
    """The queue (3 pending, 2 of them due; 1 processing; 3 completed and 1 failed, one of the
    completed long ago) and 5 watched pairs, 2 of them fresh."""
    ago = lambda seconds: now - timedelta(seconds=seconds)  # noqa: E731
    async with db.transaction(system=True) as session:
        session.add_all(
            [
                _row("QA", "pending", run_at=ago(120), updated_at=ago(120), provider=None),
                _row("QB", "pending", run_at=ago(5), updated_at=ago(5), provider="fmp"),
                _row("QC", "pending", run_at=now + timedelta(hours=1), updated_at=now,
                     provider=None),
                _row("QD", "processing", run_at=ago(30), updated_at=ago(10), provider="fmp"),
                _row("QE", "completed", run_at=ago(400), updated_at=ago(60), provider="fmp"),
                _row("QF", "completed", run_at=ago(400), updated_at=ago(300), provider="sim"),
                _row("QG", "completed", run_at=ago(4000), updated_at=ago(3600), provider="fmp"),
                _row("QH", "failed", run_at=ago(400), updated_at=ago(200), provider="fmp"),
            ]
        )  # fmt: skip
        await store.store_values(
            session,
            [_quote("AAPL", ago(10)), _quote("MSFT", ago(120)), _quote("NVDA", ago(120)),
             _quote("TSLA", ago(120)), _quote("GOOG", ago(1))],
            ttls=TTLS,
        )  # fmt: skip
        owner = alice.user.id
        live = [("AAPL", "quote"), ("MSFT", "quote"), ("TSLA", "quote"), ("AMZN", "profile")]
        await watching.watch(
            session, owner_id=owner, client="api", pairs=live, now=now, seconds=300
        )
        # Background watchers want a quote every 5 minutes: NVDA's 2-minute-old one is fresh,
        # TSLA's is not (a live watcher of it wants the TTL).
        await watching.watch(
            session, owner_id=owner, client="bg", pairs=[("NVDA", "quote"), ("TSLA", "quote")],
            now=now, seconds=300, refresh_seconds=300,
        )  # fmt: skip
        await watching.watch(  # expired: nobody's interest any more
            session, owner_id=owner, client="old", pairs=[("GOOG", "quote")], now=ago(600),
            seconds=60,
        )  # fmt: skip


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"fmp_requests_per_minute": 60.0, "fmp_requests_per_day": 250}
    )


async def test_status_counts_queue_rates_quota_and_freshness(
    edb: Database, alice: Account, limited: Settings
) -> None:
    now = utcnow()
    await _seed(edb, alice, now)
    fmp = quota.limits_for(limited, "fmp")
    async with edb.transaction(system=True) as session:
        await quota.take(session, "fmp", 3, limits=fmp, now=now - timedelta(seconds=5))

    async with edb.transaction(system=True, readonly=True) as session:
        found = await status.market_status(
            session, settings=limited, providers=["sim", "fmp"], now=now, window_minutes=10
        )

    assert found.engine_enabled is True
    assert found.queue.by_status == {"pending": 3, "processing": 1, "completed": 3, "failed": 1}
    assert found.queue.active_by_provider == {"unrouted": 2, "fmp": 2}
    assert found.queue.oldest_due_seconds == pytest.approx(120, abs=0.01)
    rates = found.rates
    assert (rates.window_minutes, rates.completed, rates.failed) == (10, 2, 1)
    assert (rates.completed_per_minute, rates.failed_per_minute) == (0.2, 0.1)
    assert rates.error_ratio == pytest.approx(1 / 3, abs=1e-4)
    (fmp_quota,) = found.quota  # sim has no limit, so no ledger to show
    assert fmp_quota.provider == "fmp"
    assert (fmp_quota.minute.used, fmp_quota.minute.limit, fmp_quota.minute.left) == (3, 60, 57)
    assert (fmp_quota.day.used, fmp_quota.day.left) == (3, 247)
    assert fmp_quota.spent_until is None
    assert found.freshness.model_dump() == {"watched_pairs": 5, "fresh": 2, "fresh_percent": 40.0}


async def test_freshness_is_one_statement_and_exact_at_the_ttl(
    edb: Database, alice: Account
) -> None:
    now = utcnow()
    pairs = [(f"QZ{i}", "quote") for i in range(30)]
    async with edb.transaction(system=True) as session:
        # Half fetched one second inside the TTL, half one second past it.
        await store.store_values(
            session,
            [_quote(symbol, now - timedelta(seconds=59 if i % 2 else 61))
             for i, (symbol, _) in enumerate(pairs)],
            ttls=TTLS,
        )  # fmt: skip
        await watching.watch(
            session, owner_id=alice.user.id, client="api", pairs=pairs, now=now, seconds=60
        )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = edb.system_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with edb.transaction(system=True, readonly=True) as session:
            found = await status.freshness(session, now=now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (found.watched_pairs, found.fresh, found.fresh_percent) == (30, 15, 50.0)
    assert len([s for s in statements if "market_watches" in s]) == 1


async def test_nothing_watched_is_all_fresh_and_an_off_engine_says_so(
    restore_registry: Database, settings: Settings
) -> None:
    async with restore_registry.transaction(system=True) as session:
        await session.execute(text("UPDATE market_flags SET enabled = false"))
    async with restore_registry.transaction(system=True, readonly=True) as session:
        found = await status.market_status(
            session, settings=settings, providers=["sim"], now=utcnow()
        )
    assert found.engine_enabled is False
    assert found.freshness.model_dump() == {
        "watched_pairs": 0, "fresh": 0, "fresh_percent": 100.0
    }  # fmt: skip
    assert (found.rates.completed, found.rates.error_ratio) == (0, None)
    assert found.queue.oldest_due_seconds is None
    assert found.quota == []


async def test_gauges_break_the_depth_down_by_status_type_and_provider(
    edb: Database, alice: Account, limited: Settings
) -> None:
    now = utcnow()
    await _seed(edb, alice, now)
    async with edb.transaction(system=True, readonly=True) as session:
        found = await status.gauges(session, settings=limited, providers=["fmp"], now=now)
    assert sorted(found.depth, key=lambda d: (d.status, d.provider or "")) == [
        QueueDepth("completed", "quote", "fmp", 2),
        QueueDepth("completed", "quote", "sim", 1),
        QueueDepth("failed", "quote", "fmp", 1),
        QueueDepth("pending", "quote", None, 2),
        QueueDepth("pending", "quote", "fmp", 1),
        QueueDepth("processing", "quote", "fmp", 1),
    ]
    assert found.oldest_due_seconds == pytest.approx(120, abs=0.01)
    assert (found.freshness.watched_pairs, found.freshness.fresh) == (5, 2)


async def test_get_market_status_counts_everyone_s_watches(
    client: httpx.AsyncClient, edb: Database, alice: Account, bob: Account
) -> None:
    await _seed(edb, alice, utcnow())
    # Bob asks: the counts are of every owner's watches (PostgreSQL's RLS would hide Alice's).
    response = await client.get(STATUS, params={"minutes": 10}, headers=bob.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    data = body["data"]
    assert data["engine_enabled"] is True
    assert data["queue"]["by_status"]["pending"] == 3
    assert data["queue"]["active_by_type"] == {"quote": 4}
    assert (data["rates"]["completed"], data["rates"]["failed"]) == (2, 1)
    assert data["quota"] == []  # the test app's only provider, sim, has no limit
    assert (data["freshness"]["watched_pairs"], data["freshness"]["fresh"]) == (5, 2)
    assert "2 of 5 watched pair(s) fresh" in body["message"]
    assert "list_market_data_types" in body["next_actions"]

    assert (await client.get(STATUS)).status_code == 401
    empty = await client.get(STATUS, params={"minutes": 0}, headers=alice.headers)
    assert empty.status_code == 422


async def test_rates_read_finished_rows_from_their_index(edb: Database) -> None:
    await _fill(edb)  # 20,000 finished rows over the hour before T0 - 1 h, 2,000 pending
    since = T0 - timedelta(hours=1, seconds=100)
    plan = await _plan(edb, status_repository.finished_statement(), b_since=since)
    assert "ix_market_refresh_queue_finished" in plan, plan
    async with edb.transaction(system=True, readonly=True) as session:
        completed, failed = await status_repository.finished_since(session, since=since)
    assert (completed, failed) == (90, 11)  # updated 0..100 s before T0 - 1 h; every 10th failed
