"""The inventory of a vault: one row per file its last scan saw."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quantdesk.kit.orm import Base

_ID = BigInteger().with_variant(Integer(), "sqlite")


class VaultFile(Base):
    """A file as scanned; hashes hold for this (size, mtime) and are cleared when either moves."""

    __tablename__ = "vault_files"
    __table_args__ = (
        UniqueConstraint("vault_id", "path"),
        Index("ix_vault_files_vault_size", "vault_id", "size"),
        Index("ix_vault_files_vault_category", "vault_id", "category"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    vault_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vaults.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime: Mapped[datetime]
    inode: Mapped[str | None] = mapped_column(String(48))  # "device:inode" where there is one
    links: Mapped[int] = mapped_column(default=1)
    extension: Mapped[str] = mapped_column(String(32), default="")
    mime: Mapped[str | None] = mapped_column(String(128))  # from the content (magic bytes)
    category: Mapped[str | None] = mapped_column(String(64))
    symbol: Mapped[str | None] = mapped_column(String(32))
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("assets.id", ondelete="SET NULL"), index=True
    )
    edge_hash: Mapped[str | None] = mapped_column(String(32))  # first and last 4 KiB
    content_hash: Mapped[str | None] = mapped_column(String(32))  # xxh3-128 of it all
    scan_id: Mapped[uuid.UUID]  # the scan that last saw it
    scanned_at: Mapped[datetime]
