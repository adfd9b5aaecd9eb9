"""Request and response models of the vault."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from quantdesk.vault.rules import RuleSet

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class S3Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_key_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    secret_access_key: SecretStr = Field(min_length=1, max_length=256)


class VaultCreate(BaseModel):
    """A local folder (``root``) or an S3/R2/MinIO bucket (``bucket`` and the rest)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Literal["local", "s3"]
    root: str | None = Field(
        default=None,
        max_length=1024,
        description="local: a folder inside one of QUANTDESK_VAULT_ALLOWED_ROOTS (absolute, or "
        "relative to the first of them); made if missing",
    )
    bucket: (
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")] | None
    ) = None
    prefix: str | None = Field(default=None, max_length=512)
    endpoint_url: str | None = Field(
        default=None,
        max_length=512,
        description="https, or a prefix of QUANTDESK_VAULT_ALLOWED_ENDPOINTS; empty: AWS S3",
    )
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,64}$")] | None = None
    credentials: S3Credentials | None = None
    rules: RuleSet | None = Field(default=None, description="Categorisation rules; null: defaults")


class VaultOut(BaseModel):
    """A vault as shown: never its credentials (only whether it has some)."""

    id: uuid.UUID
    name: str
    kind: str
    root: str | None
    bucket: str | None
    prefix: str | None
    endpoint_url: str | None
    region: str | None
    has_credentials: bool
    custom_rules: bool
    last_scan_at: datetime | None
    created_at: datetime


class DeletedVault(BaseModel):
    id: uuid.UUID
    name: str
    files_kept: bool = Field(
        default=True, description="The files themselves stay where they are; only the record goes"
    )


class VaultFileOut(BaseModel):
    vault_id: uuid.UUID
    path: str
    size: int
    mtime: datetime
    inode: str | None
    extension: str
    mime: str | None
    category: str | None
    symbol: str | None
    content_hash: str | None


class UploadedFile(BaseModel):
    path: str
    size: int
    mtime: datetime


class DuplicateCopy(BaseModel):
    paths: list[str] = Field(description="Hard links of one file (one inode) count as one copy")
    mtime: datetime


class DuplicateGroup(BaseModel):
    size: int
    content_hash: str
    copies: list[DuplicateCopy]
    reclaimable_bytes: int


class DuplicateReport(BaseModel):
    groups: list[DuplicateGroup]
    group_count: int
    reclaimable_bytes: int


class OrganizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conflict: Literal["skip", "rename_new"] = Field(
        default="skip",
        description="When the target is taken: skip the file, or give it a new name (name (1).ext)",
    )


class CleanupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: Literal["oldest", "newest", "shortest_path", "reference"] = "oldest"
    reference: str | None = Field(
        default=None,
        max_length=1024,
        description="keep=reference: the copy inside this folder is kept (else the oldest)",
    )


class MoveOut(BaseModel):
    seq: int
    src: str
    dst: str
    size: int
    mtime: datetime
    hash: str
    status: str
    reason: str | None


class PlanSummary(BaseModel):
    id: uuid.UUID
    vault_id: uuid.UUID
    kind: str
    status: str
    options: dict[str, object]
    move_count: int
    plan_operation_id: uuid.UUID | None
    apply_operation_id: uuid.UUID | None
    rollback_operation_id: uuid.UUID | None
    created_at: datetime


class PlanOut(BaseModel):
    id: uuid.UUID
    vault_id: uuid.UUID
    kind: str
    status: str
    options: dict[str, object]
    move_count: int
    counts: dict[str, int]
    apply_operation_id: uuid.UUID | None
    rollback_operation_id: uuid.UUID | None
    created_at: datetime
    moves: list[MoveOut]
    next_cursor: str | None
