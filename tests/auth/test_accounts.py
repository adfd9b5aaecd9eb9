"""Signup, login, refresh and the current user, end to end over HTTP on a real database."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.security import issue_jwt
from tests.auth.helpers import STRONG_PASSWORD, bearer, count_users, login, signup
from tests.factories import Account


async def test_signup_login_refresh_me_round_trip(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={
            "email": "Ada.Lovelace@Example.COM",
            "password": STRONG_PASSWORD,
            "display_name": "Ada",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    assert body["next_actions"] == ["login"]
    user = body["data"]
    assert user["email"] == "ada.lovelace@example.com"
    assert user["display_name"] == "Ada"
    assert user["is_active"] is True
    assert set(user) == {
        "id", "email", "display_name", "is_active", "is_admin", "created_at", "updated_at"
    }  # fmt: skip
    assert user["is_admin"] is False  # signing up never makes an admin
    assert "$argon2" not in response.text

    # Any case of the address logs in to the same account.
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": "ADA.LOVELACE@example.com", "password": STRONG_PASSWORD},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_actions"] == ["get_me", "create_universe", "search_assets"]
    tokens = body["data"]
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] > 0
    assert tokens["expires_at"] < tokens["refresh_expires_at"]

    me = await client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == user["id"]
    assert "update_me" in me.json()["next_actions"]

    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    new_tokens = refreshed.json()["data"]
    assert new_tokens["access_token"] != tokens["access_token"]
    assert new_tokens["refresh_token"] != tokens["refresh_token"]
    me = await client.get("/api/v1/auth/me", headers=bearer(new_tokens["access_token"]))
    assert me.json()["data"]["email"] == "ada.lovelace@example.com"


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": "not the password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": alice.password}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "invalid_credentials"
    assert wrong.json()["message"] == unknown.json()["message"]
    assert "access_token" not in wrong.text


async def test_tokens_of_one_kind_do_not_pass_as_the_other(client: httpx.AsyncClient) -> None:
    await signup(client, "kinds@example.com")
    tokens = await login(client, "kinds@example.com")

    as_refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert as_refresh.status_code == 401
    assert as_refresh.json()["error"]["code"] == "invalid_refresh_token"

    as_access = await client.get("/api/v1/auth/me", headers=bearer(tokens["refresh_token"]))
    assert as_access.status_code == 401

    garbage = await client.post("/api/v1/auth/refresh", json={"refresh_token": "not.a.jwt"})
    assert garbage.status_code == 401


async def test_a_token_signed_with_another_secret_is_refused(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    forged_settings = settings.model_copy(update={"jwt_secret": SecretStr("another-secret" * 4)})
    forged = issue_jwt(forged_settings, alice.user.id, "access").token
    response = await client.get("/api/v1/auth/me", headers=bearer(forged))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_me_needs_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["next_actions"] == ["login"]


async def test_duplicate_email_is_409_in_any_case(client: httpx.AsyncClient, db: Database) -> None:
    await signup(client, "twice@example.com")
    before = await count_users(db)
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "TWICE@example.com", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"
    assert await count_users(db) == before


async def test_patch_me_to_another_users_email_is_409_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    response = await client.patch(
        "/api/v1/auth/me",
        headers=alice.headers,
        json={"email": "Bob@Example.com", "display_name": "Mallory"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"

    me = (await client.get("/api/v1/auth/me", headers=alice.headers)).json()["data"]
    assert me["email"] == "alice@example.com"
    assert me["display_name"] is None
    bob_me = (await client.get("/api/v1/auth/me", headers=bob.headers)).json()["data"]
    assert bob_me["email"] == "bob@example.com"


async def test_patch_me_to_own_current_email_is_fine(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.patch(
        "/api/v1/auth/me",
        headers=alice.headers,
        json={"email": "Alice@Example.com", "display_name": "Alice"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["email"] == "alice@example.com"
    assert data["display_name"] == "Alice"


async def test_patch_me_changes_email_and_clears_display_name(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await client.patch("/api/v1/auth/me", headers=alice.headers, json={"display_name": "Al"})
    response = await client.patch(
        "/api/v1/auth/me",
        headers=alice.headers,
        json={"email": "alice.new@example.com", "display_name": None},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["display_name"] is None
    await login(client, "alice.new@example.com", alice.password)
    old = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": alice.password}
    )
    assert old.status_code == 401


async def test_changing_the_password_needs_the_current_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    new_password = "a brand new passphrase"
    missing = await client.patch(
        "/api/v1/auth/me", headers=alice.headers, json={"password": new_password}
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "current_password"

    wrong = await client.patch(
        "/api/v1/auth/me",
        headers=alice.headers,
        json={"password": new_password, "current_password": "not the password"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"][0]["field"] == "current_password"
    await login(client, "alice@example.com", alice.password)  # still the old password

    changed = await client.patch(
        "/api/v1/auth/me",
        headers=alice.headers,
        json={"password": new_password, "current_password": alice.password},
    )
    assert changed.status_code == 200, changed.text
    await login(client, "alice@example.com", new_password)
    old = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": alice.password}
    )
    assert old.status_code == 401
