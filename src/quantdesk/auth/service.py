"""Business rules of accounts, login sessions (JWT + rotating refresh tokens) and API tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.auth import repository
from quantdesk.auth import scopes as token_scopes
from quantdesk.auth.schemas import UpdateMeRequest
from quantdesk.kit import activity, metrics
from quantdesk.kit.config import Settings
from quantdesk.kit.db import set_tenant
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.kit.security import (
    IssuedToken,
    hash_password,
    hash_refresh_token,
    issue_jwt,
    new_api_token,
    new_refresh_token,
    verify_password,
)
from quantdesk.models import ApiToken, RefreshToken, RefreshTokenState, SessionEndReason, User

_log = get_logger("quantdesk.auth")


class EmailTaken(Conflict):
    code = "email_taken"
    message = "An account with this email already exists"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "Email or password is incorrect"


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    message = "The refresh token is invalid or expired; log in again"


class RefreshTokenReused(InvalidRefreshToken):
    """A spent refresh token came back; its session is revoked (same answer as any bad token)."""


class ApiTokenNotFound(NotFound):
    code = "api_token_not_found"
    message = "No such API token"


@dataclass(frozen=True)
class SessionTokens:
    access: IssuedToken
    refresh: IssuedToken
    session_id: uuid.UUID


@dataclass(frozen=True)
class UpdatedAccount:
    user: User
    # Set when the password changed and the caller was a login session: its new token pair.
    tokens: SessionTokens | None


@dataclass(frozen=True)
class CreatedApiToken:
    token: ApiToken
    secret: str


async def signup(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    display_name: str | None,
    is_admin: bool = False,
) -> User:
    """A new active account; ``email`` is already normalised (lower-cased) by the schema.
    ``is_admin`` only from the operator's CLI, never from a request."""
    if await repository.get_user_by_email(session, email) is not None:
        raise EmailTaken(next_actions=["login"])
    try:
        user = await repository.add_user(
            session,
            email=email,
            password_hash=hash_password(password),
            display_name=display_name,
            is_admin=is_admin,
        )
    except IntegrityError as exc:  # a concurrent signup won the race to the unique index
        raise EmailTaken(next_actions=["login"]) from exc
    _log.info("user_signed_up", user_id=str(user.id))
    return user


async def find_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return await repository.get_user_by_email(session, email)


async def recently_active_user_ids(session: AsyncSession, *, since: datetime) -> list[uuid.UUID]:
    """Who used the service since ``since`` (a login, a session refresh, an API token's use)."""
    return await repository.recently_active_user_ids(session, since=since)


async def set_admin(session: AsyncSession, *, email: str, admin: bool) -> User | None:
    """Make an account an admin or not (the operator's CLI); None when there is no such account."""
    user = await repository.get_user_by_email(session, email)
    if user is None:
        return None
    if user.is_admin != admin:
        user.is_admin = admin
        await session.flush()
        _log.info("user_admin_changed", user_id=str(user.id), admin=admin)
    return user


async def _issue_tokens(
    session: AsyncSession, *, settings: Settings, user: User, session_id: uuid.UUID
) -> SessionTokens:
    """A new access token and the next active refresh token of the login session."""
    refresh = new_refresh_token(settings)
    await repository.add_refresh_token(
        session,
        owner_id=user.id,
        session_id=session_id,
        token_hash=refresh.digest,
        expires_at=refresh.expires_at,
    )
    access = issue_jwt(
        settings, user.id, session_version=user.session_version, session_id=session_id
    )
    return SessionTokens(
        access=access,
        refresh=IssuedToken(token=refresh.secret, expires_at=refresh.expires_at),
        session_id=session_id,
    )


async def start_session(session: AsyncSession, *, settings: Settings, user: User) -> SessionTokens:
    """A new login session (refresh-token family) for an authenticated user."""
    await set_tenant(session, user.id)
    # Logging in is rare and already pays for Argon2: a fair moment to drop dead sessions.
    await repository.delete_expired_refresh_tokens(session, owner_id=user.id, now=utcnow())
    login_session = await repository.add_login_session(session, owner_id=user.id)
    await repository.mark_seen(session, user.id, now=utcnow())
    return await _issue_tokens(session, settings=settings, user=user, session_id=login_session.id)


