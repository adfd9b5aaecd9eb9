"""Helpers of the auth tests: count what is stored, sign up and log in through the API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from quantdesk.kit.db import Database
from quantdesk.models import ApiToken, User

STRONG_PASSWORD = "a perfectly long passphrase"


async def count_users(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def count_tokens(db: Database, owner_id: uuid.UUID) -> int:
    # Bound to the owner: on PostgreSQL row-level security hides everyone else's rows.
    async with db.transaction(user_id=owner_id) as session:
        query = select(func.count()).select_from(ApiToken).where(ApiToken.owner_id == owner_id)
        return int((await session.execute(query)).scalar_one())


async def signup(
    client: httpx.AsyncClient, email: str, password: str = STRONG_PASSWORD, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/signup", json={"email": email, "password": password, **extra}
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def login(
    client: httpx.AsyncClient, email: str, password: str = STRONG_PASSWORD
) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_fields(response: httpx.Response) -> list[str]:
    return [detail["field"] for detail in response.json()["error"]["details"]]
