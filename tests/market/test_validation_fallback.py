"""Fallback through the provider chain with the real adapters against a local fake server:
the primary failing (5xx, timeout, throttle) → the next answers; all failing → "unknown",
queued, and later settled; the circuit breaker opens and recovers; our own rate limit skips."""

from __future__ import annotations

import asyncio
import time

import pytest

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market import service
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import ValidationResult
from quantdesk.models import ValidationStatus
from tests.factories import create_user
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.support import (
    AV_QUOTE,
    AV_SEARCH,
    FMP_PROFILE,
    asset_row,
    av_match,
    av_throttled,
    fmp_limit_reached,
    fmp_profile,
    live_settings,
    market_runtime,
    queued,
    server_error,
)

CHAIN = ("alphavantage", "fmp")


async def _validate(db: Database, runtime: MarketRuntime, *symbols: str) -> list[ValidationResult]:
    batch = await service.validate_symbols(db, runtime=runtime, user_id=None, symbols=list(symbols))
    return batch.results


async def _admit(
    db: Database, settings: Settings, runtime: MarketRuntime, *symbols: str
) -> dict[str, service.Admission]:
    """What adding symbols to a universe does: check (no transaction), then record."""
    owner = await create_user(db, settings)
    checked = await service.check_symbols(
        db, runtime=runtime, user_id=owner.user.id, symbols=list(symbols)
    )
    async with db.transaction(user_id=owner.user.id) as session:
        return await service.admit_symbols(session, checked, owner_id=owner.user.id)


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        pytest.param(server_error(), "unavailable", id="5xx"),
        pytest.param(Reply(body={"bestMatches": []}, delay=1.5), "unavailable", id="timeout"),
        pytest.param(av_throttled(), "throttled", id="throttle"),
    ],
)
async def test_primary_failing_falls_back_to_the_next_provider(
    db: Database, settings: Settings, fake: FakeHttpServer, failure: Reply, kind: str
) -> None:
    fake.add("/query", failure, query=AV_SEARCH)
    fake.add(FMP_PROFILE, fmp_profile("QVFB", "Fallback Holdings"))
    async with market_runtime(live_settings(settings, fake, CHAIN)) as runtime:
        started = time.perf_counter()
        (result,) = await _validate(db, runtime, "QVFB")
        elapsed = time.perf_counter() - started

    assert result.valid is True
    assert (result.source, result.name) == ("fmp", "Fallback Holdings")
    assert [(e.provider, e.kind) for e in result.errors] == [("alphavantage", kind)]
    assert len(fake.requests("/query")) == 1  # the primary was asked first
    assert elapsed < 1.4  # a timeout is the adapter's 0.5 s, not the fake's 1.5 s delay
    row = await asset_row(db, "QVFB")
    assert row is not None
    assert row.validation_source == "fmp"


