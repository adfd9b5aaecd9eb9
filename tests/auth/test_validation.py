"""Bad input is a 422 naming the field, and leaves nothing behind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from quantdesk.kit.db import Database
from tests.auth.helpers import STRONG_PASSWORD, count_tokens, count_users, error_fields
from tests.factories import Account

GOOD_EMAIL = "valid@example.com"

SIGNUP_CASES: list[tuple[str, Any, str]] = [
    ("not an email", {"email": "not-an-email", "password": STRONG_PASSWORD}, "email"),
    ("no domain dot", {"email": "a@localhost", "password": STRONG_PASSWORD}, "email"),
    ("zero-width space", {"email": "bad\u200b@example.com", "password": STRONG_PASSWORD}, "email"),
    ("two at-signs", {"email": "ü@@example.com", "password": STRONG_PASSWORD}, "email"),
    ("NUL in email", {"email": "a\x00b@example.com", "password": STRONG_PASSWORD}, "email"),
    ("short password", {"email": GOOD_EMAIL, "password": "123456789"}, "password"),
    ("long password", {"email": GOOD_EMAIL, "password": "x" * 129}, "password"),
    (
        "huge display name",
        {"email": GOOD_EMAIL, "password": STRONG_PASSWORD, "display_name": "n" * 10_000},
        "display_name",
    ),
    (
        "display name of 101",
        {"email": GOOD_EMAIL, "password": STRONG_PASSWORD, "display_name": "n" * 101},
        "display_name",
    ),
    (
        "control char in name",
        {"email": GOOD_EMAIL, "password": STRONG_PASSWORD, "display_name": "a\x00b"},
        "display_name",
    ),
    (
        "blank display name",
        {"email": GOOD_EMAIL, "password": STRONG_PASSWORD, "display_name": "   "},
        "display_name",
    ),
    ("email is a number", {"email": 42, "password": STRONG_PASSWORD}, "email"),
    ("password is a number", {"email": GOOD_EMAIL, "password": 12345678901}, "password"),
    (
        "display name is a list",
        {"email": GOOD_EMAIL, "password": STRONG_PASSWORD, "display_name": ["Ada"]},
        "display_name",
    ),
    ("missing password", {"email": GOOD_EMAIL}, "password"),
    ("empty object", {}, "email"),
    (
        "unknown field",
        {"email": GOOD_EMAIL, "password": STRONG_PASSWORD, "is_admin": True},
        "is_admin",
    ),
    ("array body", [GOOD_EMAIL, STRONG_PASSWORD], "body"),
]


@pytest.mark.parametrize(
    ("payload", "field"),
    [pytest.param(payload, field, id=case) for case, payload, field in SIGNUP_CASES],
)
async def test_signup_rejects_bad_input(
    client: httpx.AsyncClient, db: Database, payload: Any, field: str
) -> None:
    before = await count_users(db)
    response = await client.post("/api/v1/auth/signup", json=payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    assert field in error_fields(response)
    assert await count_users(db) == before


async def test_signup_with_an_empty_or_malformed_body_is_422(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await count_users(db)
    empty = await client.post("/api/v1/auth/signup")
    assert empty.status_code == 422
    assert error_fields(empty) == ["body"]
    malformed = await client.post(
        "/api/v1/auth/signup", content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 422
    assert malformed.json()["error"]["code"] == "validation_error"
    null = await client.post(
        "/api/v1/auth/signup", content=b"null", headers={"Content-Type": "application/json"}
    )
    assert null.status_code == 422
    assert error_fields(null) == ["body"]
    assert await count_users(db) == before


async def test_password_length_bounds_are_inclusive(
    client: httpx.AsyncClient, db: Database
) -> None:
    for index, password in enumerate(("x" * 10, "y" * 128)):
        response = await client.post(
            "/api/v1/auth/signup", json={"email": f"bound{index}@example.com", "password": password}
        )
        assert response.status_code == 201, response.text
    assert await count_users(db) == 2


async def test_valid_international_email_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/signup", json={"email": "JOSÉ@Example.com", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["email"] == "josé@example.com"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"email": "nope", "password": "whatever"}, "email", id="bad email"),
        pytest.param({"email": GOOD_EMAIL, "password": ""}, "password", id="empty password"),
        pytest.param({"email": GOOD_EMAIL, "password": "p" * 129}, "password", id="huge password"),
        pytest.param({"email": GOOD_EMAIL, "password": None}, "password", id="null password"),
        pytest.param({"email": GOOD_EMAIL}, "password", id="missing password"),
    ],
)
async def test_login_rejects_bad_input(
    client: httpx.AsyncClient, payload: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/auth/login", json=payload)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"name": ""}, "name", id="empty name"),
        pytest.param({"name": "   "}, "name", id="blank name"),
        pytest.param({"name": "n" * 101}, "name", id="long name"),
        pytest.param({"name": "tab\tname"}, "name", id="control char"),
        pytest.param({"name": 7}, "name", id="name is a number"),
        pytest.param({}, "name", id="missing name"),
        pytest.param({"name": "ok", "expires_in_days": 0}, "expires_in_days", id="zero days"),
        pytest.param({"name": "ok", "expires_in_days": -3}, "expires_in_days", id="negative"),
        pytest.param({"name": "ok", "expires_in_days": 3651}, "expires_in_days", id="too long"),
        pytest.param({"name": "ok", "expires_in_days": "30"}, "expires_in_days", id="string"),
        pytest.param({"name": "ok", "expires_in_days": True}, "expires_in_days", id="bool"),
        pytest.param({"name": "ok", "expires_in_days": 1.5}, "expires_in_days", id="float"),
        pytest.param({"name": "ok", "scopes": ["all"]}, "scopes.0", id="unknown scope"),
        pytest.param({"name": "ok", "scopes": []}, "scopes", id="no scope"),
        pytest.param({"name": "ok", "admin": True}, "admin", id="unknown field"),
    ],
)
async def test_create_api_token_rejects_bad_input(
    client: httpx.AsyncClient, db: Database, alice: Account, payload: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/auth/tokens", headers=alice.headers, json=payload)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    assert await count_tokens(db, alice.user.id) == 0


async def test_revoke_with_a_malformed_id_is_422(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.delete("/api/v1/auth/tokens/not-a-uuid", headers=alice.headers)
    assert response.status_code == 422
    assert error_fields(response) == ["token_id"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({"email": "not-an-email"}, "email", id="bad email"),
        pytest.param({"email": None}, "email", id="null email"),
        pytest.param({"email": "ok\u200b@example.com"}, "email", id="zero-width email"),
        pytest.param({"display_name": "d" * 101}, "display_name", id="long name"),
        pytest.param({"display_name": 5}, "display_name", id="name is a number"),
        pytest.param(
            {"password": "short", "current_password": "correct horse battery staple"},
            "password",
            id="short password",
        ),
        pytest.param({"password": None}, "password", id="null password"),
        pytest.param({"is_active": False}, "is_active", id="unknown field"),
    ],
)
async def test_update_me_rejects_bad_input_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, payload: dict[str, Any], field: str
) -> None:
    before = (await client.get("/api/v1/auth/me", headers=alice.headers)).json()["data"]
    response = await client.patch("/api/v1/auth/me", headers=alice.headers, json=payload)
    assert response.status_code == 422, response.text
    assert field in error_fields(response)
    after = (await client.get("/api/v1/auth/me", headers=alice.headers)).json()["data"]
    assert after == before
    login = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": alice.password}
    )
    assert login.status_code == 200
