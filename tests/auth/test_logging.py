"""Passwords and token secrets never reach a log line, whatever the level."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from tests.auth.helpers import bearer

PASSWORD = "Zebra-Quokka-7731-Unmistakable"


async def test_no_password_or_token_secret_in_logs(
    client: httpx.AsyncClient, json_log_output: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    email = "logged@example.com"
    signup = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "display_name": "Log"}
    )
    assert signup.status_code == 201
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD + "x"}
    )
    assert wrong.status_code == 401
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    tokens = login.json()["data"]
    created = await client.post(
        "/api/v1/auth/tokens", headers=bearer(tokens["access_token"]), json={"name": "ci"}
    )
    secret = created.json()["data"]["token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(secret))).status_code == 200
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200
    replayed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert replayed.status_code == 401
    second = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    logged_out = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": second.json()["data"]["refresh_token"]}
    )
    assert logged_out.status_code == 200
    # A rejected input that carries the password must not echo it into the logs either.
    rejected = await client.post("/api/v1/auth/signup", json={"email": "x", "password": PASSWORD})
    assert rejected.status_code == 422

    rendered = json_log_output.getvalue()
    events = [json.loads(line)["event"] for line in rendered.splitlines()]
    # The capture really saw the auth events (otherwise the checks below prove nothing).
    for expected in (
        "user_signed_up",
        "login_failed",
        "login_succeeded",
        "api_token_created",
        "session_refreshed",
        "refresh_token_reuse_detected",
        "logged_out",
    ):
        assert expected in events
    assert events.count("request") >= 10
    # The replay is logged as a security event: a warning naming the user and the session.
    reuse = next(
        line
        for line in map(json.loads, rendered.splitlines())
        if line["event"] == "refresh_token_reuse_detected"
    )
    assert reuse["level"] == "warning"
    assert reuse["user_id"] == signup.json()["data"]["id"]
    assert reuse["session_id"]

    everything = rendered + caplog.text
    for secret_value in (
        PASSWORD,
        secret,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["data"]["access_token"],
        refreshed.json()["data"]["refresh_token"],
        second.json()["data"]["refresh_token"],
    ):
        assert secret_value not in everything