async def test_primary_answering_is_final(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/query", av_match("QVPRI", "Primary Answer Inc"), query=AV_SEARCH)
    fake.add(FMP_PROFILE, server_error())
    async with market_runtime(live_settings(settings, fake, CHAIN)) as runtime:
        (result,) = await _validate(db, runtime, "QVPRI")
    assert (result.valid, result.source, result.errors) == (True, "alphavantage", [])
    assert fake.requests(FMP_PROFILE) == []


async def test_all_failing_is_unknown_queued_and_never_cached(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/query", server_error(), query=AV_SEARCH)
    fake.add(FMP_PROFILE, fmp_limit_reached())
    async with market_runtime(live_settings(settings, fake, CHAIN)) as runtime:
        (first,) = await _validate(db, runtime, "QVDOWN")
        (second,) = await _validate(db, runtime, "QVDOWN")

    assert first.valid == "unknown"
    assert first.queued is True
    assert first.source is None
    assert [(e.provider, e.kind) for e in first.errors] == [
        ("alphavantage", "unavailable"),
        ("fmp", "quota_exceeded"),
    ]
    # Neither said when: the breaker cooldown is the best estimate.
    assert first.retry_after == pytest.approx(0.3)
    assert second.from_cache is False
    assert second.valid == "unknown"
    # FMP's "Limit Reach" spent its day: the second validation does not ask it again.
    assert len(fake.requests(FMP_PROFILE)) == 1
    assert [(e.provider, e.kind) for e in second.errors] == [
        ("alphavantage", "unavailable"),
        ("fmp", "rate_limited"),
    ]
    fmp_wait = second.errors[1].retry_after
    assert fmp_wait is not None
    assert 0 < fmp_wait <= 24 * 3600  # until the provider's day resets
    rows = await queued(db)
    assert list(rows) == ["QVDOWN"]
    assert "fmp: rate_limited" in rows["QVDOWN"].reason  # the latest attempt's reasons
    assert await asset_row(db, "QVDOWN") is None  # validation alone creates no pending row


async def test_retry_after_is_the_smallest_a_provider_gave(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/query", server_error(), query=AV_SEARCH)
    fake.add(FMP_PROFILE, Reply(status=429, body={}, headers={"Retry-After": "7"}))
    async with market_runtime(live_settings(settings, fake, CHAIN)) as runtime:
        (result,) = await _validate(db, runtime, "QVWAIT")
    assert result.valid == "unknown"
    assert result.retry_after == 7


async def test_unknown_for_now_settles_later_and_leaves_the_queue(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, server_error())
    async with market_runtime(live_settings(settings, fake, ("fmp",))) as runtime:
        admitted = await _admit(db, settings, runtime, "QVLATE")
        assert admitted["QVLATE"].pending is True
        pending = await asset_row(db, "QVLATE")
        assert pending is not None
        assert (pending.validation_status, pending.name) == (ValidationStatus.PENDING, "QVLATE")
        assert "QVLATE" in await queued(db)

        fake.add(FMP_PROFILE, fmp_profile("QVLATE", "Late Bloomer plc"))
        (result,) = await _validate(db, runtime, "QVLATE")

    assert (result.valid, result.source) == (True, "fmp")
    row = await asset_row(db, "QVLATE")
    assert row is not None
    assert row.validation_status == ValidationStatus.VALID
    assert (row.name, row.is_validated, row.validation_source) == ("Late Bloomer plc", True, "fmp")
    assert await queued(db) == {}


async def test_pending_asset_refuted_later_becomes_invalid(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, server_error())
    async with market_runtime(live_settings(settings, fake, ("fmp",))) as runtime:
        await _admit(db, settings, runtime, "QVFAKE")
        fake.add(FMP_PROFILE, Reply(body=[]))
        (result,) = await _validate(db, runtime, "QVFAKE")
        runtime.cache.clear_local()
        (again,) = await _validate(db, runtime, "QVFAKE")

    assert (result.valid, result.source) == (False, "fmp")
    row = await asset_row(db, "QVFAKE")
    assert row is not None
    assert row.validation_status == ValidationStatus.INVALID
    assert (again.valid, again.source) == (False, "catalog")  # the row remembers
    assert await queued(db) == {}


async def test_breaker_opens_after_repeated_failures_and_recovers_after_cooldown(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/query", server_error(), query=AV_SEARCH)
    fake.add(FMP_PROFILE, fmp_profile("QVBR", "Breaker Test Co"))
    custom = live_settings(settings, fake, CHAIN, breaker_failure_threshold=2)
    async with market_runtime(custom) as runtime:
        breaker = runtime.breakers["alphavantage"]
        await _validate(db, runtime, "QVBR1")
        assert breaker.state == "closed"
        await _validate(db, runtime, "QVBR2")
        assert breaker.state == "open"
        asked = len(fake.requests("/query"))

        (skipped,) = await _validate(db, runtime, "QVBR3")
        assert len(fake.requests("/query")) == asked  # not called while open
        assert skipped.valid is True
        assert skipped.source == "fmp"
        (error,) = skipped.errors
        assert (error.provider, error.kind) == ("alphavantage", "breaker_open")
        assert error.retry_after is not None
        assert 0 < error.retry_after <= 0.3

        await asyncio.sleep(0.35)
        fake.add("/query", av_match("QVBR4", "Recovered Inc"), query=AV_SEARCH)
        (probe,) = await _validate(db, runtime, "QVBR4")
        stats = service.validation_stats(runtime)

    assert (probe.valid, probe.source) == (True, "alphavantage")
    assert breaker.state == "closed"
    assert stats.providers["alphavantage"].skipped == {"breaker_open": 1}
    assert stats.providers["alphavantage"].errors == {"unavailable": 2}
    assert stats.providers["alphavantage"].answers == 1


async def test_failed_probe_reopens_the_breaker(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/query", server_error(), query=AV_SEARCH)
    fake.add(FMP_PROFILE, fmp_profile("QVRE", "Reopen Ltd"))
    custom = live_settings(settings, fake, CHAIN, breaker_failure_threshold=1)
    async with market_runtime(custom) as runtime:
        breaker = runtime.breakers["alphavantage"]
        await _validate(db, runtime, "QVRE1")
        assert breaker.state == "open"
        await asyncio.sleep(0.35)
        await _validate(db, runtime, "QVRE2")  # the probe fails
        assert breaker.state == "open"
        assert breaker.snapshot()["times_opened"] == 2


async def test_spent_rate_limit_skips_to_the_next_provider(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add("/query", av_match("QVRL", "Rate Limited Inc"), query=AV_SEARCH)
    fake.add("/query", Reply(body={"Global Quote": {}}), query=AV_QUOTE)
    fake.add(FMP_PROFILE, fmp_profile("QVRL", "Rate Limited Inc"))
    # 0.6 per minute: a bucket of one token that refills in 100 s.
    custom = live_settings(settings, fake, CHAIN, alphavantage_requests_per_minute=0.6)
    async with market_runtime(custom) as runtime:
        (first,) = await _validate(db, runtime, "QVRL")
        (second,) = await _validate(db, runtime, "QVRL2")
    assert first.source == "alphavantage"
    assert second.source == "fmp"
    (error,) = second.errors
    assert (error.provider, error.kind) == ("alphavantage", "rate_limited")
    assert error.retry_after is not None
    assert 90 < error.retry_after <= 100
    assert len(fake.requests("/query")) == 1


async def test_many_symbols_are_validated_with_bounded_concurrency(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    symbols = [f"QVC{i:02d}" for i in range(12)]
    fake.add(FMP_PROFILE, Reply(body=[], delay=0.2))
    custom = live_settings(settings, fake, ("fmp",), validation_concurrency=4)
    async with market_runtime(custom) as runtime:
        started = time.perf_counter()
        results = await _validate(db, runtime, *symbols)
        elapsed = time.perf_counter() - started
    assert all(r.valid is False and r.source == "fmp" for r in results)
    assert len(fake.requests(FMP_PROFILE)) == 12
    # 12 calls of 0.2 s, 4 at a time: at least 3 rounds; one at a time would take 2.4 s.
    assert 0.6 <= elapsed < 2.3, elapsed
