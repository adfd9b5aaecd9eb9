"""Alembic environment: async engine, URL from settings unless the caller passes a connection."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from quantdesk.kit.config import get_settings
from quantdesk.kit.db import create_engine
from quantdesk.models import Base

config = context.config
target_metadata = Base.metadata

# Objects the migrations create in raw SQL per dialect (FTS, expression indexes), not in models.
_RAW_SQL_OBJECTS = ("assets_fts", "ix_assets_symbol_pattern", "ix_assets_name_fts", "search_tsv")


def _include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    return not (name and name.startswith(_RAW_SQL_OBJECTS))


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_configure_and_run)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