async def login(
    session: AsyncSession, *, settings: Settings, email: str, password: str
) -> SessionTokens:
    """Tokens for the right email and password; one error for every wrong combination."""
    user = await repository.get_user_by_email(session, email)
    # Always verify (a dummy hash when there is no user) so timing does not reveal accounts.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or not user.is_active:
        _log.info("login_failed", user_id=str(user.id) if user else None)
        metrics.login_attempt("failed")
        raise InvalidCredentials()
    tokens = await start_session(session, settings=settings, user=user)
    _log.info("login_succeeded", user_id=str(user.id), session_id=str(tokens.session_id))
    metrics.login_attempt("ok")
    activity.record("login")
    return tokens


async def _presented_refresh_token(session: AsyncSession, secret: str) -> RefreshToken:
    """The stored record of a presented refresh token; 401 if unknown or past its lifetime.

    Binds the transaction to the token's owner, so what follows may write their rows.
    """
    token = await repository.get_refresh_token_by_digest(session, hash_refresh_token(secret))
    if token is None or token.expires_at <= utcnow():
        raise InvalidRefreshToken(next_actions=["login"])
    await set_tenant(session, token.owner_id)
    return token


async def refresh_session(
    session: AsyncSession, *, settings: Settings, refresh_token: str
) -> SessionTokens:
    """Spend an active refresh token for a new access token and the session's next refresh token.

    A spent token presented again (a replay, or the loser of two simultaneous refreshes) revokes
    its whole session and raises ``RefreshTokenReused``: the caller must commit before answering,
    so that the revocation stands although the request fails.
    """
    token = await _presented_refresh_token(session, refresh_token)
    if token.state == RefreshTokenState.REVOKED:
        raise InvalidRefreshToken(next_actions=["login"])
    # Simultaneous refreshes of one session take their turns on its row first: otherwise the
    # winner (token, then session) and a loser revoking (session, then tokens) lock in opposite
    # orders, and PostgreSQL kills one of them as a deadlock.
    await repository.lock_login_session(session, token.session_id)
    now = utcnow()
    # The conditional UPDATE decides between simultaneous refreshes: exactly one spends it.
    spent = token.state == RefreshTokenState.ACTIVE and await repository.spend_refresh_token(
        session, token_id=token.id, now=now
    )
    if not spent:
        await repository.revoke_login_sessions(
            session,
            owner_id=token.owner_id,
            only=token.session_id,
            reason=SessionEndReason.REUSE,
            now=now,
        )
        # A security event: someone else holds this session's refresh chain.
        _log.warning(
            "refresh_token_reuse_detected",
            user_id=str(token.owner_id),
            session_id=str(token.session_id),
            credential_id=str(token.id),
        )
        raise RefreshTokenReused(next_actions=["login"])
    user = await repository.get_user(session, token.owner_id)
    if user is None or not user.is_active:
        raise InvalidRefreshToken(next_actions=["login"])
    await repository.delete_expired_refresh_tokens(session, owner_id=user.id, now=now)
    await repository.mark_seen(session, user.id, now=now)
    tokens = await _issue_tokens(session, settings=settings, user=user, session_id=token.session_id)
    _log.info("session_refreshed", user_id=str(user.id), session_id=str(token.session_id))
    return tokens


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    """End the login session of a refresh token: its tokens and access tokens stop working."""
    token = await _presented_refresh_token(session, refresh_token)
    await repository.revoke_login_sessions(
        session,
        owner_id=token.owner_id,
        only=token.session_id,
        reason=SessionEndReason.LOGOUT,
        now=utcnow(),
    )
    _log.info("logged_out", user_id=str(token.owner_id), session_id=str(token.session_id))


