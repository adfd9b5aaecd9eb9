from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, UUIDPrimaryKey, utcnow

# Tokens made before scopes existed keep full access (the migration's server default).
FULL_ACCESS_SCOPES = "read write"


class ApiToken(UUIDPrimaryKey, Base):
    """A personal API token; only its SHA-256 digest is stored, the secret is shown once."""

    __tablename__ = "api_tokens"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Space-separated, as OAuth 2 writes them: "read" or "read write" (quantdesk.auth.scopes).
    scopes: Mapped[str] = mapped_column(
        String(100), default=FULL_ACCESS_SCOPES, server_default=FULL_ACCESS_SCOPES
    )
