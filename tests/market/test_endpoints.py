"""The market-data HTTP surface: validate, its limits and stats, /health/providers, the quote and
profile on GET /assets/{symbol}, and universes adding symbols while providers are down."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market.providers.datasets import Dataset
from quantdesk.models import AssetQuote, ValidationStatus
from tests.factories import Account, create_user, ensure_assets
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.support import (
    API,
    FMP_PROFILE,
    FMP_QUOTE,
    asset_row,
    fmp_profile,
    fmp_quote,
    live_client,
    live_settings,
    queued,
    server_error,
)

VALIDATE = f"{API}/assets/validate"
STATS = f"{API}/assets/validation/stats"
QUOTE_TEST_ASSET = [("QVQT", "Quote Test Inc", "equity", "Industrials")]


async def test_validate_reports_each_symbol(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    response = await client.post(
        VALIDATE, json={"symbols": ["aapl", "QVNONE", "no way"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    results = [(r["symbol"], r["canonical_symbol"], r["valid"]) for r in body["data"]["results"]]
    assert results == [("aapl", "AAPL", True), ("QVNONE", "QVNONE", False), ("no way", None, False)]
    assert body["data"]["counts"] == {"valid": 1, "invalid": 2, "unknown": 0}
    assert body["message"] == "1 valid, 2 invalid, 0 unknown for now"
    assert "add_assets_to_universe" in body["next_actions"]


async def test_validate_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post(VALIDATE, json={"symbols": ["AAPL"]})
    assert response.status_code == 401


async def test_validate_takes_one_to_a_thousand_symbols(
    client: httpx.AsyncClient, alice: Account
) -> None:
    too_many = await client.post(
        VALIDATE, json={"symbols": [f"S{i}" for i in range(1001)]}, headers=alice.headers
    )
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "validation_error"
    none = await client.post(VALIDATE, json={"symbols": []}, headers=alice.headers)
    assert none.status_code == 422
    thousand = await client.post(
        VALIDATE, json={"symbols": [f"QV{i:04d}" for i in range(1000)]}, headers=alice.headers
    )
    assert thousand.status_code == 200
    assert thousand.json()["data"]["counts"]["invalid"] == 1000


async def test_sixth_validation_in_a_minute_is_429_per_user(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    for _ in range(5):
        ok = await client.post(VALIDATE, json={"symbols": ["AAPL"]}, headers=alice.headers)
        assert ok.status_code == 200
    limited = await client.post(VALIDATE, json={"symbols": ["AAPL"]}, headers=alice.headers)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = await client.post(VALIDATE, json={"symbols": ["AAPL"]}, headers=bob.headers)
    assert other.status_code == 200  # the limit is per user


async def test_stats_count_layers_and_latency(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    before = (await client.get(STATS, headers=alice.headers)).json()["data"]
    for _ in range(2):
        await client.post(VALIDATE, json={"symbols": ["MSFT", "NVDA"]}, headers=alice.headers)
    response = await client.get(STATS, headers=alice.headers)
    assert response.status_code == 200, response.text
    after = response.json()["data"]

    def delta(layer: str, what: str) -> int:
        return int(after["layers"][layer][what] - before["layers"][layer][what])

    assert delta("catalog", "hits") == 2
    assert delta("cache", "hits") == 2
    assert delta("cache", "misses") == 2
    assert after["validations"] - before["validations"] == 2
    assert after["validation_latency"]["count"] >= 2
    assert after["validation_latency"]["p99_ms"] >= after["validation_latency"]["p50_ms"]
    # Validation never asks the simulated provider (quotes elsewhere in the session may).
    assert after["providers"]["sim"]["calls"] == before["providers"]["sim"]["calls"]
    assert after["cache"]["local"]["items"] >= 2


async def test_validation_routes_are_not_read_as_symbols(
    client: httpx.AsyncClient, alice: Account
) -> None:
    stats = await client.get(STATS, headers=alice.headers)
    assert stats.status_code == 200
    assert "layers" in stats.json()["data"]
    openapi = (await client.get("/openapi.json")).json()
    assert openapi["paths"]["/api/v1/assets/validate"]["post"]["operationId"] == "validate_symbols"
    stats_op = openapi["paths"]["/api/v1/assets/validation/stats"]["get"]["operationId"]
    assert stats_op == "get_validation_stats"


async def test_health_providers_with_the_simulated_chain(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/providers")
    assert response.status_code == 200
    (sim,) = response.json()["data"]["providers"]
    assert sim["name"] == "sim"
    assert sim["simulated"] is True
    assert set(sim["capabilities"]) == {dataset.value for dataset in Dataset}
    quote = next(d for d in sim["datasets"] if d["name"] == "quote")
    assert quote == {"name": "quote", "cost_per_call": 1, "max_symbols": 1000}
    assert sim["breaker"]["state"] == "closed"
    assert sim["rate_limiter"] is None
    assert response.json()["data"]["cache"]["redis"]["enabled"] is False


async def test_health_providers_shows_breaker_and_quota(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",), breaker_failure_threshold=1)
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        validated = await client.post(VALIDATE, json={"symbols": ["QVHP"]}, headers=account.headers)
        assert validated.json()["data"]["results"][0]["valid"] == "unknown"
        response = await client.get("/health/providers")
    (fmp,) = response.json()["data"]["providers"]
    assert fmp["simulated"] is False
    assert fmp["breaker"]["state"] == "open"
    assert fmp["breaker"]["failures"] == 1
    # The ledger: the one lookup made is debited at its cost in both windows.
    cost = next(d["cost_per_call"] for d in fmp["datasets"] if d["name"] == "lookup")
    quota = fmp["rate_limiter"]
    assert quota["minute"] == {"used": cost, "limit": 6000, "left": 6000 - cost}
    assert (quota["day"]["used"], quota["day"]["left"]) == (cost, 250 - cost)
    assert quota["spent_until"] is None


async def test_all_providers_down_is_unknown_not_500(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, server_error())
    fake.add("/query", server_error())
    custom = live_settings(settings, fake, ("alphavantage", "fmp", "sim"))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        response = await client.post(
            VALIDATE, json={"symbols": ["QVX1", "QVX2"]}, headers=account.headers
        )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["counts"] == {"valid": 0, "invalid": 0, "unknown": 2}
    first = data["results"][0]
    assert first["queued"] is True
    assert first["retry_after"] > 0
    # sim is in the chain but never vouches for a symbol
    assert [e["provider"] for e in first["errors"]] == ["alphavantage", "fmp"]
    assert set(await queued(db)) == {"QVX1", "QVX2"}


# --- GET /assets/{symbol}: quote and profile --------------------------------------------------


async def test_asset_detail_has_simulated_quote_and_profile_labelled_sim(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    assets = await ensure_assets(db)
    catalog_market_cap = assets["AAPL"].market_cap
    first = await client.get(f"{API}/assets/AAPL", headers=alice.headers)
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    quote, profile = data["quote"], data["profile"]
    assert quote["source"] == "sim"
    assert quote["stale"] is False
    assert Decimal(quote["price"]) > 0
    assert isinstance(quote["price"], str)  # decimals travel as strings
    assert quote["change_24h_percent"] is None  # an equity
    assert profile["source"] == "sim"
    assert profile["stale"] is False
    assert data["validation_status"] == "valid"
    # Simulated facts are never copied onto the real asset row.
    stored = data["market_cap"]
    assert (stored and Decimal(stored)) == catalog_market_cap
    second = (await client.get(f"{API}/assets/aapl", headers=alice.headers)).json()["data"]
    assert second["quote"]["as_of"] == quote["as_of"]
    assert second["quote"]["price"] == quote["price"]


async def test_crypto_quote_has_the_24h_change(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db, [("QVCOIN-USD", "Quiver Coin", "crypto", None)])
    response = await client.get(f"{API}/assets/QVCOIN-USD", headers=alice.headers)
    assert response.status_code == 200, response.text
    quote = response.json()["data"]["quote"]
    assert quote["source"] == "sim"
    assert quote["change_24h_percent"] is not None
    assert quote["change_24h_percent"] == quote["change_percent"]
    assert quote["currency"] == "USD"


async def test_live_quote_and_profile_update_the_asset(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    await ensure_assets(db, QUOTE_TEST_ASSET)
    fake.add(FMP_QUOTE, fmp_quote("QVQT"))
    fake.add(FMP_PROFILE, fmp_profile("QVQT", "Quote Test Inc", industry="Widgets"))
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        response = await client.get(f"{API}/assets/QVQT", headers=account.headers)
        again = await client.get(f"{API}/assets/QVQT", headers=account.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["quote"]["source"] == "fmp"
    assert data["quote"]["price"] == "256.08"
    assert data["quote"]["stale"] is False
    assert data["quote"]["as_of"] == "2025-09-22T20:00:01Z"
    assert data["profile"]["source"] == "fmp"
    assert data["profile"]["industry"] == "Widgets"
    assert data["industry"] == "Widgets"  # a live profile's facts land on the asset
    assert data["sector"] == "Technology"
    assert Decimal(data["market_cap"]) == Decimal("3800327071200")
    assert again.json()["data"]["quote"] == data["quote"]
    assert len(fake.requests(FMP_QUOTE)) == 1  # the second came from the cache
    row = await asset_row(db, "QVQT")
    assert row is not None
    assert row.industry == "Widgets"


async def test_an_absurd_provider_number_is_dropped_not_a_500(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    await ensure_assets(db, QUOTE_TEST_ASSET)
    fake.add(FMP_QUOTE, fmp_quote("QVQT", marketCap=1e40, volume=-5e33))
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        response = await client.get(f"{API}/assets/QVQT", headers=account.headers)
    assert response.status_code == 200, response.text
    quote = response.json()["data"]["quote"]
    assert quote["price"] == "256.08"
    assert quote["market_cap"] is None
    assert quote["volume"] is None


async def test_providers_down_serve_the_last_known_quote_as_stale(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    assets = await ensure_assets(db, QUOTE_TEST_ASSET)
    fetched = datetime.now(UTC) - timedelta(hours=3)
    async with db.transaction() as session:
        session.add(
            AssetQuote(
                asset_id=assets["QVQT"].id,
                price=Decimal("12.3400"),
                change=Decimal("0.1"),
                change_percent=Decimal("0.82"),
                volume=Decimal("1000"),
                market_cap=None,
                currency="USD",
                as_of=fetched,
                source="fmp",
                fetched_at=fetched,
            )
        )
    fake.add(FMP_QUOTE, server_error())
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        response = await client.get(f"{API}/assets/QVQT", headers=account.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["quote"]["price"] == "12.34"
    assert data["quote"]["source"] == "fmp"
    assert data["quote"]["stale"] is True
    assert data["profile"] is None
    assert data["name"] == "Quote Test Inc"


async def test_providers_down_without_history_give_a_null_quote(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    await ensure_assets(db, QUOTE_TEST_ASSET)
    fake.add(FMP_QUOTE, server_error())
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        response = await client.get(f"{API}/assets/QVQT", headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["quote"] is None
    assert response.json()["data"]["profile"] is None


async def test_fresh_database_quote_is_served_without_a_provider_call(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    """Another process fetched it a moment ago: the row answers while it is younger than TTL."""
    assets = await ensure_assets(db, QUOTE_TEST_ASSET)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        session.add(
            AssetQuote(
                asset_id=assets["QVQT"].id,
                price=Decimal("99.5"),
                change=None,
                change_percent=None,
                volume=None,
                market_cap=None,
                currency="USD",
                as_of=now,
                source="fmp",
                fetched_at=now,
            )
        )
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        response = await client.get(f"{API}/assets/QVQT", headers=account.headers)
    quote = response.json()["data"]["quote"]
    assert quote["price"] == "99.5"
    assert (quote["source"], quote["stale"]) == ("fmp", False)
    assert fake.requests(FMP_QUOTE) == []


# --- Universes --------------------------------------------------------------------------------


async def test_universe_add_while_providers_are_down_adds_pending(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    await ensure_assets(db)
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        created = await client.post(
            f"{API}/universes", json={"name": "Pending"}, headers=account.headers
        )
        universe_id = created.json()["data"]["id"]
        response = await client.post(
            f"{API}/universes/{universe_id}/assets",
            json={"add": ["AAPL", "qvpend"]},
            headers=account.headers,
        )
        detail = await client.get(f"{API}/universes/{universe_id}", headers=account.headers)
        members = await client.get(f"{API}/universes/{universe_id}/assets", headers=account.headers)
        asset = await client.get(f"{API}/assets/QVPEND", headers=account.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert [(r["symbol"], r["status"]) for r in data["results"]] == [
        ("AAPL", "added"),
        ("QVPEND", "added_pending"),
    ]
    assert data["counts"]["added_pending"] == 1
    assert data["asset_count"] == 2
    assert response.json()["message"].startswith("1 added, 1 pending validation")
    assert detail.json()["data"]["by_validation_status"] == {"valid": 1, "pending": 1, "invalid": 0}
    assert [(a["symbol"], a["validation_status"]) for a in members.json()["data"]["items"]] == [
        ("AAPL", "valid"),
        ("QVPEND", "pending"),
    ]
    row = await asset_row(db, "QVPEND")
    assert row is not None
    assert (row.validation_status, row.name, row.is_validated) == (
        ValidationStatus.PENDING,
        "QVPEND",
        False,
    )
    assert "QVPEND" in await queued(db)
    assert asset.status_code == 200
    assert asset.json()["data"]["validation_status"] == "pending"


async def test_a_pending_symbol_stays_private_until_a_provider_confirms_it(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    """User A types a symbol no provider can confirm now: it is added to A's universe as pending,
    and nobody else sees it (asset page, search, a universe of their own needs its own check)
    until a provider confirms it; then it is a catalog asset for everyone."""
    await ensure_assets(db)
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        alice = await create_user(db, custom)
        bob = await create_user(db, custom)
        created = await client.post(
            f"{API}/universes", json={"name": "Mine", "symbols": ["QVIPOX"]}, headers=alice.headers
        )
        assert created.status_code == 201, created.text

        mine = await client.get(f"{API}/assets/QVIPOX", headers=alice.headers)
        theirs = await client.get(f"{API}/assets/QVIPOX", headers=bob.headers)
        found_by_bob = await client.get(
            f"{API}/assets/search", params={"q": "QVIPOX"}, headers=bob.headers
        )
        found_by_alice = await client.get(
            f"{API}/assets/search", params={"q": "QVIPOX"}, headers=alice.headers
        )
        assert mine.status_code == 200
        assert mine.json()["data"]["validation_status"] == "pending"
        assert theirs.status_code == 404
        assert theirs.json()["error"]["code"] == "asset_not_found"
        assert found_by_bob.json()["data"]["items"] == []
        assert found_by_alice.json()["data"]["items"] == []  # search lists settled assets only

        # A provider confirms it (the background job, or anyone asking again): public now.
        fake.reset()
        fake.add(FMP_PROFILE, fmp_profile("QVIPOX", "Newly Listed Inc"))
        await asyncio.sleep(custom.breaker_cooldown_seconds + 0.1)  # the failures above opened it
        confirmed = await client.post(
            f"{API}/assets/validate", json={"symbols": ["QVIPOX"]}, headers=alice.headers
        )
        assert confirmed.json()["data"]["results"][0]["valid"] is True, confirmed.text
        now_public = await client.get(f"{API}/assets/QVIPOX", headers=bob.headers)
    assert now_public.status_code == 200, now_public.text
    assert now_public.json()["data"]["validation_status"] == "valid"
    assert now_public.json()["data"]["name"] == "Newly Listed Inc"


async def test_universe_add_validates_with_a_provider(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, fmp_profile("QVNEW", "Brand New Listing SA"))
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        created = await client.post(
            f"{API}/universes",
            json={"name": "Fresh", "symbols": ["QVNEW"]},
            headers=account.headers,
        )
        assert created.status_code == 201, created.text
        fake.add(FMP_PROFILE, Reply(body=[]))
        universe_id = created.json()["data"]["id"]
        refused = await client.post(
            f"{API}/universes/{universe_id}/assets",
            json={"add": ["QVNOTREAL"]},
            headers=account.headers,
        )
        members = await client.get(f"{API}/universes/{universe_id}/assets", headers=account.headers)
    assert created.json()["data"]["by_validation_status"]["valid"] == 1
    member = members.json()["data"]["items"][0]
    assert (member["symbol"], member["name"]) == ("QVNEW", "Brand New Listing SA")
    row = await asset_row(db, "QVNEW")
    assert row is not None
    assert row.validation_source == "fmp"
    assert [r["status"] for r in refused.json()["data"]["results"]] == ["unknown_symbol"]
    assert await asset_row(db, "QVNOTREAL") is None


async def test_universe_add_of_a_pending_asset_again_reports_pending(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, server_error())
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (_, client):
        account = await create_user(db, custom)
        ids = []
        for name in ("One", "Two"):
            created = await client.post(
                f"{API}/universes", json={"name": name}, headers=account.headers
            )
            ids.append(created.json()["data"]["id"])
        statuses = []
        for universe_id in ids:
            response = await client.post(
                f"{API}/universes/{universe_id}/assets",
                json={"add": ["QVTWICE"]},
                headers=account.headers,
            )
            statuses.append(response.json()["data"]["results"][0]["status"])
    assert statuses == ["added_pending", "added_pending"]
