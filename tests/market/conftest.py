"""Validation and market-data tests: one fake provider server per session, a clean slate each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI

from quantdesk.kit.db import Database
from tests.fakes.http_server import FakeHttpServer
from tests.market.support import forget_test_symbols


@pytest.fixture(scope="session")
def fake_providers() -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as server:
        yield server


@pytest.fixture
def fake(fake_providers: FakeHttpServer) -> FakeHttpServer:
    """The session's fake provider server with no routes and no recorded requests."""
    fake_providers.reset()
    return fake_providers


@pytest.fixture(autouse=True)
async def clean_market_data(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Before and after each DB test: no test assets, queue, quotes; an empty app cache.

    Autouse, so it is set up before ``db`` and torn down after it (after the universe tables
    are emptied, which the test assets may be referenced from).
    """
    if "app" not in request.fixturenames:
        yield
        return
    app: FastAPI = request.getfixturevalue("app")
    database: Database = app.state.db
    await forget_test_symbols(database)
    app.state.market.cache.clear_local()
    yield
    await forget_test_symbols(database)
    app.state.market.cache.clear_local()
