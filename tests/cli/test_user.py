"""`quantdesk user create|token` go through the auth service; the minted token works."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner, Result

from quantdesk.cli.main import app as cli
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {
        "QUANTDESK_DATABASE_URL": settings.resolved_database_url,
        "QUANTDESK_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "QUANTDESK_LOG_LEVEL": "WARNING",
    }
    get_settings.cache_clear()


async def _invoke(args: list[str], env: dict[str, str]) -> Result:
    # In a thread: the command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


async def test_create_user_then_mint_a_token_that_authenticates(
    db: Database, client: httpx.AsyncClient, cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "QUANTDESK_NEW_USER_PASSWORD": "a sturdy passphrase"}
    created = await _invoke(["user", "create", "Operator@Example.com"], env)
    assert created.exit_code == 0, created.output
    assert "created operator@example.com" in created.output

    minted = await _invoke(["user", "token", "operator@example.com", "--name", "laptop"], env)
    assert minted.exit_code == 0, minted.output
    secret = minted.stdout.strip().splitlines()[-1]
    assert secret.startswith("qd_")

    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json()["data"]["email"] == "operator@example.com"

    login = await client.post(
        "/api/v1/auth/login",
        json={"email": "operator@example.com", "password": "a sturdy passphrase"},
    )
    assert login.status_code == 200


async def test_cli_rejects_bad_input_and_duplicates_clearly(
    db: Database, cli_env: dict[str, str]
) -> None:
    short = await _invoke(
        ["user", "create", "x@example.com"], {**cli_env, "QUANTDESK_NEW_USER_PASSWORD": "short"}
    )
    assert short.exit_code == 2
    assert "password" in short.output

    env = {**cli_env, "QUANTDESK_NEW_USER_PASSWORD": "a sturdy passphrase"}
    assert (await _invoke(["user", "create", "dup@example.com"], env)).exit_code == 0
    again = await _invoke(["user", "create", "dup@example.com"], env)
    assert again.exit_code == 1
    assert "already exists" in again.output

    unknown = await _invoke(["user", "token", "nobody@example.com"], env)
    assert unknown.exit_code == 1
    assert "No account" in unknown.output
