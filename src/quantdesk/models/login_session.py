"""Login sessions and their rotating refresh tokens (OAuth 2.0 Security BCP, refresh rotation).

A login starts a session; each refresh spends the session's active refresh token and issues the
next one. A spent token presented again means two parties hold the chain: the whole session is
revoked. Only SHA-256 digests of the tokens are stored.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, UUIDPrimaryKey, utcnow


class RefreshTokenState:
    ACTIVE = "active"  # the one token of its session that may be traded for new tokens
    SPENT = "spent"  # traded already: seeing it again is a replay
    REVOKED = "revoked"  # ended by logout, a replay, or a password change


class SessionEndReason:
    LOGOUT = "logout"
    REUSE = "refresh_token_reuse"
    PASSWORD_CHANGE = "password_change"  # noqa: S105 - a reason, not a password


class LoginSession(UUIDPrimaryKey, Base):
    """One login: the family of refresh tokens rotated from it; its id is the JWTs' ``sid``."""

    __tablename__ = "login_sessions"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_refreshed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(UUIDPrimaryKey, Base):
    """One refresh token of a session (its id is the token id); the secret itself is not kept."""

    __tablename__ = "refresh_tokens"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("login_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=RefreshTokenState.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    spent_at: Mapped[datetime | None]
