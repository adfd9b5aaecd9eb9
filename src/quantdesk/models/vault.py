"""A research vault: a local folder or an S3 bucket/prefix a user keeps files in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base, TimestampMixin, UUIDPrimaryKey


class Vault(UUIDPrimaryKey, TimestampMixin, Base):
    """Where the files are; S3 credentials are stored encrypted (``vault.crypto``), never shown."""

    __tablename__ = "vaults"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # local | s3
    root: Mapped[str | None] = mapped_column(String(1024))  # local: absolute, links resolved
    bucket: Mapped[str | None] = mapped_column(String(63))
    prefix: Mapped[str | None] = mapped_column(String(512))
    endpoint_url: Mapped[str | None] = mapped_column(String(512))
    region: Mapped[str | None] = mapped_column(String(64))
    credentials: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object
    rules: Mapped[dict[str, Any] | None]  # a RuleSet; None: the default rules
    last_scan_at: Mapped[datetime | None]
