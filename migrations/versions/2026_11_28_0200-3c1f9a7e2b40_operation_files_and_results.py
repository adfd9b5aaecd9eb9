"""operation_files and operation_results: a job's inputs, outputs and per-item results in the
database, so every API process and worker reaches them (no shared export directory)

Revision ID: 3c1f9a7e2b40
Revises: 52abf63be419
Create Date: 2026-11-28 02:00:00+00:00

Both are owner-scoped like ``operations``: visible to the owner (app.user_id) or in the system
context (app.system = 'on'); rows of system jobs have no owner.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3c1f9a7e2b40"
down_revision: str | None = "52abf63be419"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"
_TABLES = ("operation_files", "operation_results")


def upgrade() -> None:
    op.create_table(
        "operation_files",
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
            ondelete="CASCADE",
            name=op.f("fk_operation_files_operation_id_operations"),
        ),
        sa.PrimaryKeyConstraint("operation_id", "name", name=op.f("pk_operation_files")),
    )
    op.create_index(op.f("ix_operation_files_owner_id"), "operation_files", ["owner_id"])
    op.create_table(
        "operation_results",
        sa.Column("operation_id", sa.Uuid(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
            ondelete="CASCADE",
            name=op.f("fk_operation_results_operation_id_operations"),
        ),
        sa.PrimaryKeyConstraint("operation_id", "item", name=op.f("pk_operation_results")),
    )
    op.create_index(op.f("ix_operation_results_owner_id"), "operation_results", ["owner_id"])
    if op.get_bind().dialect.name == "postgresql":
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        for table in _TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY {table}_owner ON {table} USING ({visible}) WITH CHECK ({visible})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_owner ON {table}")
    op.drop_index(op.f("ix_operation_results_owner_id"), table_name="operation_results")
    op.drop_table("operation_results")
    op.drop_index(op.f("ix_operation_files_owner_id"), table_name="operation_files")
    op.drop_table("operation_files")
