"""provider_quotas and provider_calls: the persisted quota ledger of the market-data providers

Revision ID: 2c7e9a1f5b84
Revises: 8f2a6c4d1e93
Create Date: 2026-11-28 14:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2c7e9a1f5b84"
down_revision: str | None = "8f2a6c4d1e93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_quotas",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("spent_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_quotas")),
    )
    op.create_table(
        "provider_calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_calls")),
    )
    op.create_index("ix_provider_calls_provider_at", "provider_calls", ["provider", "at"])


def downgrade() -> None:
    op.drop_index("ix_provider_calls_provider_at", table_name="provider_calls")
    op.drop_table("provider_calls")
    op.drop_table("provider_quotas")
