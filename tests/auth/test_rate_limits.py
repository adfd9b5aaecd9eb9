"""Login attempts are budgeted per account and per client address: 429 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from tests.factories import Account


def _assert_rate_limited(response: httpx.Response, *, window_seconds: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limited"
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= window_seconds


@asynccontextmanager
async def _app_client(settings: Settings, client_ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a dedicated app (its own limiter) that appears to come from ``client_ip``."""
    application = create_app(settings)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, client=(client_ip, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_default_per_account_limit_is_five_a_minute(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    assert Settings(_env_file=None).login_rate_limit_per_account == "5/minute"
    for _ in range(5):
        response = await client.post(
            "/api/v1/auth/login", json={"email": "alice@example.com", "password": "guess-guess"}
        )
        assert response.status_code == 401
    # Spent: even the right password, in another case of the address, waits.
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": "ALICE@example.com", "password": alice.password}
    )
    _assert_rate_limited(blocked, window_seconds=60)
    assert "access_token" not in blocked.text

    # Another account from the same address is not affected.
    other = await client.post(
        "/api/v1/auth/login", json={"email": "bob@example.com", "password": bob.password}
    )
    assert other.status_code == 200, other.text


async def test_per_ip_limit_spans_accounts(
    db: Database, settings: Settings, alice: Account
) -> None:
    tight = settings.model_copy(
        update={"login_rate_limit_per_ip": "3/hour", "login_rate_limit_per_account": "100/hour"}
    )
    async with _app_client(tight, "203.0.113.7") as attacker:
        for index in range(3):
            response = await attacker.post(
                "/api/v1/auth/login",
                json={"email": f"victim{index}@example.com", "password": "guess-guess"},
            )
            assert response.status_code == 401
        blocked = await attacker.post(
            "/api/v1/auth/login", json={"email": "alice@example.com", "password": alice.password}
        )
        _assert_rate_limited(blocked, window_seconds=3600)

        # Signups keep their own per-IP budget: a spent login budget does not block them.
        signup = await attacker.post(
            "/api/v1/auth/signup",
            json={"email": "fresh@example.com", "password": "a long enough password"},
        )
        assert signup.status_code == 201, signup.text


async def test_addresses_are_counted_separately_in_one_app(
    db: Database, settings: Settings, alice: Account
) -> None:
    tight = settings.model_copy(update={"login_rate_limit_per_ip": "2/minute"})
    application = create_app(tight)
    async with LifespanManager(application):

        def client_from(ip: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=application, client=(ip, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://testserver")

        async with client_from("192.0.2.1") as first, client_from("192.0.2.2") as second:
            body = {"email": "nobody@example.com", "password": "guess-guess"}
            for _ in range(2):
                assert (await first.post("/api/v1/auth/login", json=body)).status_code == 401
            _assert_rate_limited(
                await first.post("/api/v1/auth/login", json=body), window_seconds=60
            )
            good = {"email": "alice@example.com", "password": alice.password}
            assert (await second.post("/api/v1/auth/login", json=good)).status_code == 200


async def test_signups_per_address_are_limited(db: Database, settings: Settings) -> None:
    tight = settings.model_copy(update={"login_rate_limit_per_ip": "2/minute"})
    async with _app_client(tight, "192.0.2.9") as c:
        for index in range(2):
            response = await c.post(
                "/api/v1/auth/signup",
                json={"email": f"bulk{index}@example.com", "password": "a long enough password"},
            )
            assert response.status_code == 201
        blocked = await c.post(
            "/api/v1/auth/signup",
            json={"email": "bulk9@example.com", "password": "a long enough password"},
        )
        _assert_rate_limited(blocked, window_seconds=60)


async def test_password_change_guesses_spend_the_account_budget(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for _ in range(5):
        response = await client.patch(
            "/api/v1/auth/me",
            headers=alice.headers,
            json={"password": "a new long password", "current_password": "guess-guess"},
        )
        assert response.status_code == 422
    blocked = await client.patch(
        "/api/v1/auth/me",
        headers=alice.headers,
        json={"password": "a new long password", "current_password": alice.password},
    )
    _assert_rate_limited(blocked, window_seconds=60)
