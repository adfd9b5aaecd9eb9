"""The real catalog for these tests: a small, distinctive slice in the shared test database
(small countries' stock files, the index quotes, the crypto list and one index, OMX Helsinki 25:
a few hundred rows, none of them the shared sample assets other test packages rely on), and the
whole catalog in a database of its own for the search evaluation and the data checks.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from quantdesk.assets.catalog import CatalogLoadReport, CatalogSources, load_catalog
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import run_migration
from tests import pg
from tests.conftest import TEST_JWT_SECRET

SUBSET = CatalogSources(
    stock_countries=("iceland", "estonia", "latvia", "lithuania", "finland"),
    etfs=False,
    index_quotes=True,
    currencies=False,
    crypto=True,
    indices=("OMX Helsinki 25",),
)


@pytest.fixture(scope="session")
async def catalog_subset(app: FastAPI) -> CatalogLoadReport:
    """The first load's report (the database is fresh for the session's asset slice)."""
    return await load_catalog(app.state.db, sources=SUBSET)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def full_catalog(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """The whole shipped catalog, loaded once per database kind into a database of its own
    (the shared test database keeps its small slice). About 40 s on SQLite, 25 s on PostgreSQL."""
    drop: str | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('catalog') / 'catalog.db'}"
    else:
        if os.environ.get("QUANTDESK_TEST_SKIP_POSTGRES") == "1" or not pg.postgres_available():
            if pg.IN_CI:
                pytest.fail("PostgreSQL is not reachable and CI=true")
            pytest.skip("PostgreSQL is not reachable")
        url, drop = pg.create_database("qd_catalog")
    await run_migration(url, "upgrade", "head")
    database = Database(
        Settings(
            environment="test",
            database_url=url,
            data_dir=tmp_path_factory.mktemp("catalog-data"),
            jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
            providers=["sim"],
            log_level="WARNING",
        )
    )
    try:
        await load_catalog(database)
        yield database
    finally:
        await database.dispose()
        if drop:
            pg.drop_database(drop)
