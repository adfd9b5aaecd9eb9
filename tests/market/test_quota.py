"""The persisted quota ledger: a sliding per-minute window, a per-day window from the provider's
reset, partial grants for claims, refusals persisted for every process, and no over-spending by
concurrent processes (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time as time_module
from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import SecretStr

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market import quota
from quantdesk.market.providers.datasets import Dataset
from quantdesk.market.quota import Limits
from quantdesk.market.runtime import MarketRuntime
from tests.fakes.http_server import FakeHttpServer
from tests.market.providers.recordings import recorded

T0 = datetime(2026, 11, 27, 10, 0, 59, tzinfo=UTC)


async def _take(db: Database, calls: int, limits: Limits, now: datetime, **kw: bool) -> quota.Grant:
    async with db.transaction(system=True) as session:
        return await quota.take(session, "fmp", calls, limits=limits, now=now, **kw)


async def test_the_minute_window_slides_it_does_not_reset_on_the_minute(db: Database) -> None:
    five = Limits(per_minute=5, per_day=None)
    assert (await _take(db, 5, five, T0)).granted == 5
    # Two seconds later the clock's minute changed: a fixed window would let 5 more through.
    refused = await _take(db, 1, five, T0 + timedelta(seconds=2))
    assert refused.granted == 0
    assert refused.wait_seconds == pytest.approx(58)
    assert (await _take(db, 1, five, T0 + timedelta(seconds=59.9))).granted == 0
    assert (await _take(db, 5, five, T0 + timedelta(seconds=60))).granted == 5


async def test_a_rate_under_one_a_minute_is_one_call_in_a_longer_window(db: Database) -> None:
    settings = Settings(_env_file=None, alphavantage_requests_per_minute=0.6)  # type: ignore[call-arg]
    limits = quota.limits_for(settings, "alphavantage")
    assert (limits.per_minute, limits.window, limits.per_day) == (1, timedelta(seconds=100), 25)
    # A fetch costing more than the window (a lookup is 2 calls) goes into an empty one only.
    assert (await _take(db, 2, limits, T0)).granted == 2
    refused = await _take(db, 1, limits, T0 + timedelta(seconds=10))
    assert refused.wait_seconds == pytest.approx(90)
    assert (await _take(db, 1, limits, T0 + timedelta(seconds=100))).granted == 1


async def test_the_day_counts_from_the_providers_reset(db: Database) -> None:
    daily = Limits(per_minute=None, per_day=25, day_resets_at=time(8, 0))
    before_reset = datetime(2026, 11, 27, 7, 59, 0, tzinfo=UTC)
    assert (await _take(db, 25, daily, before_reset)).granted == 25
    refused = await _take(db, 1, daily, before_reset + timedelta(seconds=30))
    assert (refused.granted, refused.wait_seconds) == (0, pytest.approx(30))
    assert (await _take(db, 25, daily, before_reset + timedelta(minutes=1))).granted == 25
    async with db.transaction(system=True, readonly=True) as session:
        seen = await quota.usage(
            session, "fmp", limits=daily, now=before_reset + timedelta(hours=1)
        )
    assert seen["day"] == {
        "used": 25, "limit": 25, "left": 0, "resets_at": "2026-11-28T08:00:00+00:00",
    }  # fmt: skip


async def test_claims_take_what_the_windows_leave_and_a_rollback_spends_nothing(
    db: Database,
) -> None:
    limits = Limits(per_minute=5, per_day=6)
    assert (await _take(db, 3, limits, T0)).granted == 3
    assert (await _take(db, 4, limits, T0, partial=True)).granted == 2  # the minute's 2 left
    assert (await _take(db, 1, limits, T0)).granted == 0

    later = T0 + timedelta(minutes=5)

    async def failed_claim() -> None:
        async with db.transaction(system=True) as session:
            assert (await quota.take(session, "fmp", 1, limits=limits, now=later)).granted == 1
            raise RuntimeError("the claim failed after its debit")

    with pytest.raises(RuntimeError):
        await failed_claim()
    assert (await _take(db, 4, limits, later, partial=True)).granted == 1  # 5 of 6 today


async def test_a_refusal_holds_the_provider_for_every_process_until_it_ends(
    db: Database,
) -> None:
    limits = Limits(per_minute=100, per_day=None)
    async with db.transaction(system=True) as session:
        await quota.mark_spent(session, "fmp", seconds=120, now=T0)
        await quota.mark_spent(
            session, "fmp", seconds=30, now=T0
        )  # a shorter one: the longer holds
    held = await _take(db, 1, limits, T0 + timedelta(seconds=60))
    assert (held.granted, held.wait_seconds) == (0, pytest.approx(60))
    assert (await _take(db, 1, limits, T0 + timedelta(seconds=121))).granted == 1


# --- Concurrent processes ------------------------------------------------------------------------

LIMIT = 7


def _spend_in_process(url: str, attempts: int, start_at: float) -> int:
    """One OS process taking one call ``attempts`` times at once; how many it was granted."""

    async def run() -> int:
        db = Database(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
        limits = Limits(per_minute=LIMIT, per_day=None)
        try:  # its attempts at once, each on its own connection
            grants = await asyncio.gather(*(_take(db, 1, limits, T0) for _ in range(attempts)))
        finally:
            await db.dispose()
        return sum(g.granted for g in grants)

    time_module.sleep(max(0.0, start_at - time_module.time()))  # all start together
    return asyncio.run(run())


async def test_four_processes_never_spend_more_than_the_window(
    db: Database, settings: Settings
) -> None:
    context = multiprocessing.get_context("spawn")
    start_at = time_module.time() + 3.0  # every process imported and waiting by then
    with context.Pool(4) as pool:
        results = [
            pool.apply_async(_spend_in_process, (settings.resolved_database_url, 10, start_at))
            for _ in range(4)
        ]
        granted = [await asyncio.to_thread(r.get, 60) for r in results]
    assert sum(granted) == LIMIT, granted
    async with db.transaction(system=True, readonly=True) as session:
        seen = await quota.usage(session, "fmp", limits=Limits(LIMIT, None), now=T0)
    assert seen["minute"]["used"] == LIMIT


# --- The chain on the ledger ---------------------------------------------------------------------


async def test_a_429_seen_by_one_process_keeps_every_process_off_the_provider(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/stable/batch-quote", recorded("fmp/error_429_limit-reach.json"))
    shared = settings.model_copy(
        update={
            "providers": ["fmp", "sim"],
            "fmp_base_url": fake.url,
            "fmp_api_key": SecretStr("FMPKEY"),
            "fmp_timeout_seconds": 1.0,
        }
    )
    first, second = MarketRuntime(shared, db=db), MarketRuntime(shared, db=db)
    try:
        asked = await first.fetch(Dataset.QUOTE, "AAPL")
        skipped = await second.fetch(Dataset.QUOTE, "AAPL")
    finally:
        await first.aclose()
        await second.aclose()
    assert asked.provider == skipped.provider == "sim"  # the fallback serves both
    assert len(fake.requests("/stable/batch-quote")) == 1  # the second process never asked FMP
    (reason,) = [e for e in skipped.skipped if e.provider == "fmp"]
    assert reason.kind == "rate_limited"
    assert first.breakers["fmp"].state == "closed"  # a refusal is not a failure
    async with db.transaction(system=True, readonly=True) as session:
        seen = await quota.usage(
            session, "fmp", limits=quota.limits_for(shared, "fmp"), now=datetime.now(UTC)
        )
    assert seen["spent_until"] is not None
