from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin, UUIDPrimaryKey


class User(UUIDPrimaryKey, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Admins change what every user shares: data-type TTLs and flags of the market engine.
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Last login, session refresh or API-token use (at most once a minute): who is active.
    last_seen_at: Mapped[datetime | None]
    # Part of every JWT; incremented when the password changes, which signs out old sessions.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"User(id={self.id!s})"
