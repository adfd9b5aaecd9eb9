"""paper trading ledger: accounts, positions, the double-entry journal (owner-scoped by RLS)

Revision ID: a4c7e1f3b902
Revises: e3a9c5d7f218
Create Date: 2026-11-28 15:00:00+00:00

Decimals are NUMERIC on PostgreSQL and text on SQLite (no float ever touches them), so the CHECK
constraints compare ``CAST(… AS NUMERIC)`` (a no-op on PostgreSQL, exact enough on SQLite for a
last line of defence behind the service's own checks). Journal rows are immutable: on
PostgreSQL a trigger refuses UPDATE and DELETE of ``journal_transactions`` and
``journal_entries`` (except the cascade of deleting the account or its user), on SQLite a
trigger refuses UPDATE. Every table is visible to its owner and to the system context.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a4c7e1f3b902"
down_revision: str | None = "e3a9c5d7f218"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(64), "sqlite")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"
_SYSTEM = "current_setting('app.system', true) = 'on'"
TABLES = ("paper_accounts", "positions", "journal_transactions", "journal_entries")
JOURNAL_TABLES = ("journal_transactions", "journal_entries")
KINDS = "'deposit', 'withdrawal', 'fill', 'fee', 'dividend', 'correction'"
BOOKS = "'cash', 'position', 'counterparty', 'fees', 'dividends'"


def _num(column: str) -> str:
    return f"CAST({column} AS NUMERIC)"


def _owner_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["owner_id"], ["users.id"], ondelete="CASCADE", name=op.f(f"fk_{table}_owner_id_users")
    )


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["paper_accounts.id"],
        ondelete="CASCADE",
        name=op.f(f"fk_{table}_account_id_paper_accounts"),
    )


def upgrade() -> None:
    op.create_table(
        "paper_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cash", DECIMAL, nullable=False),
        sa.Column("reserved", DECIMAL, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            f"{_num('cash')} >= 0", name=op.f("ck_paper_accounts_cash_not_negative")
        ),
        sa.CheckConstraint(
            f"{_num('reserved')} >= 0", name=op.f("ck_paper_accounts_reserved_not_negative")
        ),
        _owner_fk("paper_accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_accounts")),
    )
    op.create_index(op.f("ix_paper_accounts_owner_id"), "paper_accounts", ["owner_id"])
    op.create_table(
        "positions",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("qty", DECIMAL, nullable=False),
        sa.Column("cost_basis", DECIMAL, nullable=False),
        sa.Column("realized_pnl", DECIMAL, nullable=False),
        sa.Column("reserved_qty", DECIMAL, nullable=False),
        sa.Column("last_fill_price", DECIMAL, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(f"{_num('qty')} >= 0", name=op.f("ck_positions_qty_not_negative")),
        sa.CheckConstraint(
            f"{_num('reserved_qty')} >= 0", name=op.f("ck_positions_reserved_qty_not_negative")
        ),
        sa.CheckConstraint(
            f"{_num('reserved_qty')} <= {_num('qty')}",
            name=op.f("ck_positions_reserved_within_qty"),
        ),
        sa.CheckConstraint(
            f"{_num('cost_basis')} >= 0", name=op.f("ck_positions_cost_basis_not_negative")
        ),
        _account_fk("positions"),
        _owner_fk("positions"),
        sa.PrimaryKeyConstraint("account_id", "symbol", name=op.f("pk_positions")),
    )
    op.create_index(op.f("ix_positions_owner_id"), "positions", ["owner_id"])
    op.create_table(
        "journal_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=True),
        sa.Column("price", DECIMAL, nullable=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("memo", sa.String(500), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_journal_transactions_kind_known")),
        _account_fk("journal_transactions"),
        _owner_fk("journal_transactions"),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["journal_transactions.id"],
            name=op.f("fk_journal_transactions_reverses_id_journal_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_transactions")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_journal_transactions_reverses_id")),
    )
    op.create_index(op.f("ix_journal_transactions_owner_id"), "journal_transactions", ["owner_id"])
    op.create_index(
        "uq_journal_transactions_account_id_idempotency_key",
        "journal_transactions",
        ["account_id", "idempotency_key"],
        unique=True,
    )
    op.create_index(
        "ix_journal_transactions_account_time",
        "journal_transactions",
        ["account_id", "created_at", "id"],
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("book", sa.String(16), nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("amount", DECIMAL, nullable=False),
        sa.CheckConstraint(f"book IN ({BOOKS})", name=op.f("ck_journal_entries_book_known")),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["journal_transactions.id"],
            ondelete="CASCADE",
            name=op.f("fk_journal_entries_transaction_id_journal_transactions"),
        ),
        _account_fk("journal_entries"),
        _owner_fk("journal_entries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_entries")),
    )
    op.create_index(
        op.f("ix_journal_entries_transaction_id"), "journal_entries", ["transaction_id"]
    )
    op.create_index(op.f("ix_journal_entries_owner_id"), "journal_entries", ["owner_id"])
    op.create_index(
        "ix_journal_entries_account_book",
        "journal_entries",
        ["account_id", "book", "instrument"],
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _postgresql_upgrade() -> None:
    visible = f"owner_id = {_CURRENT_USER} OR {_SYSTEM}"
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {table}_owner ON {table} USING ({visible}) WITH CHECK ({visible})"
        )
    # Journal rows are facts: corrected by a new transaction, never edited. A cascade from
    # deleting the account or its user (a nested trigger, depth > 1) may still remove them.
    op.execute(
        "CREATE FUNCTION journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN RETURN OLD; END IF; "
        "RAISE EXCEPTION '% is append-only: post a correcting transaction instead', TG_TABLE_NAME "
        "USING ERRCODE = 'restrict_violation'; "
        "END $$"
    )
    for table in JOURNAL_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION journal_immutable()"
        )


def _sqlite_upgrade() -> None:
    # DELETE stays possible on SQLite: it is how a user's data is erased (ON DELETE CASCADE).
    for table in JOURNAL_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table} BEGIN "
            f"SELECT RAISE(ABORT, '{table} is append-only: post a correcting transaction "
            "instead'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in JOURNAL_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS journal_immutable()")
        for table in TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_owner ON {table}")
    else:
        for table in JOURNAL_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable")
    op.drop_index("ix_journal_entries_account_book", table_name="journal_entries")
    op.drop_index(op.f("ix_journal_entries_owner_id"), table_name="journal_entries")
    op.drop_index(op.f("ix_journal_entries_transaction_id"), table_name="journal_entries")
    op.drop_table("journal_entries")
    op.drop_index("ix_journal_transactions_account_time", table_name="journal_transactions")
    op.drop_index(
        "uq_journal_transactions_account_id_idempotency_key", table_name="journal_transactions"
    )
    op.drop_index(op.f("ix_journal_transactions_owner_id"), table_name="journal_transactions")
    op.drop_table("journal_transactions")
    op.drop_index(op.f("ix_positions_owner_id"), table_name="positions")
    op.drop_table("positions")
    op.drop_index(op.f("ix_paper_accounts_owner_id"), table_name="paper_accounts")
    op.drop_table("paper_accounts")
