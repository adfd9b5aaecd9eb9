"""`quantdesk user create|token|promote|demote` as a shell runs them: the token alone on stdout,
and it works; admins pass admin-only routes, others get 403."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from quantdesk.auth.dependencies import AdminUser
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from tests.cli.support import bash, cli_env, quantdesk

PASSWORD = "a sturdy passphrase"


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return cli_env(
        QUANTDESK_DATABASE_URL=settings.resolved_database_url,
        QUANTDESK_NEW_USER_PASSWORD=PASSWORD,
    )


async def test_create_user_then_capture_a_token_that_authenticates(
    db: Database, client: httpx.AsyncClient, env: dict[str, str], tmp_path: Path
) -> None:
    created = quantdesk("user", "create", "Operator@Example.com", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created operator@example.com (")

    # The issue's own line, in a real shell, with every log line asked for.
    shell = bash(
        'TOKEN=$("$QUANTDESK" -v user token operator@example.com --name ci); printf %s "$TOKEN"',
        env={**env, "QUANTDESK_LOG_LEVEL": "DEBUG"},
        cwd=tmp_path,
    )
    assert shell.returncode == 0, shell.stderr
    token = shell.stdout
    assert token.startswith("qd_")
    assert len(token.split()) == 1
    assert "api_token_created" in shell.stderr  # the log line exists, on stderr

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["data"]["email"] == "operator@example.com"

    # An agent's token: it reads, and is refused any change.
    minted = quantdesk(
        "user", "token", "operator@example.com", "--read-only", env=env, cwd=tmp_path
    )
    assert minted.returncode == 0, minted.stderr
    reader = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    assert (await client.get("/api/v1/universes", headers=reader)).status_code == 200
    refused = await client.post("/api/v1/universes", json={"name": "x"}, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"


async def test_bad_input_duplicates_and_unknown_accounts_are_clear(
    db: Database, env: dict[str, str], tmp_path: Path
) -> None:
    short = quantdesk(
        "user",
        "create",
        "x@example.com",
        env={**env, "QUANTDESK_NEW_USER_PASSWORD": "short"},
        cwd=tmp_path,
    )
    assert short.returncode == 2
    assert short.stdout == ""
    assert "password" in short.stderr

    assert quantdesk("user", "create", "dup@example.com", env=env, cwd=tmp_path).returncode == 0
    again = quantdesk("user", "create", "dup@example.com", env=env, cwd=tmp_path)
    assert again.returncode == 1
    assert "already exists" in again.stderr

    unknown = quantdesk("user", "token", "nobody@example.com", env=env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        "error: no account with email nobody@example.com",
        "  create one with: quantdesk user create EMAIL",
    ]


async def test_admins_are_made_by_the_operator_and_only_they_pass_admin_routes(
    db: Database, client: httpx.AsyncClient, app: FastAPI, env: dict[str, str], tmp_path: Path
) -> None:
    created = quantdesk("user", "create", "root@example.com", "--admin", env=env, cwd=tmp_path)
    assert created.stdout.startswith("created admin root@example.com (")
    assert quantdesk("user", "create", "ann@example.com", env=env, cwd=tmp_path).returncode == 0

    async def admin_only(user: AdminUser) -> dict[str, str]:
        return {"admin": user.email}

    # A route only admins may call, on the session's app for this test only (out of the schema).
    app.add_api_route("/test/admin-only", admin_only, methods=["GET"], include_in_schema=False)
    probe = app.router.routes[-1]
    try:
        await _check_admin_routes(client, env, tmp_path)
    finally:
        app.router.routes.remove(probe)

    unknown = quantdesk("user", "promote", "nobody@example.com", env=env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert "no account with email nobody@example.com" in unknown.stderr


async def _check_admin_routes(
    client: httpx.AsyncClient, env: dict[str, str], tmp_path: Path
) -> None:
    async def status_of(email: str) -> tuple[int, bool]:
        token = quantdesk("user", "token", email, env=env, cwd=tmp_path).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        me = await client.get("/api/v1/auth/me", headers=headers)
        response = await client.get("/test/admin-only", headers=headers)
        return response.status_code, me.json()["data"]["is_admin"]

    assert await status_of("root@example.com") == (200, True)
    assert await status_of("ann@example.com") == (403, False)

    promoted = quantdesk("user", "promote", "ann@example.com", env=env, cwd=tmp_path)
    assert promoted.stdout.strip() == "ann@example.com is now an admin"
    assert await status_of("ann@example.com") == (200, True)
    demoted = quantdesk("user", "demote", "ann@example.com", env=env, cwd=tmp_path)
    assert demoted.stdout.strip() == "ann@example.com is no longer an admin"
    assert await status_of("ann@example.com") == (403, False)
