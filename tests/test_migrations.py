"""The schema exists only through migrations: up from empty to head and back down, both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from quantdesk.kit.db import create_engine
from quantdesk.kit.migrations import current_revision, head_revision, run_migration
from quantdesk.models import Base
from tests import pg


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


async def _round_trip(url: str) -> None:
    engine = create_engine(url)
    try:
        assert await _tables(engine) == set()
        await run_migration(url, "upgrade", "head")
        assert await current_revision(engine) == head_revision()
        tables = await _tables(engine)
        assert set(Base.metadata.tables) <= tables
        await run_migration(url, "downgrade", "base")
        assert await current_revision(engine) is None
        assert await _tables(engine) <= {"alembic_version"}
        await run_migration(
            url, "upgrade", "head"
        )  # and up again: downgrade left nothing behind that blocks it
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_sqlite_upgrade_and_downgrade(tmp_path: Path) -> None:
    await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}")


async def test_postgresql_upgrade_and_downgrade() -> None:
    if not pg.postgres_available():
        if pg.IN_CI:
            pytest.fail("PostgreSQL is not reachable and CI=true")
        pytest.skip("PostgreSQL is not reachable")
    url, name = pg.create_database("qd_migrate")
    try:
        await _round_trip(url)
    finally:
        pg.drop_database(name)
