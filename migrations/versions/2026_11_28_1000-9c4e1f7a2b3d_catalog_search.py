"""catalog search: venue columns, folded search text and a precomputed search order

Revision ID: 9c4e1f7a2b3d
Revises: 27fb24b7e42b
Create Date: 2026-11-28 10:00:00+00:00

- ``currency`` and ``mic``: derived from the listing's venue at catalog load.
- ``search_text``: the folded name words and aliases (the loader writes it);
  ``search_order``: the listing's position in the catalog's ranking (1 = first).
- Search reads matches in ``search_order`` and stops after a page, on both databases:
  SQLite: a contentless FTS5 table whose rowid *is* the search order, so a MATCH returns rows
  already ranked; PostgreSQL: a stored tsvector with a GIN index (rare words), and the order
  index carrying the tsvector (common words: walked in order without touching the table).
- Rows inserted outside the loader (a provider's new symbol) go last in the order and are
  indexed at once by their name as stored; the next catalog load ranks and folds them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c4e1f7a2b3d"
down_revision: str | None = "27fb24b7e42b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What the index holds: the symbol without separators ("brkb", "gspc"), kept apart from the
# words so a ticker query is a symbol prefix, not every name with a word that starts like it;
# and the words: the loader's folded ones, and the name as stored (a provider may rename).
_SQLITE_KEY = (
    "lower(replace(replace(replace(replace(replace({row}.lookup_key, '-', ''), '^', ''), '=', ''),"
    " '/', ''), '.', ''))"
)
_SQLITE_WORDS = "coalesce({row}.search_text || ' ', '') || {row}.name"
_PG_TSV = (
    "setweight(to_tsvector('simple', lower(translate(lookup_key, '-^=/.', ''))), 'A') || "
    "to_tsvector('simple', coalesce(search_text || ' ', '') || name::text)"
)


def _sqlite_values(row: str) -> str:
    return f"{_SQLITE_KEY.format(row=row)}, {_SQLITE_WORDS.format(row=row)}"


def upgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("currency", sa.String(8), nullable=True))
        batch.add_column(sa.Column("mic", sa.String(8), nullable=True))
        batch.add_column(sa.Column("search_text", sa.String(512), nullable=True))
        batch.add_column(sa.Column("search_order", sa.Integer(), nullable=True))
    # Until the next catalog load ranks them, rows keep their insertion order.
    op.execute("UPDATE assets SET search_order = id")
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def _postgresql_upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_assets_name_fts")
    op.execute(
        f"ALTER TABLE assets ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ({_PG_TSV}) STORED"
    )
    # fastupdate off: a catalog load's 100k rows would otherwise wait in the GIN pending list,
    # which every search then scans until the next vacuum.
    op.execute(
        "CREATE INDEX ix_assets_name_fts_search ON assets USING gin (search_tsv) "
        "WITH (fastupdate = off)"
    )
    # The tsvector and the filtered columns ride along in the order index: walking it in order,
    # a search tests each row's words and filters without visiting the table (an index-only
    # scan once the table is vacuumed).
    op.execute(
        "CREATE INDEX ix_assets_search_order ON assets (search_order, id) "
        "INCLUDE (search_tsv, asset_class, sector, exchange)"
    )


def _sqlite_upgrade() -> None:
    for trigger in ("assets_fts_insert", "assets_fts_delete", "assets_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS assets_fts")
    op.create_index("ix_assets_search_order", "assets", ["search_order", "id"])
    # prefix='1 2': one- and two-letter prefixes ("a", "ms") read a ready-made list.
    op.execute(
        "CREATE VIRTUAL TABLE assets_fts USING fts5(key, words, content='', "
        "tokenize='unicode61 remove_diacritics 2', prefix='1 2')"
    )
    # The loader inserts ranked rows and rebuilds the index itself; anyone else's row goes last.
    op.execute(
        "CREATE TRIGGER assets_fts_insert AFTER INSERT ON assets WHEN new.search_order IS NULL "
        "BEGIN "
        "UPDATE assets SET search_order = (SELECT coalesce(max(search_order), 0) + 1 FROM assets)"
        " WHERE id = new.id; "
        f"INSERT INTO assets_fts(rowid, key, words) SELECT search_order, {_sqlite_values('a')}"
        " FROM assets AS a WHERE a.id = new.id; END"
    )
    op.execute(
        "CREATE TRIGGER assets_fts_delete AFTER DELETE ON assets BEGIN "
        "INSERT INTO assets_fts(assets_fts, rowid, key, words) "
        f"VALUES ('delete', old.search_order, {_sqlite_values('old')}); END"
    )
    # A row the loader re-ranks changes search_order: the loader rebuilds the index after it.
    op.execute(
        "CREATE TRIGGER assets_fts_update AFTER UPDATE OF name, search_text, lookup_key ON assets "
        "WHEN old.search_order IS new.search_order BEGIN "
        "INSERT INTO assets_fts(assets_fts, rowid, key, words) "
        f"VALUES ('delete', old.search_order, {_sqlite_values('old')}); "
        "INSERT INTO assets_fts(rowid, key, words) "
        f"VALUES (new.search_order, {_sqlite_values('new')}); END"
    )
    op.execute(
        f"INSERT INTO assets_fts(rowid, key, words) SELECT search_order, {_sqlite_values('a')}"
        " FROM assets AS a"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_assets_search_order", table_name="assets")
        op.execute("DROP INDEX IF EXISTS ix_assets_name_fts_search")
        op.execute("ALTER TABLE assets DROP COLUMN search_tsv")
        op.execute(
            "CREATE INDEX ix_assets_name_fts ON assets USING gin (to_tsvector('simple', name))"
        )
    else:
        for trigger in ("assets_fts_insert", "assets_fts_delete", "assets_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS assets_fts")
        op.drop_index("ix_assets_search_order", table_name="assets")
    with op.batch_alter_table("assets") as batch:
        for column in ("search_order", "search_text", "mic", "currency"):
            batch.drop_column(column)
    if op.get_bind().dialect.name != "postgresql":
        _restore_sqlite_fts()


def _restore_sqlite_fts() -> None:
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
    op.execute("INSERT INTO assets_fts(assets_fts) VALUES ('rebuild')")
