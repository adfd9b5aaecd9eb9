"""GET /metrics: the families, labels by route template, no user data, the recording hooks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from quantdesk.kit import activity
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.http_metrics import MetricsMiddleware
from quantdesk.system import scrape as scrape_probes
from tests.factories import DEFAULT_PASSWORD, Account, create_api_token

FAMILIES = (
    "quantdesk_http_requests",
    "quantdesk_http_request_duration_seconds",
    "quantdesk_jobs_queue_depth",
    "quantdesk_jobs_running",
    "quantdesk_provider_breaker_state",
    "quantdesk_db_pool_connections_in_use",
    "quantdesk_db_pool_size",
    "quantdesk_activity_active",
    "quantdesk_activity_events",
    "quantdesk_metrics_probe_success",
    "quantdesk_build_info",
    "quantdesk_market_queue_oldest_due_seconds",
    "quantdesk_market_watched_pairs",
    "quantdesk_market_fresh_ratio",
)
UUID_LIKE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_count(route: str, method: str, status: str) -> float:
    return sample("quantdesk_http_requests_total", route=route, method=method, status=status)


@pytest.fixture
def fresh_activity() -> Iterator[activity.ActivityMonitor]:
    """The process's monitor, emptied (events of earlier tests may slide out mid-test)."""
    monitor = activity.monitor()
    saved = (monitor.window_seconds, monitor.active_threshold, monitor.idle_threshold)
    monitor.reset()
    yield monitor
    monitor.reset()
    monitor.configure(window_seconds=saved[0], active_threshold=saved[1], idle_threshold=saved[2])


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def test_metrics_is_prometheus_text_with_every_family(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert set(FAMILIES) <= families, set(FAMILIES) - families
    probes = {
        s.labels["probe"]: s.value
        for family in text_string_to_metric_families(response.text)
        if family.name == "quantdesk_metrics_probe_success"
        for s in family.samples
    }
    assert probes == {"jobs": 1.0, "providers": 1.0, "market": 1.0}


async def test_openmetrics_is_served_when_the_scraper_asks_for_it(
    client: httpx.AsyncClient,
) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = await client.get("/metrics", headers={"Accept": accept})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


async def test_requests_are_labelled_by_route_template_never_by_path(
    client: httpx.AsyncClient, alice: Account
) -> None:
    universe_id = uuid.uuid4()
    template = "/api/v1/universes/{universe_id}"
    before = requests_count(template, "GET", "404")
    unmatched_before = requests_count("unmatched", "GET", "404")

    response = await client.get(f"/api/v1/universes/{universe_id}", headers=alice.headers)
    # Under /api: any other path is the dashboard's, a client-side route (see kit/spa.py).
    await client.get("/api/no/such/page-0123456789abcdef")

    assert response.status_code == 404
    assert requests_count(template, "GET", "404") == before + 1
    assert requests_count("unmatched", "GET", "404") == unmatched_before + 1
    duration = sample("quantdesk_http_request_duration_seconds_count", route=template, method="GET")
    assert duration >= 1


async def test_no_id_email_or_secret_reaches_the_metrics(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    login = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    access_token = login.json()["data"]["access_token"]
    token, secret = await create_api_token(db, alice.user)
    universe_id = uuid.uuid4()
    await client.get(f"/api/v1/universes/{universe_id}", headers=alice.headers)
    await client.delete(f"/api/v1/auth/tokens/{token.id}", headers=alice.headers)
    await client.get(f"/api/v1/assets/ZZSECRETSYM?token={secret}")
    await client.get("/wp-admin/alice@example.com/setup.php")

    body = await scrape(client)

    for private in (
        "alice@example.com",
        access_token,
        secret,
        str(universe_id),
        str(token.id),
        str(alice.user.id),
        "ZZSECRETSYM",
        "wp-admin",
    ):
        assert private not in body
    assert not UUID_LIKE.search(body)
    routes = {
        s.labels["route"]
        for family in text_string_to_metric_families(body)
        if family.name == "quantdesk_http_requests"
        for s in family.samples
    }
    assert "/api/v1/auth/tokens/{token_id}" in routes
    assert "/api/v1/assets/{symbol}" in routes
    assert all(r in ("unmatched", "other") or r.startswith("/") for r in routes)


async def test_logins_ok_failed_and_lockouts_are_counted(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    def attempts(outcome: str) -> float:
        return sample("quantdesk_login_attempts_total", outcome=outcome)

    ok, failed, locked = attempts("ok"), attempts("failed"), attempts("locked_out")
    good = {"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    bad = {"email": "alice@example.com", "password": "not the password"}

    assert (await client.post("/api/v1/auth/login", json=good)).status_code == 200
    per_account = int(settings.login_rate_limit_per_account.split("/")[0])
    statuses = [
        (await client.post("/api/v1/auth/login", json=bad)).status_code for _ in range(per_account)
    ]

    assert statuses == [401] * (per_account - 1) + [429]
    assert attempts("ok") == ok + 1
    assert attempts("failed") == failed + per_account - 1
    assert attempts("locked_out") == locked + 1


async def test_pool_in_use_is_read_from_the_engine(settings: Settings) -> None:
    database = Database(settings)  # its own pool: nothing else checks connections out of it
    try:
        async with database.engine.connect(), database.engine.connect():
            scrape_probes.pool_usage(database.engine)
            while_held = sample("quantdesk_db_pool_connections_in_use")
        scrape_probes.pool_usage(database.engine)
        after = sample("quantdesk_db_pool_connections_in_use")
    finally:
        await database.dispose()

    assert (while_held, after) == (2.0, 0.0)
    assert sample("quantdesk_db_pool_size") >= 2


async def test_activity_gauge_follows_the_monitor(
    client: httpx.AsyncClient, fresh_activity: activity.ActivityMonitor
) -> None:
    fresh_activity.configure(
        window_seconds=fresh_activity.window_seconds, active_threshold=3, idle_threshold=1
    )
    await client.get("/api/v1/status")  # a probe: not activity
    await scrape(client)
    idle = sample("quantdesk_activity_active")
    for _ in range(3):
        await client.get("/api/v1/assets/search", params={"q": "apple"})
    await scrape(client)

    assert idle == 0.0
    assert sample("quantdesk_activity_active") == 1.0
    assert sample("quantdesk_activity_events", kind="request") == 3.0


async def test_status_reports_the_activity_window(
    client: httpx.AsyncClient,
    alice: Account,
    settings: Settings,
    fresh_activity: activity.ActivityMonitor,
) -> None:
    before = (await client.get("/api/v1/status")).json()["data"]["activity"]
    await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    after = (await client.get("/api/v1/status")).json()["data"]["activity"]

    assert after["state"] in ("active", "idle")
    assert set(after["events"]) == {"request", "login", "trading", "watching"}
    assert after["window_seconds"] == settings.activity_window_seconds
    assert before["events"] == {"request": 0, "login": 0, "trading": 0, "watching": 0}
    # The login request counts; the two status polls are probes and do not.
    assert after["events"] == {"request": 1, "login": 1, "trading": 0, "watching": 0}


async def test_metrics_can_be_switched_off(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"metrics_enabled": False})
    try:
        response = await client.get("/metrics")
    finally:
        app.state.settings = settings

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- the middleware on its own ------------------------------------------------------------------
async def _item(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("boom")


def _bare_app() -> Starlette:
    routes = [Route("/items/{item_id}", _item), Route("/boom", _boom), Route("/health", _item)]
    return Starlette(routes=routes, middleware=[Middleware(MetricsMiddleware)])


async def test_middleware_counts_crashes_as_500_and_odd_methods_as_other() -> None:
    transport = httpx.ASGITransport(app=_bare_app(), raise_app_exceptions=False)
    boom, odd = (
        requests_count("/boom", "GET", "500"),
        requests_count("/items/{item_id}", "other", "405"),
    )
    item = requests_count("/items/{item_id}", "GET", "200")
    async with httpx.AsyncClient(transport=transport, base_url="http://bare") as bare:
        assert (await bare.get("/boom")).status_code == 500
        assert (await bare.request("BREW", "/items/7")).status_code == 405
        assert (await bare.get("/items/8")).status_code == 200

    assert requests_count("/boom", "GET", "500") == boom + 1
    assert requests_count("/items/{item_id}", "other", "405") == odd + 1
    assert requests_count("/items/{item_id}", "GET", "200") == item + 1


async def test_middleware_records_activity_for_use_not_for_probes_or_strays(
    fresh_activity: activity.ActivityMonitor,
) -> None:
    transport = httpx.ASGITransport(app=_bare_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bare") as bare:
        await bare.get("/health")
        await bare.get("/not-a-route")
        await bare.get("/items/1")

    assert fresh_activity.counts()["request"] == 1
