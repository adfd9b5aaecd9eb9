"""Login sessions: refresh tokens rotate, a replay revokes the session, logout, password change."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.kit.security import hash_refresh_token, new_refresh_token
from quantdesk.models import LoginSession, RefreshToken, RefreshTokenState
from tests.auth.helpers import bearer, login
from tests.factories import Account, create_api_token

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": refresh_token})


async def _me_status(client: httpx.AsyncClient, access_token: str) -> int:
    return (await client.get(ME, headers=bearer(access_token))).status_code


async def _token_row(db: Database, owner_id: uuid.UUID, secret: str) -> RefreshToken | None:
    async with db.transaction(user_id=owner_id) as session:
        query = select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(secret))
        return (await session.execute(query)).scalar_one_or_none()


async def _session_row(db: Database, owner_id: uuid.UUID, session_id: uuid.UUID) -> LoginSession:
    async with db.transaction(user_id=owner_id) as session:
        row = await session.get(LoginSession, session_id)
        assert row is not None
        return row


def _sid(settings: Settings, access_token: str) -> uuid.UUID:
    claims = jwt.decode(access_token, settings.jwt_secret.get_secret_value(), algorithms=["HS256"])
    return uuid.UUID(claims["sid"])


async def test_each_refresh_rotates_and_spends_the_token_sent(
    client: httpx.AsyncClient, db: Database, alice: Account, settings: Settings
) -> None:
    first = await login(client, "alice@example.com", alice.password)
    sid = _sid(settings, first["access_token"])

    second = (await _refresh(client, first["refresh_token"])).json()["data"]
    third = (await _refresh(client, second["refresh_token"])).json()["data"]
    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    # One session all along: the access tokens name it.
    assert _sid(settings, second["access_token"]) == _sid(settings, third["access_token"]) == sid
    assert await _me_status(client, third["access_token"]) == 200

    spent = await _token_row(db, alice.user.id, first["refresh_token"])
    active = await _token_row(db, alice.user.id, third["refresh_token"])
    assert spent is not None
    assert active is not None
    assert (spent.state, spent.session_id) == (RefreshTokenState.SPENT, sid)
    assert spent.spent_at is not None
    assert (active.state, active.session_id) == (RefreshTokenState.ACTIVE, sid)


async def test_a_refresh_token_is_stored_only_as_its_digest(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    tokens = await login(client, "alice@example.com", alice.password)
    secret = tokens["refresh_token"]
    assert secret.startswith("qdr_")
    row = await _token_row(db, alice.user.id, secret)
    assert row is not None
    stored = [str(getattr(row, column.key)) for column in RefreshToken.__table__.columns]
    assert all(secret not in value for value in stored)


async def test_a_replayed_refresh_token_is_refused_and_revokes_its_session(
    client: httpx.AsyncClient, db: Database, alice: Account, settings: Settings
) -> None:
    stolen = await login(client, "alice@example.com", alice.password)
    other = await login(client, "alice@example.com", alice.password)  # another device
    # The thief refreshes first; then the rightful client sends the same (now spent) token.
    thief = (await _refresh(client, stolen["refresh_token"])).json()["data"]

    replay = await _refresh(client, stolen["refresh_token"])
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "invalid_refresh_token"
    assert replay.json()["next_actions"] == ["login"]
    assert replay.headers["WWW-Authenticate"] == "Bearer"

    # The revocation outlived the 401: the thief's rotated tokens are dead too.
    assert (await _refresh(client, thief["refresh_token"])).status_code == 401
    assert await _me_status(client, thief["access_token"]) == 401
    row = await _session_row(db, alice.user.id, _sid(settings, stolen["access_token"]))
    assert row.revoked_at is not None
    assert row.revoked_reason == "refresh_token_reuse"
    # Alice's other session does not share the chain and goes on.
    assert await _me_status(client, other["access_token"]) == 200
    assert (await _refresh(client, other["refresh_token"])).status_code == 200


async def test_simultaneous_refreshes_with_one_token_let_exactly_one_through(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    tokens = await login(client, "alice@example.com", alice.password)
    answers = await asyncio.gather(*(_refresh(client, tokens["refresh_token"]) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]
    # The losers presented a spent token: a replay as far as anyone can tell, so the session ends.
    winner = next(a for a in answers if a.status_code == 200).json()["data"]
    assert (await _refresh(client, winner["refresh_token"])).status_code == 401
    async with db.transaction(user_id=alice.user.id) as session:
        states = (await session.execute(select(RefreshToken.state))).scalars().all()
    assert sorted(states) == [RefreshTokenState.REVOKED] * 2


async def test_unknown_expired_and_foreign_refresh_tokens_are_refused(
    client: httpx.AsyncClient, db: Database, alice: Account, settings: Settings
) -> None:
    tokens = await login(client, "alice@example.com", alice.password)
    sid = _sid(settings, tokens["access_token"])
    # An expired token of a live session, written directly: the API never makes one.
    expired = new_refresh_token(settings)
    async with db.transaction(user_id=alice.user.id) as session:
        session.add(
            RefreshToken(
                owner_id=alice.user.id,
                session_id=sid,
                token_hash=expired.digest,
                expires_at=utcnow() - timedelta(seconds=1),
            )
        )
    for refresh_token in (expired.secret, new_refresh_token(settings).secret, "not.a.jwt"):
        response = await _refresh(client, refresh_token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_refresh_token"
    # None of these was a replay: the session is intact.
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 200


async def test_a_deactivated_user_cannot_refresh(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    tokens = await login(client, "alice@example.com", alice.password)
    async with db.transaction() as session:
        user = await session.get(type(alice.user), alice.user.id)
        assert user is not None
        user.is_active = False
    assert (await _refresh(client, tokens["refresh_token"])).status_code == 401


async def test_logout_ends_one_session_and_its_access_tokens(
    client: httpx.AsyncClient, db: Database, alice: Account, settings: Settings
) -> None:
    laptop = await login(client, "alice@example.com", alice.password)
    phone = await login(client, "alice@example.com", alice.password)
    _, api_secret = await create_api_token(db, alice.user)

    response = await client.post(LOGOUT, json={"refresh_token": laptop["refresh_token"]})
    assert response.status_code == 200, response.text
    assert response.json()["data"] is None
    assert response.json()["next_actions"] == ["login"]

    # Stateless as they are, the laptop's access tokens die with their session (the sid claim).
    assert await _me_status(client, laptop["access_token"]) == 401
    assert (await _refresh(client, laptop["refresh_token"])).status_code == 401
    row = await _session_row(db, alice.user.id, _sid(settings, laptop["access_token"]))
    assert row.revoked_reason == "logout"
    assert await _me_status(client, phone["access_token"]) == 200
    assert await _me_status(client, api_secret) == 200
    assert (await _refresh(client, phone["refresh_token"])).status_code == 200

    again = await client.post(LOGOUT, json={"refresh_token": laptop["refresh_token"]})
    assert again.status_code == 200  # logging out twice is fine
    unknown = await client.post(LOGOUT, json={"refresh_token": new_refresh_token(settings).secret})
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "invalid_refresh_token"


async def test_logout_is_scoped_to_the_token_holder(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alices = await login(client, "alice@example.com", alice.password)
    bobs = await login(client, "bob@example.com", bob.password)
    await client.post(LOGOUT, json={"refresh_token": bobs["refresh_token"]})
    assert await _me_status(client, alices["access_token"]) == 200
    assert await _me_status(client, bobs["access_token"]) == 401


async def _change_password(
    client: httpx.AsyncClient, headers: dict[str, str], current: str, new: str
) -> dict[str, Any]:
    response = await client.patch(
        ME, headers=headers, json={"password": new, "current_password": current}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_changing_the_password_renews_this_session_and_signs_out_the_others(
    client: httpx.AsyncClient, db: Database, alice: Account, settings: Settings
) -> None:
    mine = await login(client, "alice@example.com", alice.password)
    other = await login(client, "alice@example.com", alice.password)
    _, api_secret = await create_api_token(db, alice.user)

    body = await _change_password(
        client, bearer(mine["access_token"]), alice.password, "another long passphrase"
    )
    assert body["next_actions"] == ["get_me"]
    assert body["data"]["email"] == "alice@example.com"
    fresh = body["data"]["tokens"]
    assert fresh["token_type"] == "bearer"
    assert _sid(settings, fresh["access_token"]) == _sid(settings, mine["access_token"])

    # Every token issued before the change is dead, this session's included.
    assert await _me_status(client, mine["access_token"]) == 401
    assert await _me_status(client, other["access_token"]) == 401
    assert (await _refresh(client, other["refresh_token"])).status_code == 401
    assert (await _refresh(client, mine["refresh_token"])).status_code == 401
    other_row = await _session_row(db, alice.user.id, _sid(settings, other["access_token"]))
    assert other_row.revoked_reason == "password_change"

    # The old refresh token was retired, not spent: sending it did not end the renewed session.
    assert await _me_status(client, fresh["access_token"]) == 200
    renewed = await _refresh(client, fresh["refresh_token"])
    assert renewed.status_code == 200
    assert await _me_status(client, renewed.json()["data"]["access_token"]) == 200
    # API tokens are revoked one by one, not by a password change.
    assert await _me_status(client, api_secret) == 200


async def test_a_password_change_with_an_api_token_signs_out_every_session(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    session_tokens = await login(client, "alice@example.com", alice.password)
    _, api_secret = await create_api_token(db, alice.user)
    body = await _change_password(
        client, bearer(api_secret), alice.password, "another long passphrase"
    )
    assert body["data"]["tokens"] is None
    assert body["next_actions"] == ["login"]
    assert await _me_status(client, session_tokens["access_token"]) == 401
    assert (await _refresh(client, session_tokens["refresh_token"])).status_code == 401
    assert await _me_status(client, api_secret) == 200
    await login(client, "alice@example.com", "another long passphrase")


async def test_a_password_change_with_a_sessionless_access_token_starts_a_session(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # The factory's access token has no sid, like one issued before sessions were recorded.
    body = await _change_password(client, alice.headers, alice.password, "another long passphrase")
    fresh = body["data"]["tokens"]
    assert await _me_status(client, fresh["access_token"]) == 200
    assert (await _refresh(client, fresh["refresh_token"])).status_code == 200
    assert (await client.get(ME, headers=alice.headers)).status_code == 401


async def test_other_changes_to_me_return_no_tokens(
    client: httpx.AsyncClient, alice: Account
) -> None:
    tokens = await login(client, "alice@example.com", alice.password)
    response = await client.patch(
        ME, headers=bearer(tokens["access_token"]), json={"display_name": "Al"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["tokens"] is None
    assert await _me_status(client, tokens["access_token"]) == 200


async def test_login_forgets_expired_tokens_and_sessions_left_without_any(
    client: httpx.AsyncClient, db: Database, alice: Account, settings: Settings
) -> None:
    old = await login(client, "alice@example.com", alice.password)
    old_sid = _sid(settings, old["access_token"])
    async with db.transaction(user_id=alice.user.id) as session:
        row = (await session.execute(select(RefreshToken))).scalar_one()
        row.expires_at = utcnow() - timedelta(seconds=1)

    await login(client, "alice@example.com", alice.password)
    async with db.transaction(user_id=alice.user.id) as session:
        assert await session.get(LoginSession, old_sid) is None
        count = select(func.count()).select_from(RefreshToken)
        assert (await session.execute(count)).scalar_one() == 1


async def test_row_level_security_shows_a_refresh_token_only_to_its_owner_or_holder(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    if db.kind != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    first = await login(client, "alice@example.com", alice.password)
    await login(client, "alice@example.com", alice.password)  # a second session, second token
    digest = hash_refresh_token(first["refresh_token"])
    count_tokens = select(func.count()).select_from(RefreshToken)
    count_sessions = select(func.count()).select_from(LoginSession)

    async with db.transaction(user_id=bob.user.id) as session:
        assert (await session.execute(count_tokens)).scalar_one() == 0
        assert (await session.execute(count_sessions)).scalar_one() == 0
    async with db.transaction() as session:  # no user: nothing at all
        assert (await session.execute(count_tokens)).scalar_one() == 0
    async with db.transaction() as session:
        # Holding one token's digest shows that row, and not the owner's other token or session.
        await session.execute(
            text("SELECT set_config('app.refresh_token_hash', :d, true)"), {"d": digest}
        )
        assert (await session.execute(count_tokens)).scalar_one() == 1
        assert (await session.execute(count_sessions)).scalar_one() == 0
    async with db.transaction() as session:
        # ... but writing it needs the owner bound to the transaction.
        await session.execute(
            text("SELECT set_config('app.refresh_token_hash', :d, true)"), {"d": digest}
        )
        hijack = text("UPDATE refresh_tokens SET owner_id = :bob WHERE token_hash = :d")
        with pytest.raises(DBAPIError, match="row-level security"):
            await session.execute(hijack, {"bob": bob.user.id, "d": digest})
        await session.rollback()
    async with db.transaction(user_id=alice.user.id) as session:
        assert (await session.execute(count_tokens)).scalar_one() == 2
        assert (await session.execute(count_sessions)).scalar_one() == 2
