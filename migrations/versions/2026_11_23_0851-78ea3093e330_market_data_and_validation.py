"""market data: last known quotes and profiles, asset validation status, the validation queue

Revision ID: 78ea3093e330
Revises: 815315f95758
Create Date: 2026-11-23 08:51:23+00:00

Every new table is global market data (no owner_id), so none needs a row-level-security policy.
Existing assets all came from the offline catalog (or are known listings), so they are backfilled
as ``valid`` through the column's server default.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "78ea3093e330"
down_revision: str | None = "815315f95758"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exact decimals: NUMERIC on PostgreSQL, TEXT on SQLite (its NUMERIC affinity goes through float).
DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(64), "sqlite")
TS = sa.DateTime(timezone=True)


def _asset_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["asset_id"], ["assets.id"], ondelete="CASCADE", name=op.f(f"fk_{table}_asset_id_assets")
    )


def upgrade() -> None:
    # A constant server default lets batch mode add the column in place on SQLite (no table rebuild,
    # so the FTS triggers on assets survive) and backfills every existing row as valid.
    with op.batch_alter_table("assets") as batch:
        batch.add_column(
            sa.Column("validation_status", sa.String(16), server_default="valid", nullable=False)
        )

    op.create_table(
        "asset_quotes",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("price", DECIMAL, nullable=False),
        sa.Column("change", DECIMAL, nullable=True),
        sa.Column("change_percent", DECIMAL, nullable=True),
        sa.Column("volume", DECIMAL, nullable=True),
        sa.Column("market_cap", DECIMAL, nullable=True),
        sa.Column("currency", sa.String(8), nullable=True),
        sa.Column("as_of", TS, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        _asset_fk("asset_quotes"),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_asset_quotes")),
    )
    op.create_table(
        "asset_profiles",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("exchange", sa.String(32), nullable=True),
        sa.Column("sector", sa.String(128), nullable=True),
        sa.Column("industry", sa.String(128), nullable=True),
        sa.Column("country", sa.String(64), nullable=True),
        sa.Column("currency", sa.String(8), nullable=True),
        sa.Column("market_cap", DECIMAL, nullable=True),
        sa.Column("pe_ratio", DECIMAL, nullable=True),
        sa.Column("dividend_yield", DECIMAL, nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("website", sa.String(255), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        _asset_fk("asset_profiles"),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_asset_profiles")),
    )
    op.create_table(
        "validation_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_queue")),
        sa.UniqueConstraint("symbol", name=op.f("uq_validation_queue_symbol")),
    )
    op.create_index(
        op.f("ix_validation_queue_next_attempt_at"), "validation_queue", ["next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_validation_queue_next_attempt_at"), table_name="validation_queue")
    op.drop_table("validation_queue")
    op.drop_table("asset_profiles")
    op.drop_table("asset_quotes")
    # Not batch: a batch drop rebuilds the SQLite table and loses its FTS triggers; SQLite >= 3.35
    # drops a column in place.
    op.drop_column("assets", "validation_status")
