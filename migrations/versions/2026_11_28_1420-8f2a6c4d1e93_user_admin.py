"""users.is_admin (admins change what every user shares: the market engine's data types and
flags) and users.last_seen_at (the market engine watches the universes of recently active users)

Revision ID: 8f2a6c4d1e93
Revises: 6d1b3e8f0c27
Create Date: 2026-11-28 14:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f2a6c4d1e93"
down_revision: str | None = "6d1b3e8f0c27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_seen_at")
        batch.drop_column("is_admin")
