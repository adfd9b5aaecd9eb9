"""paper orders and fills (owner-scoped by RLS)

Revision ID: b8d2f4a6c913
Revises: a4c7e1f3b902
Create Date: 2026-11-28 15:10:00+00:00

Decimals as in the ledger: NUMERIC on PostgreSQL, text on SQLite (CHECKs cast to NUMERIC). Open
orders have a partial index by symbol (the matcher's question).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8d2f4a6c913"
down_revision: str | None = "a4c7e1f3b902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(64), "sqlite")
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"
TABLES = ("paper_orders", "paper_fills")
OPEN = "status IN ('new', 'accepted', 'partially_filled')"


def _num(column: str) -> str:
    return f"CAST({column} AS NUMERIC)"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], ondelete="CASCADE", name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "paper_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("asset_class", sa.String(16), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=True),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("type", sa.String(10), nullable=False),
        sa.Column("time_in_force", sa.String(3), nullable=False),
        sa.Column("qty", DECIMAL, nullable=True),
        sa.Column("notional", DECIMAL, nullable=True),
        sa.Column("limit_price", DECIMAL, nullable=True),
        sa.Column("stop_price", DECIMAL, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reject_reason", sa.String(32), nullable=True),
        sa.Column("status_message", sa.String(300), nullable=True),
        sa.Column("filled_qty", DECIMAL, nullable=False),
        sa.Column("filled_avg_price", DECIMAL, nullable=True),
        sa.Column("reserved_cash", DECIMAL, nullable=False),
        sa.Column("reserved_qty", DECIMAL, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("accepted_at", TS, nullable=True),
        sa.Column("triggered_at", TS, nullable=True),
        sa.Column("filled_at", TS, nullable=True),
        sa.Column("canceled_at", TS, nullable=True),
        sa.Column("expired_at", TS, nullable=True),
        sa.Column("rejected_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_paper_orders_side_known")),
        sa.CheckConstraint(
            "type IN ('market', 'limit', 'stop', 'stop_limit')",
            name=op.f("ck_paper_orders_type_known"),
        ),
        sa.CheckConstraint(
            "time_in_force IN ('day', 'gtc', 'ioc', 'fok')", name=op.f("ck_paper_orders_tif_known")
        ),
        sa.CheckConstraint(
            "status IN ('new', 'accepted', 'partially_filled', 'filled', 'canceled', 'expired', "
            "'rejected')",
            name=op.f("ck_paper_orders_status_known"),
        ),
        sa.CheckConstraint(
            "(qty IS NULL) <> (notional IS NULL)", name=op.f("ck_paper_orders_qty_or_notional")
        ),
        sa.CheckConstraint(
            f"{_num('filled_qty')} >= 0", name=op.f("ck_paper_orders_filled_not_negative")
        ),
        sa.CheckConstraint(
            f"{_num('reserved_cash')} >= 0", name=op.f("ck_paper_orders_reserved_cash_not_negative")
        ),
        sa.CheckConstraint(
            f"{_num('reserved_qty')} >= 0", name=op.f("ck_paper_orders_reserved_qty_not_negative")
        ),
        _fk("paper_orders", "account_id", "paper_accounts"),
        _fk("paper_orders", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_orders")),
        sa.UniqueConstraint(
            "account_id", "client_order_id", name="uq_paper_orders_client_order_id"
        ),
    )
    op.create_index(op.f("ix_paper_orders_owner_id"), "paper_orders", ["owner_id"])
    op.create_index("ix_paper_orders_account_created", "paper_orders", ["account_id", "created_at"])
    op.create_index(
        "ix_paper_orders_open_by_symbol",
        "paper_orders",
        ["symbol", "created_at"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    op.create_table(
        "paper_fills",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("price", DECIMAL, nullable=False),
        sa.Column("gross", DECIMAL, nullable=False),
        sa.Column("fee", DECIMAL, nullable=False),
        sa.Column("quote_price", DECIMAL, nullable=False),
        sa.Column("quote_as_of", TS, nullable=False),
        sa.Column("quote_source", sa.String(32), nullable=False),
        sa.Column("filled_at", TS, nullable=False),
        sa.CheckConstraint(f"{_num('qty')} > 0", name=op.f("ck_paper_fills_qty_positive")),
        sa.CheckConstraint(f"{_num('price')} > 0", name=op.f("ck_paper_fills_price_positive")),
        _fk("paper_fills", "order_id", "paper_orders"),
        _fk("paper_fills", "account_id", "paper_accounts"),
        _fk("paper_fills", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_fills")),
    )
    op.create_index("ix_paper_fills_order", "paper_fills", ["order_id"])
    op.create_index(op.f("ix_paper_fills_owner_id"), "paper_fills", ["owner_id"])
    if op.get_bind().dialect.name == "postgresql":
        visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(
                f"CREATE POLICY {table}_owner ON {table} USING ({visible}) WITH CHECK ({visible})"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_owner ON {table}")
    op.drop_index(op.f("ix_paper_fills_owner_id"), table_name="paper_fills")
    op.drop_index("ix_paper_fills_order", table_name="paper_fills")
    op.drop_table("paper_fills")
    op.drop_index("ix_paper_orders_open_by_symbol", table_name="paper_orders")
    op.drop_index("ix_paper_orders_account_created", table_name="paper_orders")
    op.drop_index(op.f("ix_paper_orders_owner_id"), table_name="paper_orders")
    op.drop_table("paper_orders")
