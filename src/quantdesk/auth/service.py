"""Business rules of accounts, sessions (JWT) and personal API tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.auth import repository
from quantdesk.auth.schemas import UpdateMeRequest
from quantdesk.kit import activity, metrics
from quantdesk.kit.config import Settings
from quantdesk.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.kit.security import (
    IssuedToken,
    decode_jwt,
    hash_password,
    issue_jwt,
    new_api_token,
    verify_password,
)
from quantdesk.models import ApiToken, User

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


class ApiTokenNotFound(NotFound):
    code = "api_token_not_found"
    message = "No such API token"


@dataclass(frozen=True)
class SessionTokens:
    access: IssuedToken
    refresh: IssuedToken


@dataclass(frozen=True)
class CreatedApiToken:
    token: ApiToken
    secret: str


async def signup(
    session: AsyncSession, *, email: str, password: str, display_name: str | None
) -> User:
    """A new active account; ``email`` is already normalised (lower-cased) by the schema."""
    if await repository.get_user_by_email(session, email) is not None:
        raise EmailTaken(next_actions=["login"])
    try:
        user = await repository.add_user(
            session, email=email, password_hash=hash_password(password), display_name=display_name
        )
    except IntegrityError as exc:  # a concurrent signup won the race to the unique index
        raise EmailTaken(next_actions=["login"]) from exc
    _log.info("user_signed_up", user_id=str(user.id))
    return user


async def find_user_by_email(session: AsyncSession, *, email: str) -> User | None:
    return await repository.get_user_by_email(session, email)


def issue_session(settings: Settings, user: User) -> SessionTokens:
    version = user.session_version
    return SessionTokens(
        access=issue_jwt(settings, user.id, "access", session_version=version),
        refresh=issue_jwt(settings, user.id, "refresh", session_version=version),
    )


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
    _log.info("login_succeeded", user_id=str(user.id))
    metrics.login_attempt("ok")
    activity.record("login")
    return issue_session(settings, user)


async def refresh_session(
    session: AsyncSession, *, settings: Settings, refresh_token: str
) -> SessionTokens:
    """A new access and refresh token for a valid refresh token of an active user."""
    claims = decode_jwt(settings, refresh_token, "refresh")
    user = await repository.get_user(session, claims.user_id) if claims is not None else None
    if (
        claims is None
        or user is None
        or not user.is_active
        or user.session_version != claims.session_version
    ):
        raise InvalidRefreshToken(next_actions=["login"])
    _log.info("session_refreshed", user_id=str(user.id))
    return issue_session(settings, user)


async def update_me(session: AsyncSession, *, user: User, changes: UpdateMeRequest) -> User:
    """Apply the fields that were sent; a new password needs the current one."""
    sent = changes.model_fields_set
    if "password" in sent and changes.password is not None:
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
        user.password_hash = hash_password(changes.password)
        user.session_version += 1  # every access and refresh token issued so far stops working
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
    _log.info("user_updated", user_id=str(user.id), fields=sorted(sent - {"current_password"}))
    return user


async def create_api_token(
    session: AsyncSession, *, user: User, name: str, expires_in_days: int | None
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
    )
    # Key names containing "token" are redacted by the log pipeline, hence "credential_id".
    _log.info("api_token_created", user_id=str(user.id), credential_id=str(token.id))
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
