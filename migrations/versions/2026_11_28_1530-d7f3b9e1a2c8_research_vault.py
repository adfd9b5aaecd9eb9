"""research vault: vaults, their file inventory, plans of moves and their journal (owner-scoped
by RLS)

Revision ID: d7f3b9e1a2c8
Revises: c5e8a2d4f716
Create Date: 2026-11-28 15:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "d7f3b9e1a2c8"
down_revision: str | None = "c5e8a2d4f716"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"
TABLES = ("vaults", "vault_files", "vault_plans", "vault_moves")


def _owner_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"], ["users.id"], ondelete="CASCADE", name=op.f(f"fk_{table}_owner_id_users")
    )


def upgrade() -> None:
    op.create_table(
        "vaults",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("root", sa.String(1024), nullable=True),
        sa.Column("bucket", sa.String(63), nullable=True),
        sa.Column("prefix", sa.String(512), nullable=True),
        sa.Column("endpoint_url", sa.String(512), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("rules", JSON, nullable=True),
        sa.Column("last_scan_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('local', 's3')", name=op.f("ck_vaults_kind_known")),
        _owner_fk("vaults"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vaults")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_vaults_owner_id_name")),
    )
    op.create_index(op.f("ix_vaults_owner_id"), "vaults", ["owner_id"])
    op.create_table(
        "vault_files",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("vault_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", TS, nullable=False),
        sa.Column("inode", sa.String(48), nullable=True),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("mime", sa.String(128), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("asset_id", sa.Integer(), nullable=True),
        sa.Column("edge_hash", sa.String(32), nullable=True),
        sa.Column("content_hash", sa.String(32), nullable=True),
        sa.Column("scan_id", sa.Uuid(), nullable=False),
        sa.Column("scanned_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["vault_id"], ["vaults.id"], ondelete="CASCADE",
            name=op.f("fk_vault_files_vault_id_vaults"),
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], ondelete="SET NULL",
            name=op.f("fk_vault_files_asset_id_assets"),
        ),
        _owner_fk("vault_files"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_files")),
        sa.UniqueConstraint("vault_id", "path", name=op.f("uq_vault_files_vault_id_path")),
    )  # fmt: skip
    op.create_index(op.f("ix_vault_files_owner_id"), "vault_files", ["owner_id"])
    op.create_index(op.f("ix_vault_files_asset_id"), "vault_files", ["asset_id"])
    op.create_index("ix_vault_files_vault_size", "vault_files", ["vault_id", "size"])
    op.create_index("ix_vault_files_vault_category", "vault_files", ["vault_id", "category"])
    op.create_table(
        "vault_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("vault_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("plan_operation_id", sa.Uuid(), nullable=True),
        sa.Column("apply_operation_id", sa.Uuid(), nullable=True),
        sa.Column("rollback_operation_id", sa.Uuid(), nullable=True),
        sa.Column("move_count", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["vault_id"], ["vaults.id"], ondelete="CASCADE",
            name=op.f("fk_vault_plans_vault_id_vaults"),
        ),
        _owner_fk("vault_plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_plans")),
        sa.UniqueConstraint("apply_operation_id", name=op.f("uq_vault_plans_apply_operation_id")),
    )  # fmt: skip
    op.create_index(op.f("ix_vault_plans_owner_id"), "vault_plans", ["owner_id"])
    op.create_index(op.f("ix_vault_plans_vault_id"), "vault_plans", ["vault_id"])
    op.create_table(
        "vault_moves",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("src", sa.String(1024), nullable=False),
        sa.Column("dst", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime", TS, nullable=False),
        sa.Column("hash", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["vault_plans.id"], ondelete="CASCADE",
            name=op.f("fk_vault_moves_plan_id_vault_plans"),
        ),
        _owner_fk("vault_moves"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_moves")),
        sa.UniqueConstraint("plan_id", "seq", name=op.f("uq_vault_moves_plan_id_seq")),
    )  # fmt: skip
    op.create_index(op.f("ix_vault_moves_owner_id"), "vault_moves", ["owner_id"])
    if op.get_bind().dialect.name == "postgresql":
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY {table}_owner ON {table} USING ({visible}) WITH CHECK ({visible})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_owner ON {table}")
    op.drop_index(op.f("ix_vault_moves_owner_id"), table_name="vault_moves")
    op.drop_table("vault_moves")
    op.drop_index(op.f("ix_vault_plans_vault_id"), table_name="vault_plans")
    op.drop_index(op.f("ix_vault_plans_owner_id"), table_name="vault_plans")
    op.drop_table("vault_plans")
    op.drop_index("ix_vault_files_vault_category", table_name="vault_files")
    op.drop_index("ix_vault_files_vault_size", table_name="vault_files")
    op.drop_index(op.f("ix_vault_files_asset_id"), table_name="vault_files")
    op.drop_index(op.f("ix_vault_files_owner_id"), table_name="vault_files")
    op.drop_table("vault_files")
    op.drop_index(op.f("ix_vaults_owner_id"), table_name="vaults")
    op.drop_table("vaults")
