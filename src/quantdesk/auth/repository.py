"""Every query of the auth domain. Users are the identity table; tokens are owner-scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import allow_token_lookup, dialect_name
from quantdesk.models import ApiToken, LoginSession, RefreshToken, RefreshTokenState, User


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_user_in_live_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> User | None:
    """The user, only if ``session_id`` is one of their login sessions and is not revoked."""
    result = await session.execute(
        select(User)
        .join(LoginSession, LoginSession.owner_id == User.id)
        .where(
            User.id == user_id,
            LoginSession.id == session_id,
            LoginSession.revoked_at.is_(None),
        )
    )
    return result.scalar_one_or_none()


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(func.lower(User.email) == email.lower()))
    return result.scalar_one_or_none()


async def get_active_token_by_digest(
    session: AsyncSession, digest: str, *, now: datetime
) -> ApiToken | None:
    await allow_token_lookup(session, digest)
    result = await session.execute(
        select(ApiToken).where(
            ApiToken.token_hash == digest,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
        )
    )
    return result.scalar_one_or_none()


async def touch_token(session: AsyncSession, token_id: uuid.UUID, *, now: datetime) -> None:
    """A token's use: its ``last_used_at`` and its owner's ``last_seen_at``."""
    owner_id = await session.scalar(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=now)
        .returning(ApiToken.owner_id)
    )
    if owner_id is not None:
        await mark_seen(session, owner_id, now=now)


async def list_tokens(session: AsyncSession, owner_id: uuid.UUID) -> Sequence[ApiToken]:
    result = await session.execute(
        select(ApiToken)
        .where(ApiToken.owner_id == owner_id)
        .order_by(ApiToken.created_at, ApiToken.id)
    )
    return result.scalars().all()


async def get_token(
    session: AsyncSession, owner_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken | None:
    result = await session.execute(
        select(ApiToken).where(ApiToken.owner_id == owner_id, ApiToken.id == token_id)
    )
    return result.scalar_one_or_none()


async def add_user(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    display_name: str | None,
    is_admin: bool = False,
) -> User:
    user = User(
        email=email, password_hash=password_hash, display_name=display_name, is_admin=is_admin
    )
    session.add(user)
    await session.flush()
    return user


async def email_taken_by_other(session: AsyncSession, email: str, user_id: uuid.UUID) -> bool:
    result = await session.execute(
        select(User.id).where(func.lower(User.email) == email.lower(), User.id != user_id)
    )
    return result.first() is not None


async def add_token(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    name: str,
    token_prefix: str,
    token_hash: str,
    expires_at: datetime | None,
    scopes: str,
) -> ApiToken:
    token = ApiToken(
        owner_id=owner_id,
        name=name,
        token_prefix=token_prefix,
        token_hash=token_hash,
        expires_at=expires_at,
        scopes=scopes,
    )
    session.add(token)
    await session.flush()
    return token


async def list_active_tokens(
    session: AsyncSession, owner_id: uuid.UUID, *, now: datetime
) -> Sequence[ApiToken]:
    result = await session.execute(
        select(ApiToken)
        .where(
            ApiToken.owner_id == owner_id,
            ApiToken.revoked_at.is_(None),
            (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
        )
        .order_by(ApiToken.created_at, ApiToken.id)
    )
    return result.scalars().all()


async def add_login_session(session: AsyncSession, *, owner_id: uuid.UUID) -> LoginSession:
    login_session = LoginSession(owner_id=owner_id)
    session.add(login_session)
    await session.flush()
    return login_session


async def add_refresh_token(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    session_id: uuid.UUID,
    token_hash: str,
    expires_at: datetime,
) -> RefreshToken:
    token = RefreshToken(
        owner_id=owner_id, session_id=session_id, token_hash=token_hash, expires_at=expires_at
    )
    session.add(token)
    await session.flush()
    return token


async def get_refresh_token_by_digest(session: AsyncSession, digest: str) -> RefreshToken | None:
    """The refresh token with this digest, whatever its state; its owner is not known yet."""
    if dialect_name(session) == "postgresql":
        # RLS shows this one row to the transaction that holds its digest (see the migration).
        await session.execute(
            text("SELECT set_config('app.refresh_token_hash', :digest, true)"), {"digest": digest}
        )
    result = await session.execute(select(RefreshToken).where(RefreshToken.token_hash == digest))
    return result.scalar_one_or_none()


async def lock_login_session(session: AsyncSession, session_id: uuid.UUID) -> None:
    """Hold the login session's row until the transaction ends (PostgreSQL; SQLite's write
    transactions are serial already): what one refresh of a session does, the next waits for."""
    await session.execute(
        select(LoginSession.id).where(LoginSession.id == session_id).with_for_update()
    )


async def spend_refresh_token(session: AsyncSession, *, token_id: uuid.UUID, now: datetime) -> bool:
    """Mark an active token spent; False if another request spent (or revoked) it first."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.state == RefreshTokenState.ACTIVE)
        .values(state=RefreshTokenState.SPENT, spent_at=now)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def revoke_login_sessions(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    reason: str,
    now: datetime,
    only: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> None:
    """Revoke the owner's live sessions (just ``only``, or all but ``keep``) and their tokens."""
    sessions = update(LoginSession).where(
        LoginSession.owner_id == owner_id, LoginSession.revoked_at.is_(None)
    )
    tokens = update(RefreshToken).where(
        RefreshToken.owner_id == owner_id, RefreshToken.state != RefreshTokenState.REVOKED
    )
    if only is not None:
        sessions = sessions.where(LoginSession.id == only)
        tokens = tokens.where(RefreshToken.session_id == only)
    if keep is not None:
        sessions = sessions.where(LoginSession.id != keep)
        tokens = tokens.where(RefreshToken.session_id != keep)
    await session.execute(
        sessions.values(revoked_at=now, revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    await session.execute(
        tokens.values(state=RefreshTokenState.REVOKED).execution_options(synchronize_session=False)
    )


async def revoke_active_refresh_tokens(
    session: AsyncSession, *, owner_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    """Retire a session's current token without ending the session (spent ones stay spent)."""
    await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.owner_id == owner_id,
            RefreshToken.session_id == session_id,
            RefreshToken.state == RefreshTokenState.ACTIVE,
        )
        .values(state=RefreshTokenState.REVOKED)
        .execution_options(synchronize_session=False)
    )


async def delete_expired_refresh_tokens(
    session: AsyncSession, *, owner_id: uuid.UUID, now: datetime
) -> None:
    """Forget the owner's expired refresh tokens, then the sessions left without any."""
    await session.execute(
        delete(RefreshToken)
        .where(RefreshToken.owner_id == owner_id, RefreshToken.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(LoginSession)
        .where(
            LoginSession.owner_id == owner_id,
            ~select(RefreshToken.id)
            .where(RefreshToken.session_id == LoginSession.id)
            .correlate(LoginSession)
            .exists(),
        )
        .execution_options(synchronize_session=False)
    )


async def recently_active_user_ids(session: AsyncSession, *, since: datetime) -> list[uuid.UUID]:
    """Active users seen (a login, a session refresh, an API token's use) since ``since``."""
    found = await session.execute(
        select(User.id)
        .where(User.is_active.is_(True), User.last_seen_at >= since)
        .order_by(User.id)
    )
    return list(found.scalars())


async def mark_seen(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> None:
    await session.execute(update(User).where(User.id == user_id).values(last_seen_at=now))
