"""API token scopes: chosen at creation, shown when listed, and enforced by the REST API itself:
a read-only token may search, get and list, and gets 403 on every other method."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantdesk.agents.catalog import api_operations
from tests.auth.helpers import bearer
from tests.factories import Account

# Operations that take no bearer credential at all (they authenticate by their body).
_UNAUTHENTICATED = frozenset({"signup", "login", "refresh_token", "logout"})


async def _create(client: httpx.AsyncClient, owner: Account, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/tokens", json={"name": "agent", **body}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.mark.parametrize(
    ("asked", "granted"),
    [
        pytest.param(None, ["read", "write"], id="default: full access"),
        pytest.param(["read"], ["read"], id="read only"),
        pytest.param(["write"], ["read", "write"], id="write implies read"),
        pytest.param(["write", "read", "read"], ["read", "write"], id="canonical order"),
    ],
)
async def test_a_tokens_scopes_are_chosen_at_creation_and_listed(
    client: httpx.AsyncClient, alice: Account, asked: list[str] | None, granted: list[str]
) -> None:
    created = await _create(client, alice, **({"scopes": asked} if asked is not None else {}))
    assert created["scopes"] == granted
    listed = await client.get("/api/v1/auth/tokens", headers=alice.headers)
    assert [token["scopes"] for token in listed.json()["data"]] == [granted]


async def test_a_read_only_token_reads_and_is_refused_every_other_method(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    reader = bearer((await _create(client, alice, scopes=["read"]))["token"])
    assert (await client.get("/api/v1/universes", headers=reader)).status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=reader)).status_code == 200

    refused = []
    for method, path, operation in api_operations(app.openapi()):
        if method == "GET" or operation["operationId"] in _UNAUTHENTICATED:
            continue
        url = path
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                url = url.replace(f"{{{parameter['name']}}}", str(uuid.uuid4()))
        response = await client.request(method, url, json={}, headers=reader)
        assert response.status_code == 403, (operation["operationId"], response.text)
        assert response.json()["error"]["code"] == "insufficient_scope"
        refused.append(operation["operationId"])
    assert {"create_universe", "place_order", "create_api_token", "delete_universe"} <= set(refused)

    # Nothing was made: not even a token with more rights than its maker.
    listed = await client.get("/api/v1/auth/tokens", headers=alice.headers)
    assert len(listed.json()["data"]) == 1
    universes = await client.get("/api/v1/universes", headers=alice.headers)
    assert universes.json()["data"]["items"] == []


async def test_write_tokens_and_login_sessions_keep_full_access(
    client: httpx.AsyncClient, alice: Account
) -> None:
    writer = bearer((await _create(client, alice, scopes=["read", "write"]))["token"])
    made = await client.post("/api/v1/universes", json={"name": "By token"}, headers=writer)
    assert made.status_code == 201, made.text
    by_session = await client.post(
        "/api/v1/universes", json={"name": "By session"}, headers=alice.headers
    )
    assert by_session.status_code == 201, by_session.text
