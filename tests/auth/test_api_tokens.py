"""Personal API tokens: shown once, stored hashed, usable as Bearer, revocable, owner-scoped."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.kit.security import hash_api_token, new_api_token
from quantdesk.models import ApiToken
from tests.auth.helpers import bearer, count_tokens
from tests.factories import Account


async def _create(client: httpx.AsyncClient, account: Account, **body: object) -> dict[str, object]:
    response = await client.post(
        "/api/v1/auth/tokens", headers=account.headers, json={"name": "laptop", **body}
    )
    assert response.status_code == 201, response.text
    assert response.json()["next_actions"] == ["list_api_tokens"]
    data: dict[str, object] = response.json()["data"]
    return data


async def test_create_use_list_revoke(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    created = await _create(client, alice, name="  laptop CLI  ")
    secret = str(created["token"])
    assert secret.startswith("qd_")
    assert created["name"] == "laptop CLI"
    assert secret.startswith(str(created["prefix"]))
    assert created["expires_at"] is None

    # Only the digest is stored.
    async with db.transaction(user_id=alice.user.id) as session:
        row = (
            await session.execute(
                select(ApiToken).where(ApiToken.id == uuid.UUID(str(created["id"])))
            )
        ).scalar_one()
        assert row.token_hash == hash_api_token(secret)
        assert secret not in (row.token_hash, row.token_prefix, row.name)
        assert row.last_used_at is None

    me = await client.get("/api/v1/auth/me", headers=bearer(secret))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == str(alice.user.id)

    listing = await client.get("/api/v1/auth/tokens", headers=alice.headers)
    assert listing.status_code == 200
    items = listing.json()["data"]
    assert [item["id"] for item in items] == [created["id"]]
    assert "token" not in items[0]
    assert items[0]["prefix"] == created["prefix"]
    assert secret not in listing.text
    assert items[0]["last_used_at"] is not None  # the use above was recorded
    assert listing.json()["metadata"]["count"] == 1

    revoked = await client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=alice.headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["data"]["revoked_at"] is not None

    refused = await client.get("/api/v1/auth/me", headers=bearer(secret))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_credentials"

    # Revoked tokens leave the default list but stay visible on request, still without secrets.
    active = (await client.get("/api/v1/auth/tokens", headers=alice.headers)).json()["data"]
    assert active == []
    everything = await client.get(
        "/api/v1/auth/tokens", headers=alice.headers, params={"include_inactive": "true"}
    )
    assert [item["id"] for item in everything.json()["data"]] == [created["id"]]
    assert secret not in everything.text


async def test_revoking_twice_keeps_the_first_time(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await _create(client, alice)
    first = await client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=alice.headers)
    second = await client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=alice.headers)
    assert second.status_code == 200
    assert second.json()["data"]["revoked_at"] == first.json()["data"]["revoked_at"]


async def test_a_token_with_a_lifetime_expires(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    created = await _create(client, alice, expires_in_days=30)
    assert created["expires_at"] is not None

    # An already expired token, written directly: the API never makes one.
    issued = new_api_token()
    async with db.transaction(user_id=alice.user.id) as session:
        session.add(
            ApiToken(
                owner_id=alice.user.id,
                name="old",
                token_prefix=issued.prefix,
                token_hash=issued.digest,
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(str(created["token"])))
    ).status_code == 200
    expired = await client.get("/api/v1/auth/me", headers=bearer(issued.secret))
    assert expired.status_code == 401
    listed = (await client.get("/api/v1/auth/tokens", headers=alice.headers)).json()["data"]
    assert [item["name"] for item in listed] == ["laptop"]


async def test_an_unknown_api_token_is_401(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/api/v1/auth/me", headers=bearer(new_api_token().secret))
    assert response.status_code == 401


async def test_other_users_tokens_are_invisible_and_untouchable(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    alices = await _create(client, alice, name="alice's")
    bobs = await _create(client, bob, name="bob's")

    # Bob may not revoke Alice's token, whether with his JWT or his own API token.
    for headers in (bob.headers, bearer(str(bobs["token"]))):
        response = await client.delete(f"/api/v1/auth/tokens/{alices['id']}", headers=headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "api_token_not_found"
    unknown = await client.delete(f"/api/v1/auth/tokens/{uuid.uuid4()}", headers=bob.headers)
    assert unknown.status_code == 404
    assert unknown.json()["message"] == response.json()["message"]  # existence is not leaked

    # Alice's token still works and is still hers.
    me = await client.get("/api/v1/auth/me", headers=bearer(str(alices["token"])))
    assert me.status_code == 200
    assert me.json()["data"]["email"] == "alice@example.com"
    async with db.transaction(user_id=alice.user.id) as session:
        row = await session.get(ApiToken, uuid.UUID(str(alices["id"])))
        assert row is not None
        assert row.revoked_at is None

    # Each list shows only its owner's tokens, even when asking for inactive ones.
    for headers, own in ((bob.headers, bobs), (alice.headers, alices)):
        listing = await client.get(
            "/api/v1/auth/tokens", headers=headers, params={"include_inactive": "true"}
        )
        assert [item["id"] for item in listing.json()["data"]] == [own["id"]]
    assert await count_tokens(db, alice.user.id) == 1
    assert await count_tokens(db, bob.user.id) == 1


async def test_a_token_of_a_deactivated_user_is_refused(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    created = await _create(client, alice)
    async with db.transaction() as session:
        user = await session.get(type(alice.user), alice.user.id)
        assert user is not None
        user.is_active = False
    response = await client.get("/api/v1/auth/me", headers=bearer(str(created["token"])))
    assert response.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=alice.headers)).status_code == 401
