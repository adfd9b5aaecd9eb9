"""Every query of the auth domain. Users are the identity table; tokens are owner-scoped."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.db import allow_token_lookup
from quantdesk.models import ApiToken, User


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


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
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


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
    session: AsyncSession, *, email: str, password_hash: str, display_name: str | None
) -> User:
    user = User(email=email, password_hash=password_hash, display_name=display_name)
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
) -> ApiToken:
    token = ApiToken(
        owner_id=owner_id,
        name=name,
        token_prefix=token_prefix,
        token_hash=token_hash,
        expires_at=expires_at,
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
