"""Who is calling: a JWT access token or a personal API token, both as ``Authorization: Bearer``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.auth import repository
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database, DbSession, after_commit, get_database, set_tenant
from quantdesk.kit.errors import Unauthorized
from quantdesk.kit.security import decode_jwt, hash_api_token, is_api_token
from quantdesk.models import User

LAST_USED_GRANULARITY = timedelta(minutes=1)

bearer = HTTPBearer(auto_error=False, description="JWT access token or personal API token")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(get_app_settings)]


async def authenticate(session: DbSession, settings: Settings, credential: str) -> User:
    """Resolve a bearer credential to an active user and bind the transaction to them."""
    user: User | None = None
    if is_api_token(credential):
        now = datetime.now(UTC)
        token = await repository.get_active_token_by_digest(
            session, hash_api_token(credential), now=now
        )
        if token is not None:
            user = await repository.get_user(session, token.owner_id)
            if user is not None:
                await set_tenant(session, user.id)
                # Recorded at most once a minute, after the request's own transaction, so that
                # authenticated reads stay reads.
                if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
                    _touch_later(session, token.id, user.id, now)
    else:
        claims = decode_jwt(settings, credential, "access")
        if claims is not None:
            user = await repository.get_user(session, claims.user_id)
            if user is not None and user.session_version != claims.session_version:
                user = None
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired credentials", code="invalid_credentials")
    await set_tenant(session, user.id)
    return user


def _touch_later(
    session: DbSession, token_id: uuid.UUID, owner_id: uuid.UUID, now: datetime
) -> None:
    engine = session.bind

    async def touch() -> None:
        async with AsyncSession(engine) as own, own.begin():
            await set_tenant(own, owner_id)
            await repository.touch_token(own, token_id, now=now)

    after_commit(session, touch)


async def get_current_user(
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send `Authorization: Bearer <token>`", next_actions=["login"])
    return await authenticate(session, settings, credentials.credentials)


CurrentUser = Annotated[User, Depends(get_current_user)]
"""The caller, authenticated in the request's transaction (``DbSession``)."""


async def get_authenticated_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The caller, authenticated in a short transaction of its own: for endpoints that must wait
    on the network (data providers) and so open their own short transactions around it."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send `Authorization: Bearer <token>`", next_actions=["login"])
    db: Database = get_database(request)
    async with db.transaction() as session:
        return await authenticate(session, get_app_settings(request), credentials.credentials)


AuthenticatedUser = Annotated[User, Depends(get_authenticated_user)]
"""The caller, with no transaction held open (see ``get_authenticated_user``)."""
