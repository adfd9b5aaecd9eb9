"""api_tokens.scopes: what a personal API token may do ("read", or "read write")

Tokens made before scopes existed keep full access (the server default).

Revision ID: d7f3b9e1a482
Revises: d7f3b9e1a2c8
Create Date: 2026-11-28 15:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7f3b9e1a482"
down_revision: str | None = "d7f3b9e1a2c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scopes", sa.String(100), nullable=False, server_default="read write")
        )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")
