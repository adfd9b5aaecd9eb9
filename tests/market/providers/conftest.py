"""Provider adapter tests: no database, one local fake HTTP server for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.http_server import FakeHttpServer


@pytest.fixture(scope="session")
def http_server() -> Iterator[FakeHttpServer]:
    with FakeHttpServer() as server:
        yield server


@pytest.fixture
def server(http_server: FakeHttpServer) -> FakeHttpServer:
    """The session's fake server with no routes and no recorded requests."""
    http_server.reset()
    return http_server
