"""equity snapshots of paper accounts (owner-scoped by RLS)

Revision ID: c5e8a2d4f716
Revises: b8d2f4a6c913
Create Date: 2026-11-28 15:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5e8a2d4f716"
down_revision: str | None = "b8d2f4a6c913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(64), "sqlite")
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "equity_snapshots",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("equity", DECIMAL, nullable=False),
        sa.Column("cash", DECIMAL, nullable=False),
        sa.Column("long_market_value", DECIMAL, nullable=False),
        sa.Column("net_deposits", DECIMAL, nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["paper_accounts.id"], ondelete="CASCADE",
            name=op.f("fk_equity_snapshots_account_id_paper_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], ondelete="CASCADE",
            name=op.f("fk_equity_snapshots_owner_id_users"),
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_equity_snapshots")),
    )  # fmt: skip
    op.create_index(op.f("ix_equity_snapshots_owner_id"), "equity_snapshots", ["owner_id"])
    if op.get_bind().dialect.name == "postgresql":
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        op.execute("ALTER TABLE equity_snapshots ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE equity_snapshots FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY equity_snapshots_owner ON equity_snapshots USING ({visible}) "
            f"WITH CHECK ({visible})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS equity_snapshots_owner ON equity_snapshots")
    op.drop_index(op.f("ix_equity_snapshots_owner_id"), table_name="equity_snapshots")
    op.drop_table("equity_snapshots")
