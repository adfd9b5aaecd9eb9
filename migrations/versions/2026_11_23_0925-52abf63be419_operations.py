"""operations: persisted background jobs, owner-scoped by RLS (system context for owner-less jobs)

Revision ID: 52abf63be419
Revises: 78ea3093e330
Create Date: 2026-11-23 09:25:00+00:00

On PostgreSQL a row is visible to its owner (app.user_id) or to a transaction in the system
context (app.system = 'on'), which workers and maintenance jobs use; system jobs have no owner.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "52abf63be419"
down_revision: str | None = "78ea3093e330"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("progress_message", sa.String(500), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", JSON, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("heartbeat_at", TS, nullable=True),
        sa.Column("not_before", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_operations_owner_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
    )
    op.create_index("ix_operations_owner_created", "operations", ["owner_id", "created_at"])
    op.create_index("ix_operations_status_not_before", "operations", ["status", "not_before"])
    op.create_index("ix_operations_kind_created", "operations", ["kind", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE operations ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE operations FORCE ROW LEVEL SECURITY")
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        op.execute(
            f"CREATE POLICY operations_owner ON operations USING ({visible}) WITH CHECK ({visible})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS operations_owner ON operations")
    op.drop_index("ix_operations_kind_created", table_name="operations")
    op.drop_index("ix_operations_status_not_before", table_name="operations")
    op.drop_index("ix_operations_owner_created", table_name="operations")
    op.drop_table("operations")