async def update_me(
    session: AsyncSession,
    *,
    settings: Settings,
    user: User,
    changes: UpdateMeRequest,
    current_session_id: uuid.UUID | None,
    via_api_token: bool,
) -> UpdatedAccount:
    """Apply the fields that were sent; a new password needs the current one.

    A new password signs out every login session but the caller's, which gets a fresh token pair
    (its previous access and refresh tokens stop working too); a caller without a recorded
    session (an older access token) gets a new one. API tokens are not sessions: they keep
    working, and a caller using one gets no token pair.
    """
    sent = changes.model_fields_set
    new_password = changes.password if "password" in sent else None
    if new_password is not None:
        if changes.current_password is None:
            raise InvalidInput(
                "The current password is required to set a new one",
                field="current_password",
                reason="required to change the password",
            )
        if not verify_password(user.password_hash, changes.current_password):
            raise InvalidInput(
                "The current password is incorrect",
                field="current_password",
                reason="does not match the current password",
            )
        user.password_hash = hash_password(new_password)
        user.session_version += 1  # every access token issued so far stops working
    if "email" in sent and changes.email is not None and changes.email != user.email:
        if await repository.email_taken_by_other(session, changes.email, user.id):
            raise EmailTaken()
        user.email = changes.email
    if "display_name" in sent:
        user.display_name = changes.display_name
    try:
        await session.flush()
    except IntegrityError as exc:  # the email was taken between our check and the write
        raise EmailTaken() from exc
    tokens = None
    if new_password is not None:
        keep = None if via_api_token else current_session_id
        await repository.revoke_login_sessions(
            session,
            owner_id=user.id,
            keep=keep,
            reason=SessionEndReason.PASSWORD_CHANGE,
            now=utcnow(),
        )
        if not via_api_token:
            tokens = await _renew_session(session, settings=settings, user=user, session_id=keep)
    _log.info("user_updated", user_id=str(user.id), fields=sorted(sent - {"current_password"}))
    return UpdatedAccount(user=user, tokens=tokens)


async def _renew_session(
    session: AsyncSession, *, settings: Settings, user: User, session_id: uuid.UUID | None
) -> SessionTokens:
    """New tokens for the caller's session, whose current refresh token is retired (not spent)."""
    if session_id is None:
        return await start_session(session, settings=settings, user=user)
    await repository.revoke_active_refresh_tokens(session, owner_id=user.id, session_id=session_id)
    return await _issue_tokens(session, settings=settings, user=user, session_id=session_id)


async def create_api_token(
    session: AsyncSession,
    *,
    user: User,
    name: str,
    expires_in_days: int | None,
    scopes: Iterable[str] = token_scopes.ALL_SCOPES,
) -> CreatedApiToken:
    issued = new_api_token()
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    token = await repository.add_token(
        session,
        owner_id=user.id,
        name=name,
        token_prefix=issued.prefix,
        token_hash=issued.digest,
        expires_at=expires_at,
        scopes=token_scopes.render(scopes),
    )
    # Key names containing "token" are redacted by the log pipeline, hence "credential_id".
    _log.info(
        "api_token_created",
        user_id=str(user.id),
        credential_id=str(token.id),
        scopes=token.scopes,
    )
    return CreatedApiToken(token=token, secret=issued.secret)


async def list_api_tokens(
    session: AsyncSession, *, user: User, include_inactive: bool = False
) -> Sequence[ApiToken]:
    if include_inactive:
        return await repository.list_tokens(session, user.id)
    return await repository.list_active_tokens(session, user.id, now=utcnow())


async def revoke_api_token(session: AsyncSession, *, user: User, token_id: uuid.UUID) -> ApiToken:
    """Revoke one of the user's tokens; revoking twice keeps the first revocation time."""
    token = await repository.get_token(session, user.id, token_id)
    if token is None:
        raise ApiTokenNotFound(next_actions=["list_api_tokens"])
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
        _log.info("api_token_revoked", user_id=str(user.id), credential_id=str(token.id))
    return token
