"""market_values, quote_history and market_refresh_queue: the engine's store, history and queue

Revision ID: e3a9c5d7f218
Revises: 7b4d2e9a6c15
Create Date: 2026-11-28 14:50:00+00:00

Global tables (market data belongs to nobody), so no row-level security. The queue's partial
indexes are the same on both engines: one active row per (symbol, data type), the pending rows in
claim order, the processing rows by lease expiry, the finished rows by age (trimming).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e3a9c5d7f218"
down_revision: str | None = "7b4d2e9a6c15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(64), "sqlite")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ACTIVE = "status IN ('pending', 'processing')"
_PENDING = "status = 'pending'"
_PROCESSING = "status = 'processing'"
_FINISHED = "status IN ('completed', 'failed')"


def _partial(where: str) -> dict[str, object]:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "market_values",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("data_type", sa.String(length=40), nullable=False),
        sa.Column("value", _JSON, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "data_type", name=op.f("pk_market_values")),
    )
    op.create_index("ix_market_values_expires_at", "market_values", ["expires_at"])
    op.create_table(
        "quote_history",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("price", _DECIMAL, nullable=False),
        sa.Column("change", _DECIMAL, nullable=True),
        sa.Column("change_percent", _DECIMAL, nullable=True),
        sa.Column("volume", _DECIMAL, nullable=True),
        sa.Column("market_cap", _DECIMAL, nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "as_of", name=op.f("pk_quote_history")),
    )
    op.create_table(
        "market_refresh_queue",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("data_type", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", _JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed')",
            name=op.f("ck_market_refresh_queue_status_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_refresh_queue")),
    )
    op.create_index(
        "uq_market_refresh_queue_active",
        "market_refresh_queue",
        ["symbol", "data_type"],
        unique=True,
        **_partial(_ACTIVE),
    )
    op.create_index(
        "ix_market_refresh_queue_pending_order",
        "market_refresh_queue",
        [sa.text("priority DESC"), "run_at"],
        **_partial(_PENDING),
    )
    op.create_index(
        "ix_market_refresh_queue_lease",
        "market_refresh_queue",
        ["lease_expires_at"],
        **_partial(_PROCESSING),
    )
    op.create_index(
        "ix_market_refresh_queue_finished",
        "market_refresh_queue",
        ["updated_at"],
        **_partial(_FINISHED),
    )


def downgrade() -> None:
    for index in (
        "ix_market_refresh_queue_finished",
        "ix_market_refresh_queue_lease",
        "ix_market_refresh_queue_pending_order",
        "uq_market_refresh_queue_active",
    ):
        op.drop_index(index, table_name="market_refresh_queue")
    op.drop_table("market_refresh_queue")
    op.drop_table("quote_history")
    op.drop_index("ix_market_values_expires_at", table_name="market_values")
    op.drop_table("market_values")
