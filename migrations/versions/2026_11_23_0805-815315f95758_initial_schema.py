"""initial schema: users, API tokens, the asset catalog, indices, universes, RLS

Revision ID: 815315f95758
Revises:
Create Date: 2026-11-23 08:05:51+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "815315f95758"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exact decimals: NUMERIC on PostgreSQL, TEXT on SQLite (its NUMERIC affinity goes through float).
DECIMAL = sa.Numeric(38, 10).with_variant(sa.String(64), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

OWNED_TABLES = ("api_tokens", "universes", "universe_assets", "universe_changes")
_CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="0", nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_api_tokens_owner_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_owner_id"), "api_tokens", ["owner_id"])

    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("lookup_key", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("asset_class", sa.String(16), nullable=False),
        sa.Column("exchange", sa.String(32), nullable=True),
        sa.Column("country", sa.String(64), nullable=True),
        sa.Column("sector", sa.String(128), nullable=True),
        sa.Column("industry", sa.String(128), nullable=True),
        sa.Column("market_cap", DECIMAL, nullable=True),
        sa.Column("pe_ratio", DECIMAL, nullable=True),
        sa.Column("dividend_yield", DECIMAL, nullable=True),
        sa.Column("is_validated", sa.Boolean(), nullable=False),
        sa.Column("last_validated_at", TS, nullable=True),
        sa.Column("validation_source", sa.String(32), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("symbol", name=op.f("uq_assets_symbol")),
    )
    op.create_index(op.f("ix_assets_asset_class"), "assets", ["asset_class"])
    op.create_index(op.f("ix_assets_lookup_key"), "assets", ["lookup_key"])
    op.create_index(op.f("ix_assets_sector"), "assets", ["sector"])
    op.create_index("ix_assets_validation_state", "assets", ["is_validated", "last_validated_at"])

    op.create_table(
        "market_indices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("country", sa.String(64), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_market_indices")),
        sa.UniqueConstraint("name", name=op.f("uq_market_indices_name")),
    )
    op.create_table(
        "index_members",
        sa.Column("index_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            ondelete="CASCADE",
            name=op.f("fk_index_members_asset_id_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["index_id"],
            ["market_indices.id"],
            ondelete="CASCADE",
            name=op.f("fk_index_members_index_id_market_indices"),
        ),
        sa.PrimaryKeyConstraint("index_id", "asset_id", name=op.f("pk_index_members")),
    )
    op.create_index(op.f("ix_index_members_asset_id"), "index_members", ["asset_id"])

    op.create_table(
        "universes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=True),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_universes_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_universes")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_universes_owner_id_name")),
    )
    op.create_index(op.f("ix_universes_owner_id"), "universes", ["owner_id"])

    op.create_table(
        "universe_assets",
        sa.Column("universe_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            ondelete="RESTRICT",
            name=op.f("fk_universe_assets_asset_id_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_universe_assets_owner_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["universe_id"],
            ["universes.id"],
            ondelete="CASCADE",
            name=op.f("fk_universe_assets_universe_id_universes"),
        ),
        sa.PrimaryKeyConstraint("universe_id", "asset_id", name=op.f("pk_universe_assets")),
    )
    op.create_index(op.f("ix_universe_assets_asset_id"), "universe_assets", ["asset_id"])
    op.create_index(op.f("ix_universe_assets_owner_id"), "universe_assets", ["owner_id"])
    op.create_index(
        "ix_universe_assets_universe_position", "universe_assets", ["universe_id", "position"]
    )

    op.create_table(
        "universe_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("universe_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            ondelete="RESTRICT",
            name=op.f("fk_universe_changes_asset_id_assets"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_universe_changes_owner_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["universe_id"],
            ["universes.id"],
            ondelete="CASCADE",
            name=op.f("fk_universe_changes_universe_id_universes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_universe_changes")),
    )
    op.create_index(op.f("ix_universe_changes_owner_id"), "universe_changes", ["owner_id"])
    op.create_index(
        "ix_universe_changes_universe_time", "universe_changes", ["universe_id", "occurred_at"]
    )

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _postgresql_upgrade() -> None:
    # Prefix search on symbols uses LIKE 'ABC%', which needs pattern ops under a non-C collation.
    op.execute("CREATE INDEX ix_assets_symbol_pattern ON assets (symbol text_pattern_ops)")
    op.execute("CREATE INDEX ix_assets_name_fts ON assets USING gin (to_tsvector('simple', name))")
    for table in OWNED_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        # FORCE: the policy binds the table owner too (the service's own role).
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        visible = f"owner_id = {_CURRENT_USER}"
        if table == "api_tokens":
            # Authenticating a token happens before the user is known: whoever holds the secret
            # may read that one row, found by the secret's digest set for the transaction.
            visible += " OR token_hash = NULLIF(current_setting('app.token_hash', true), '')"
        op.execute(
            f"CREATE POLICY {table}_owner ON {table} USING ({visible}) "
            f"WITH CHECK (owner_id = {_CURRENT_USER})"
        )


def _sqlite_upgrade() -> None:
    # Word search over asset names: an FTS5 index kept in step with the table by triggers.
    op.execute(
        "CREATE VIRTUAL TABLE assets_fts USING fts5("
        "name, content='assets', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER assets_fts_insert AFTER INSERT ON assets BEGIN "
        "INSERT INTO assets_fts(rowid, name) VALUES (new.id, new.name); END"
    )
    op.execute(
        "CREATE TRIGGER assets_fts_delete AFTER DELETE ON assets BEGIN "
        "INSERT INTO assets_fts(assets_fts, rowid, name) VALUES ('delete', old.id, old.name); END"
    )
    op.execute(
        "CREATE TRIGGER assets_fts_update AFTER UPDATE OF name ON assets BEGIN "
        "INSERT INTO assets_fts(assets_fts, rowid, name) VALUES ('delete', old.id, old.name); "
        "INSERT INTO assets_fts(rowid, name) VALUES (new.id, new.name); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in OWNED_TABLES:
            op.execute(f"DROP POLICY IF EXISTS {table}_owner ON {table}")
        op.execute("DROP INDEX IF EXISTS ix_assets_name_fts")
        op.execute("DROP INDEX IF EXISTS ix_assets_symbol_pattern")
    else:
        for trigger in ("assets_fts_insert", "assets_fts_delete", "assets_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS assets_fts")
    for table in (
        "universe_changes",
        "universe_assets",
        "universes",
        "index_members",
        "market_indices",
        "assets",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
