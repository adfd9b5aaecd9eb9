"""The validation strategy, layer by layer: cache, catalog, providers, and what each writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market import service
from quantdesk.market.schemas import ValidationResult
from quantdesk.models import ValidationStatus
from tests.factories import Account, ensure_assets
from tests.fakes.http_server import FakeHttpServer
from tests.market.support import (
    FMP_PROFILE,
    asset_row,
    fmp_not_found,
    fmp_profile,
    live_settings,
    market_runtime,
    queued,
)
from tests.redis_server import RedisServer, running_redis_server

API = "/api/v1"


async def _validate(db: Database, runtime: object, *symbols: str) -> list[ValidationResult]:
    batch = await service.validate_symbols(
        db,
        runtime=runtime,  # type: ignore[arg-type]
        user_id=None,
        symbols=list(symbols),
    )
    return batch.results


async def test_catalog_answers_then_the_cache(db: Database, settings: Settings) -> None:
    await ensure_assets(db)
    async with market_runtime(settings) as runtime:
        (first,) = await _validate(db, runtime, "aapl")
        (second,) = await _validate(db, runtime, "AAPL ")
        stats = service.validation_stats(runtime)

    assert first.valid is True
    assert (first.symbol, first.canonical_symbol) == ("aapl", "AAPL")
    assert (first.source, first.from_cache, first.name) == ("catalog", False, "Apple Inc.")
    assert second.valid is True
    assert (second.symbol, second.source, second.from_cache) == ("AAPL ", "catalog", True)
    assert stats.layers["cache"].hits == 1
    assert stats.layers["cache"].misses == 1
    assert stats.layers["catalog"].hits == 1
    assert stats.providers["sim"].calls == 0  # the simulated provider never validates


async def test_catalog_finds_any_class_separator(db: Database, settings: Settings) -> None:
    await ensure_assets(db)
    async with market_runtime(settings) as runtime:
        results = await _validate(db, runtime, "brk.b", "BRK/B", "brk-b")
    assert {r.canonical_symbol for r in results} == {"BRK-B"}
    assert all(r.valid is True and r.source == "catalog" for r in results)


async def test_malformed_input_is_invalid_without_any_lookup(
    db: Database, settings: Settings
) -> None:
    async with market_runtime(settings) as runtime:
        (result,) = await _validate(db, runtime, "not a symbol")
        stats = service.validation_stats(runtime)
    assert result.valid is False
    assert result.canonical_symbol is None
    assert result.reason
    assert "letters" in result.reason
    assert stats.layers["cache"].misses == 0


async def test_offline_set_up_rejects_what_the_catalog_lacks(
    db: Database, settings: Settings
) -> None:
    """The embedded default (sim only): the catalog is the world; nothing is cached or queued."""
    async with market_runtime(settings) as runtime:
        (first,) = await _validate(db, runtime, "QVNOPE")
        (second,) = await _validate(db, runtime, "QVNOPE")
        stats = service.validation_stats(runtime)
    assert first.valid is False
    assert first.source == "catalog"
    assert first.reason
    assert "no live data provider to ask" in first.reason
    assert second.from_cache is False
    assert stats.providers["sim"].calls == 0
    assert await queued(db) == {}
    assert await asset_row(db, "QVNOPE") is None


async def test_provider_answer_creates_a_validated_asset_and_is_cached(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, fmp_profile("QVAA", "Quiver Alpha Corp"))
    async with market_runtime(live_settings(settings, fake, ("fmp",))) as runtime:
        (first,) = await _validate(db, runtime, "qvaa")
        (cached,) = await _validate(db, runtime, "QVAA")
        runtime.cache.clear_local()
        (from_row,) = await _validate(db, runtime, "QVAA")

    assert first.valid is True
    assert (first.source, first.name, first.exchange) == ("fmp", "Quiver Alpha Corp", "NASDAQ")
    assert first.asset_class == "equity"
    assert (cached.from_cache, cached.source) == (True, "fmp")
    assert (from_row.from_cache, from_row.source) == (False, "catalog")  # the row it wrote
    assert len(fake.requests(FMP_PROFILE)) == 1
    row = await asset_row(db, "QVAA")
    assert row is not None
    assert row.is_validated is True
    assert row.validation_source == "fmp"
    assert row.validation_status == ValidationStatus.VALID
    assert row.last_validated_at is not None
    assert row.name == "Quiver Alpha Corp"
    assert row.metadata_.get("currency") == "USD"


async def test_provider_not_found_is_invalid_and_cached(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, fmp_not_found())
    async with market_runtime(live_settings(settings, fake, ("fmp",))) as runtime:
        (first,) = await _validate(db, runtime, "QVGONE")
        (second,) = await _validate(db, runtime, "QVGONE")
    assert (first.valid, first.source) == (False, "fmp")
    assert first.reason == "fmp reports no such symbol"
    assert (second.valid, second.from_cache) == (False, True)
    assert len(fake.requests(FMP_PROFILE)) == 1
    assert await asset_row(db, "QVGONE") is None  # no row for what does not exist
    assert await queued(db) == {}


async def test_duplicates_collapse_to_one_result_each_and_ask_the_provider_once(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, fmp_profile("QVDUP", "Duplicate Inc"))
    async with market_runtime(live_settings(settings, fake, ("fmp",))) as runtime:
        results = await _validate(db, runtime, "QVDUP", "qvdup", "nope!", "QVDUP", "nope!", "AAPL")
    # One result per distinct symbol, in first-seen order, with how many times it was given.
    assert [(r.symbol, r.canonical_symbol, r.count) for r in results] == [
        ("QVDUP", "QVDUP", 3),
        ("nope!", None, 2),
        ("AAPL", "AAPL", 1),
    ]
    assert [r.valid for r in results] == [True, False, True]
    assert len(fake.requests(FMP_PROFILE)) == 1


async def test_validate_endpoint_counts_distinct_symbols_and_names_the_bulk_tool_above_1000(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    response = await client.post(
        f"{API}/assets/validate",
        json={"symbols": ["AAPL", "aapl", "MSFT", "AAPL"]},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(r["symbol"], r["count"]) for r in body["data"]["results"]] == [
        ("AAPL", 3),
        ("MSFT", 1),
    ]
    assert body["data"]["counts"] == {"valid": 2, "invalid": 0, "unknown": 0}
    assert body["metadata"]["symbol_count"] == 2
    assert body["metadata"]["input_count"] == 4
    # 1,001 distinct symbols: a 422 that points at the bulk endpoint.
    many = [f"QZ{n:04d}" for n in range(1001)]
    too_many = await client.post(
        f"{API}/assets/validate", json={"symbols": many}, headers=alice.headers
    )
    assert too_many.status_code == 422
    error = too_many.json()
    assert "validate_symbols_in_bulk" in error["message"]
    assert error["next_actions"] == ["validate_symbols_in_bulk"]
    assert error["error"]["details"][0]["field"] == "symbols"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path) as server:
        yield server


async def test_redis_shares_answers_between_runtimes_and_its_loss_changes_nothing(
    db: Database, settings: Settings, fake: FakeHttpServer, redis_server: RedisServer
) -> None:
    """Two runtimes (two processes) share validation answers via Redis and the provider's quota
    through the ledger in the database; with Redis stopped, validation keeps working from the
    other layers."""
    fake.add(FMP_PROFILE, fmp_profile("QVRED", "Redis Shared Inc"))
    # 6 a minute in the ledger: the first runtime's call shows in the second's window.
    shared = live_settings(
        settings, fake, ("fmp",), redis_url=redis_server.url, fmp_requests_per_minute=6.0
    )
    async with market_runtime(shared) as first, market_runtime(shared) as second:
        (asked,) = await _validate(db, first, "QVRED")
        (shared_answer,) = await _validate(db, second, "QVRED")
        quota = (await second.health())[0]
        redis_server.stop()
        second.cache.clear_local()
        (without_redis,) = await _validate(db, second, "QVRED")
        (offline_new,) = await _validate(db, second, "QVRED2")
    assert (asked.source, asked.from_cache) == ("fmp", False)
    assert (shared_answer.source, shared_answer.from_cache) == ("fmp", True)
    assert len(fake.requests(FMP_PROFILE)) == 2  # one call, plus QVRED2 after Redis went away
    assert quota.rate_limiter is not None
    cost = next(d.cost_per_call for d in quota.datasets if d.name == "lookup")
    assert quota.rate_limiter["minute"]["used"] == cost  # the first runtime's call, seen by both
    assert (without_redis.valid, without_redis.source) == (True, "catalog")
    assert (offline_new.valid, offline_new.source) == (True, "fmp")
