"""Transactions that tell the truth: no provider call inside an open transaction, and caches
learn only what a commit made true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.market.validation import CACHE_KIND
from tests import pg
from tests.factories import create_user, ensure_assets
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.support import (
    API,
    FMP_PROFILE,
    FMP_QUOTE,
    asset_row,
    fmp_profile,
    live_client,
    live_settings,
)

HANG_SECONDS = 2.0


def _hanging_profile(symbol: str) -> Reply:
    profile = fmp_profile(symbol, "Slow Answer Inc")
    return Reply(body=profile.body, delay=HANG_SECONDS)


def _idle_in_transaction(database_name: str) -> list[str]:
    """What PostgreSQL says about our database's connections that sit inside a transaction."""
    with psycopg.connect(pg.ADMIN_DSN) as admin:
        rows = admin.execute(
            "SELECT state, query FROM pg_stat_activity "
            "WHERE datname = %s AND state LIKE 'idle in transaction%%'",
            (database_name,),
        ).fetchall()
    return [f"{state}: {query}" for state, query in rows]


async def _while_the_provider_hangs(
    app: FastAPI, fake: FakeHttpServer, call: Awaitable[httpx.Response]
) -> tuple[httpx.Response, dict[str, int], list[str]]:
    """Start ``call``; once the provider has the request and is not answering, look at every
    connection: which are checked out of our pools, which sit idle inside a transaction."""
    task = asyncio.ensure_future(call)
    deadline = time.monotonic() + HANG_SECONDS
    while not fake.requests(FMP_PROFILE):
        assert time.monotonic() < deadline, "the provider was never asked"
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # well inside the hang
    assert not task.done()
    db: Database = app.state.db
    checked_out = db.pool_status()
    idle: list[str] = []
    if db.kind == "postgresql":
        idle = _idle_in_transaction(db.engine.url.database or "")
    return await task, checked_out, idle


@pytest.mark.parametrize(
    "request_kind", ["validate", "add_to_universe", "create_universe", "get_asset"]
)
async def test_a_hanging_provider_holds_no_database_connection(
    db: Database, settings: Settings, fake: FakeHttpServer, request_kind: str
) -> None:
    await ensure_assets(db)
    symbol = f"QVHANG{request_kind[:3].upper()}"
    fake.add(FMP_PROFILE, _hanging_profile(symbol))
    fake.add(FMP_QUOTE, Reply(body=[], delay=HANG_SECONDS))
    custom = live_settings(settings, fake, ("fmp",), fmp_timeout_seconds=HANG_SECONDS + 3)
    async with live_client(custom) as (app, client):
        account = await create_user(db, custom)
        headers = account.headers
        calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
            "validate": lambda: client.post(
                f"{API}/assets/validate", json={"symbols": [symbol]}, headers=headers
            ),
            "create_universe": lambda: client.post(
                f"{API}/universes", json={"name": "Hang", "symbols": [symbol]}, headers=headers
            ),
            "get_asset": lambda: client.get(f"{API}/assets/AAPL", headers=headers),
        }
        if request_kind == "add_to_universe":
            created = await client.post(f"{API}/universes", json={"name": "H"}, headers=headers)
            universe_id = created.json()["data"]["id"]
            calls["add_to_universe"] = lambda: client.post(
                f"{API}/universes/{universe_id}/assets", json={"add": [symbol]}, headers=headers
            )
        response, checked_out, idle = await _while_the_provider_hangs(
            app, fake, calls[request_kind]()
        )
    assert response.status_code in (200, 201), response.text
    assert checked_out == {"main": 0, **({"system": 0} if "system" in checked_out else {})}, (
        f"connections held while the provider hangs: {checked_out}"
    )
    assert idle == []
    if request_kind != "get_asset":  # the provider's answer was recorded, after the wait
        row = await asset_row(db, symbol)
        assert row is not None
        assert row.validation_status == "valid"


async def test_a_rolled_back_change_leaves_nothing_in_the_cache(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    """A provider confirms a symbol while a universe change is refused as a whole: the asset row
    it would have created rolls back, and so must the cache's "valid"."""
    await ensure_assets(db)
    fake.add(FMP_PROFILE, fmp_profile("QVROLL", "Rolled Back plc"))
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (app, client):
        account = await create_user(db, custom)
        created = await client.post(f"{API}/universes", json={"name": "R"}, headers=account.headers)
        universe_id = created.json()["data"]["id"]
        refused = await client.post(
            f"{API}/universes/{universe_id}/assets",
            json={"add": ["QVROLL"], "remove": ["QVROLL"]},  # both: refused after validation
            headers=account.headers,
        )
        cached: Any = await app.state.market.cache.get(CACHE_KIND, "QVROLL")
        assert len(fake.requests(FMP_PROFILE)) == 1  # the provider was asked and said yes
    assert refused.status_code == 422, refused.text
    assert await asset_row(db, "QVROLL") is None
    assert cached is None


async def test_a_committed_answer_is_cached(
    db: Database, settings: Settings, fake: FakeHttpServer
) -> None:
    fake.add(FMP_PROFILE, fmp_profile("QVKEEP", "Kept Answer plc"))
    custom = live_settings(settings, fake, ("fmp",))
    async with live_client(custom) as (app, client):
        account = await create_user(db, custom)
        ok = await client.post(
            f"{API}/assets/validate", json={"symbols": ["QVKEEP"]}, headers=account.headers
        )
        cached: Any = await app.state.market.cache.get(CACHE_KIND, "QVKEEP")
    assert ok.status_code == 200, ok.text
    assert cached is not None
    assert cached["valid"] is True
    assert (await asset_row(db, "QVKEEP")) is not None
