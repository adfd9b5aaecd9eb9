"""ix_operations_pending_order: batch claims read pending operations in claim order

Revision ID: 5b7e2d9c4f11
Revises: 9c4e1f7a2b3d
Create Date: 2026-11-28 13:00:00+00:00

A partial index (pending rows only) on (priority DESC, created_at): a claim reads the next rows
in order instead of sorting every pending row.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5b7e2d9c4f11"
down_revision: str | None = "9c4e1f7a2b3d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_operations_pending_order ON operations (priority DESC, created_at) "
        "WHERE status = 'pending'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_operations_pending_order")
