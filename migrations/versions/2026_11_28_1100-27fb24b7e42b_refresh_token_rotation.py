"""refresh token rotation: login sessions and their refresh tokens, owner-scoped by RLS

Revision ID: 27fb24b7e42b
Revises: 8d2e4b6c1a57
Create Date: 2026-11-28 11:00:00+00:00

On PostgreSQL both tables are visible to their owner (app.user_id). A refresh token is presented
before its user is known, so its one row is also visible to a transaction that holds the token's
digest in app.refresh_token_hash; writes always need the owner (the service binds the transaction
to the row's owner before it spends or revokes anything).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "27fb24b7e42b"
down_revision: str | None = "8d2e4b6c1a57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_PRESENTED_DIGEST = "NULLIF(current_setting('app.refresh_token_hash', true), '')"


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_refreshed_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_reason", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_login_sessions_owner_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_owner_id"), "login_sessions", ["owner_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("spent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_refresh_tokens_owner_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["login_sessions.id"],
            ondelete="CASCADE",
            name=op.f("fk_refresh_tokens_session_id_login_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    op.create_index(op.f("ix_refresh_tokens_owner_id"), "refresh_tokens", ["owner_id"])
    op.create_index(op.f("ix_refresh_tokens_session_id"), "refresh_tokens", ["session_id"])
    if op.get_bind().dialect.name == "postgresql":
        owner = f"owner_id = {_CURRENT_USER}"
        for table in ("login_sessions", "refresh_tokens"):
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            visible = owner
            if table == "refresh_tokens":
                visible += f" OR token_hash = {_PRESENTED_DIGEST}"
            op.execute(
                f"CREATE POLICY {table}_owner ON {table} USING ({visible}) WITH CHECK ({owner})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("refresh_tokens", "login_sessions"):
            op.execute(f"DROP POLICY IF EXISTS {table}_owner ON {table}")
    op.drop_index(op.f("ix_refresh_tokens_session_id"), table_name="refresh_tokens")
    op.drop_index(op.f("ix_refresh_tokens_owner_id"), table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    op.drop_index(op.f("ix_login_sessions_owner_id"), table_name="login_sessions")
    op.drop_table("login_sessions")
