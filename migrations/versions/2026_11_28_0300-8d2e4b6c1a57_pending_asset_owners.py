"""pending_asset_owners: a symbol no provider could confirm yet is visible only to those who asked
for it (owner-scoped by row-level security on PostgreSQL)

Revision ID: 8d2e4b6c1a57
Revises: 3c1f9a7e2b40
Create Date: 2026-11-28 03:00:00+00:00

Pending rows that exist already (from before) get their owners from the universes that hold them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d2e4b6c1a57"
down_revision: str | None = "3c1f9a7e2b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "pending_asset_owners",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            ondelete="CASCADE",
            name=op.f("fk_pending_asset_owners_asset_id_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_pending_asset_owners_owner_id_users"),
        ),
        sa.PrimaryKeyConstraint("asset_id", "owner_id", name=op.f("pk_pending_asset_owners")),
    )
    op.create_index(op.f("ix_pending_asset_owners_owner_id"), "pending_asset_owners", ["owner_id"])
    # Every holder of a pending row keeps seeing it. universe_assets binds even its owner (FORCE),
    # so the backfill lifts that for its one statement.
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE universe_assets NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO pending_asset_owners (asset_id, owner_id, created_at) "
        "SELECT DISTINCT ua.asset_id, ua.owner_id, CURRENT_TIMESTAMP FROM universe_assets ua "
        "JOIN assets a ON a.id = ua.asset_id WHERE a.validation_status = 'pending'"
    )
    if postgresql:
        op.execute("ALTER TABLE universe_assets FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE pending_asset_owners ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE pending_asset_owners FORCE ROW LEVEL SECURITY")
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        op.execute(
            "CREATE POLICY pending_asset_owners_owner ON pending_asset_owners "
            f"USING ({visible}) WITH CHECK ({visible})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS pending_asset_owners_owner ON pending_asset_owners")
    op.drop_index(op.f("ix_pending_asset_owners_owner_id"), table_name="pending_asset_owners")
    op.drop_table("pending_asset_owners")
