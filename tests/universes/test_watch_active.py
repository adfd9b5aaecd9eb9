"""The members of recently active users' universes are watched in the background (low priority,
refreshed more often while the service is active), beside live watchers who come first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.resources import JobResources
from quantdesk.kit import activity
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import watching
from quantdesk.universes import service, tasks
from tests.factories import DEFAULT_PASSWORD, Account, ensure_assets
from tests.universes.helpers import create_universe


async def _watched(db: Database) -> dict[tuple[str, str], watching.Watched]:
    async with db.transaction(system=True) as session:
        return {(w.symbol, w.data_type): w for w in await watching.watched(session, now=utcnow())}


async def _log_in(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": account.user.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text


async def test_active_owners_universes_are_watched_in_the_background(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    await create_universe(client, alice, "Mine", symbols=["AAPL", "MSFT"])
    await create_universe(client, alice, "Also", symbols=["MSFT"])
    await create_universe(client, bob, "Dormant", symbols=["NVDA"])
    await _log_in(client, alice)  # bob never logged in: his universe is nobody's interest

    now = utcnow()
    async with db.transaction(system=True) as session:
        counts = await service.watch_active_universes(
            session, now=now, active_since=now - timedelta(hours=24), refresh_seconds=300,
            hold_seconds=900,
        )  # fmt: skip
    assert counts == {"active_users": 1, "watched_symbols": 2}
    watched = await _watched(db)
    assert set(watched) == {("AAPL", "quote"), ("MSFT", "quote")}
    assert watched["AAPL", "quote"].priority == watching.BACKGROUND_PRIORITY
    assert watched["AAPL", "quote"].refresh_seconds == 300

    # A live watcher of the same pair comes first and wants it at the type's TTL.
    await client.post(
        "/api/v1/market/subscriptions", json={"symbols": ["AAPL"]}, headers=alice.headers
    )
    live = (await _watched(db))["AAPL", "quote"]
    assert (live.watchers, live.priority, live.refresh_seconds) == (
        2, watching.LIVE_PRIORITY, None,
    )  # fmt: skip

    # Activity long ago does not count.
    async with db.transaction(system=True) as session:
        later = await service.watch_active_universes(
            session, now=now, active_since=now + timedelta(minutes=1), refresh_seconds=300,
            hold_seconds=900,
        )  # fmt: skip
    assert later == {"active_users": 0, "watched_symbols": 0}


@pytest.fixture
def quiet_then_busy(settings: Settings) -> Iterator[None]:
    yield
    activity.configure(
        window_seconds=settings.activity_window_seconds,
        active_threshold=settings.activity_active_threshold,
        idle_threshold=settings.activity_idle_threshold,
    )


async def test_the_job_refreshes_more_often_while_the_service_is_active(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    alice: Account,
    quiet_then_busy: None,
) -> None:
    await ensure_assets(db)
    await create_universe(client, alice, "Mine", symbols=["AAPL"])
    await _log_in(client, alice)
    resources = JobResources(settings, db=db)
    context = JobContext(
        operation_id=alice.user.id, kind="watch_active_universes", owner_id=None, params={},
        attempt=1, resume_from=0, resources=resources,
    )  # fmt: skip
    window = settings.activity_window_seconds

    activity.configure(window_seconds=window, active_threshold=10**9, idle_threshold=10**9)
    idle = await tasks.watch_active_universes(context)
    assert idle["refresh_seconds"] == settings.market_background_refresh_idle_seconds == 1800
    assert (await _watched(db))["AAPL", "quote"].refresh_seconds == 1800

    activity.configure(window_seconds=window, active_threshold=1, idle_threshold=1)
    activity.record("request")
    busy = await tasks.watch_active_universes(context)
    assert busy["refresh_seconds"] == settings.market_background_refresh_active_seconds == 300
    assert (await _watched(db))["AAPL", "quote"].refresh_seconds == 300
    assert busy["watched_symbols"] == 1
