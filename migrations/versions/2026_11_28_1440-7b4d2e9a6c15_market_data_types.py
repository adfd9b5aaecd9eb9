"""market_data_types (seeded with the 11 types), market_flags (engine on) and market_audit

Revision ID: 7b4d2e9a6c15
Revises: 2c7e9a1f5b84
Create Date: 2026-11-28 14:40:00+00:00

Providers per type are those able to serve its dataset (``market.providers.registry.catalogue``
when written), in chain order.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "7b4d2e9a6c15"
down_revision: str | None = "2c7e9a1f5b84"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DAY = 86400
_FMP = ["fmp", "sim"]
# name, ttl, providers, kind, schedule, default priority
_TYPES = [
    ("quote", 60, ["yahoo", "alphavantage", "fmp", "coingecko", "sim"], "on_demand", None, 50),
    ("profile", _DAY, ["yahoo", "alphavantage", "fmp", "sim"], "on_demand", None, 30),
    ("financial-statements", _DAY, _FMP, "on_demand", None, 10),
    ("ratios-ttm", _DAY, _FMP, "on_demand", None, 10),
    ("dividend-history", _DAY, ["yahoo", "fmp", "sim"], "on_demand", None, 10),
    ("shares-float", _DAY, _FMP, "on_demand", None, 10),
    ("revenue-segmentation", 7 * _DAY, _FMP, "on_demand", None, 5),
    ("grades-historical", _DAY, _FMP, "on_demand", None, 5),
    ("exchange-variants", 7 * _DAY, _FMP, "on_demand", None, 5),
    ("available-exchanges", _DAY, _FMP, "scheduled", _DAY, 5),
    ("exchange-market-status", 300, _FMP, "scheduled", 300, 20),
]


def upgrade() -> None:
    types = op.create_table(
        "market_data_types",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("ttl_seconds", sa.Integer(), nullable=False),
        sa.Column("datasets", sa.JSON(), nullable=False),
        sa.Column("providers", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("schedule_seconds", sa.Integer(), nullable=True),
        sa.Column("default_priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ttl_seconds > 0", name=op.f("ck_market_data_types_ttl_positive")),
        sa.CheckConstraint(
            "kind IN ('on_demand', 'scheduled')", name=op.f("ck_market_data_types_kind_known")
        ),
        sa.CheckConstraint(
            "(kind = 'scheduled') = (schedule_seconds IS NOT NULL)",
            name=op.f("ck_market_data_types_schedule_when_scheduled"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_market_data_types")),
    )
    flags = op.create_table(
        "market_flags",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_market_flags")),
    )
    op.create_table(
        "market_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_audit")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        types,
        [
            {
                "name": name, "ttl_seconds": ttl, "datasets": [name], "providers": providers,
                "kind": kind, "schedule_seconds": schedule, "default_priority": priority,
                "enabled": True, "updated_at": now,
            }
            for name, ttl, providers, kind, schedule, priority in _TYPES
        ],
    )  # fmt: skip
    op.bulk_insert(flags, [{"name": "engine", "enabled": True, "updated_at": now}])


def downgrade() -> None:
    op.drop_table("market_audit")
    op.drop_table("market_flags")
    op.drop_table("market_data_types")
