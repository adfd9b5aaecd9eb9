"""market_watches: presence, who watches which (symbol, data type) until when (owner-scoped)

Revision ID: 4a8c2f1e9b60
Revises: 5b7e2d9c4f11
Create Date: 2026-11-28 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4a8c2f1e9b60"
down_revision: str | None = "5b7e2d9c4f11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "market_watches",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("data_type", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("refresh_seconds", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_market_watches_owner_id_users"),
        ),
        sa.PrimaryKeyConstraint(
            "owner_id", "client", "symbol", "data_type", name=op.f("pk_market_watches")
        ),
    )
    op.create_index("ix_market_watches_pair", "market_watches", ["symbol", "data_type"])
    op.create_index("ix_market_watches_expires_at", "market_watches", ["expires_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE market_watches ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE market_watches FORCE ROW LEVEL SECURITY")
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        op.execute(
            "CREATE POLICY market_watches_owner ON market_watches "
            f"USING ({visible}) WITH CHECK ({visible})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS market_watches_owner ON market_watches")
    op.drop_index("ix_market_watches_expires_at", table_name="market_watches")
    op.drop_index("ix_market_watches_pair", table_name="market_watches")
    op.drop_table("market_watches")
