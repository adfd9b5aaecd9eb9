"""Engine tests: the store, history and queue tables start and end empty (they are global data,
not among the per-test tables of the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from quantdesk.kit.db import Database
from tests.market.support import registry_kept

# loop_leases too: a sweep turn a test took must not hold the next test's sweep back.
ENGINE_TABLES = ("market_values", "quote_history", "market_refresh_queue", "loop_leases")


async def empty_engine_tables(database: Database) -> None:
    async with database.engine.begin() as connection:
        for table in ENGINE_TABLES:
            await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def edb(db: Database) -> AsyncIterator[Database]:
    """The test database (SQLite, then PostgreSQL) with empty engine tables."""
    await empty_engine_tables(db)
    yield db
    await empty_engine_tables(db)


@pytest.fixture
async def restore_registry(edb: Database) -> AsyncIterator[Database]:
    """The registry is global: put back what a test changed (see ``registry_kept``)."""
    async with registry_kept(edb):
        yield edb
