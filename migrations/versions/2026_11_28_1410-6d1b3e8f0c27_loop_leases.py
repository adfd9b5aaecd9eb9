"""loop_leases: loops that run once across every process (who ran each last, when it runs next)

Revision ID: 6d1b3e8f0c27
Revises: 4a8c2f1e9b60
Create Date: 2026-11-28 14:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d1b3e8f0c27"
down_revision: str | None = "4a8c2f1e9b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loop_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_loop_leases")),
    )


def downgrade() -> None:
    op.drop_table("loop_leases")
