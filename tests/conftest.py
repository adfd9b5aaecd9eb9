"""Test harness: every database test runs on SQLite and, when reachable, on PostgreSQL.

Schemas come from ``alembic upgrade head``; PostgreSQL tests connect as an ordinary role, so row-
level security binds them exactly as in production. Under ``CI=true`` a missing PostgreSQL fails.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import upgrade
from quantdesk.models import OWNED_TABLES
from tests import pg
from tests.factories import Account, create_api_token, create_user
from tests.jobs.live_server import live_server

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-production-0123456789"
# No test reaches the internet: every Settings() built in this process (and every subprocess that
# inherits its environment) uses the simulated provider unless a test names others explicitly
# (pointed at a local fake server). The real default chain is Yahoo and CoinGecko.
os.environ["QUANTDESK_PROVIDERS"] = "sim"
# Tables emptied between tests; the asset catalog stays (tests get-or-create their assets).
# The quota ledger is global: each test starts with every provider's windows empty.
_PER_TEST_TABLES = (*OWNED_TABLES, "users", "provider_calls", "provider_quotas")


def _database_kinds() -> list[str]:
    kinds = ["sqlite"]
    if os.environ.get("QUANTDESK_TEST_SKIP_POSTGRES") != "1":
        kinds.append("postgresql")
    return kinds


@pytest.fixture(scope="session", params=_database_kinds())
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each kind, shared by the tests of one session."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("db") / "quantdesk.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        yield url
        return
    if not pg.postgres_available():
        if pg.IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {pg.ADMIN_DSN} and CI=true")
        pytest.skip("PostgreSQL is not reachable")
    url, name = pg.create_database()
    upgrade(url)
    yield url
    pg.drop_database(name)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        jwt_secret=TEST_JWT_SECRET,  # type: ignore[arg-type]
        providers=["sim"],
        log_json=True,
        log_level="WARNING",
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def db(app: FastAPI) -> AsyncIterator[Database]:
    database: Database = app.state.db
    yield database
    await app.state.limiter.reset()
    async with database.engine.begin() as connection:
        if database.kind == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(_PER_TEST_TABLES)} CASCADE"))
        else:
            for table in _PER_TEST_TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def client(app: FastAPI, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def alice(db: Database, settings: Settings) -> Account:
    return await create_user(db, settings, email="alice@example.com")


@pytest.fixture
async def bob(db: Database, settings: Settings) -> Account:
    return await create_user(db, settings, email="bob@example.com")


@pytest.fixture
def json_log_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered by the app's own JSON formatter."""
    root = logging.getLogger()
    formatter = next(
        h.formatter
        for h in root.handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    caplog.set_level(logging.DEBUG)  # the test settings log WARNING and up; show everything
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    """A real HTTP server on the test database (one per module), for the CLI to talk to."""
    with live_server(settings) as server:
        yield server.http_url


@pytest.fixture
async def token(db: Database, alice: Account) -> str:
    """Alice's personal API token, as the CLI sends it."""
    _, secret = await create_api_token(db, alice.user, name="cli")
    return secret
