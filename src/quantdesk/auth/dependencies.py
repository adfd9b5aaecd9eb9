"""Who is calling: a JWT access token or a personal API token, both as ``Authorization: Bearer``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.auth import repository
from quantdesk.auth import scopes as token_scopes
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database, DbSession, after_commit, get_database, set_tenant
from quantdesk.kit.errors import Forbidden, Unauthorized
from quantdesk.kit.security import decode_jwt, hash_api_token, is_api_token
from quantdesk.models import User

LAST_USED_GRANULARITY = timedelta(minutes=1)

bearer = HTTPBearer(auto_error=False, description="JWT access token or personal API token")


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _request_settings(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in its thread pool, a hop per request
    return get_app_settings(request)


AppSettings = Annotated[Settings, Depends(_request_settings)]


def websocket_credential(websocket: WebSocket) -> str | None:
    """A WebSocket's bearer credential: the Authorization header, or ``?token=`` (browsers cannot
    set headers on a WebSocket)."""
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return websocket.query_params.get("token") or None


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: the user, and the login session or API token it came through."""

    user: User
    # The access token's login session (None for an API token or an access token without one).
    session_id: uuid.UUID | None
    via_api_token: bool
    # The API token it came through and that token's scopes (None: a login session, unscoped).
    token_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None

    def may(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


class InsufficientScope(Forbidden):
    code = "insufficient_scope"
    message = "This API token is read-only: it may search, get and list, not change anything"


def require_scope_for(principal: Principal, method: str) -> None:
    """403 unless the caller's token has the scope ``method`` needs (sessions are unscoped)."""
    if not principal.may(token_scopes.required_scope(method)):
        raise InsufficientScope(next_actions=[])


async def authenticate(session: DbSession, settings: Settings, credential: str) -> User:
    """Resolve a bearer credential to an active user and bind the transaction to them."""
    return (await authenticate_principal(session, settings, credential)).user


async def authenticate_principal(
    session: DbSession, settings: Settings, credential: str
) -> Principal:
    """Like ``authenticate``, also saying which login session (or API token) the call came from."""
    user: User | None = None
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    scopes: frozenset[str] | None = None
    via_api_token = is_api_token(credential)
    if via_api_token:
        now = datetime.now(UTC)
        token = await repository.get_active_token_by_digest(
            session, hash_api_token(credential), now=now
        )
        if token is not None:
            token_id, scopes = token.id, token_scopes.parse(token.scopes)
            await set_tenant(session, token.owner_id)
            user = await repository.get_user(session, token.owner_id)
            # Recorded at most once a minute, after the request's own transaction, so that
            # authenticated reads stay reads.
            if user is not None and (
                token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY
            ):
                _touch_later(session, token.id, user.id, now)
    else:
        claims = decode_jwt(settings, credential, "access")
        if claims is not None:
            # The signature vouches for the user id, so RLS may be bound to it before the lookup.
            await set_tenant(session, claims.user_id)
            session_id = claims.session_id
            if session_id is None:
                user = await repository.get_user(session, claims.user_id)
            else:
                # One query: the user, and that the token's login session was not revoked.
                user = await repository.get_user_in_live_session(
                    session, claims.user_id, session_id
                )
            if user is not None and user.session_version != claims.session_version:
                user = None
    if user is None or not user.is_active:
        raise Unauthorized("Invalid or expired credentials", code="invalid_credentials")
    return Principal(
        user=user,
        session_id=session_id,
        via_api_token=via_api_token,
        token_id=token_id,
        scopes=scopes,
    )


def _touch_later(
    session: DbSession, token_id: uuid.UUID, owner_id: uuid.UUID, now: datetime
) -> None:
    engine = session.bind

    async def touch() -> None:
        async with AsyncSession(engine) as own, own.begin():
            await set_tenant(own, owner_id)
            await repository.touch_token(own, token_id, now=now)

    after_commit(session, touch)


async def get_current_principal(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send `Authorization: Bearer <token>`", next_actions=["login"])
    principal = await authenticate_principal(session, settings, credentials.credentials)
    require_scope_for(principal, request.method)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def get_current_user(principal: CurrentPrincipal) -> User:
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]
"""The caller, authenticated in the request's transaction (``DbSession``)."""


async def get_admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Only an admin can do this", next_actions=[])
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]
"""The caller, who must be an admin (``quantdesk user promote EMAIL``); 403 otherwise."""


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
        principal = await authenticate_principal(
            session, get_app_settings(request), credentials.credentials
        )
    require_scope_for(principal, request.method)
    return principal.user


AuthenticatedUser = Annotated[User, Depends(get_authenticated_user)]
"""The caller, with no transaction held open (see ``get_authenticated_user``)."""
