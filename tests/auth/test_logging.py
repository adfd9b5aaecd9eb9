"""Passwords and token secrets never reach a log line, whatever the level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog

from tests.auth.helpers import bearer

PASSWORD = "Zebra-Quokka-7731-Unmistakable"


@pytest.fixture
def json_log_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered by the app's own JSON formatter."""
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    caplog.set_level(logging.DEBUG)  # the test settings log WARNING and up; show everything
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


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
    # A rejected input that carries the password must not echo it into the logs either.
    rejected = await client.post("/api/v1/auth/signup", json={"email": "x", "password": PASSWORD})
    assert rejected.status_code == 422

    rendered = json_log_output.getvalue()
    events = [json.loads(line)["event"] for line in rendered.splitlines()]
    # The capture really saw the auth events (otherwise the checks below prove nothing).
    for expected in ("user_signed_up", "login_failed", "login_succeeded", "api_token_created"):
        assert expected in events
    assert events.count("request") >= 7

    everything = rendered + caplog.text
    for secret_value in (
        PASSWORD,
        secret,
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["data"]["access_token"],
    ):
        assert secret_value not in everything
