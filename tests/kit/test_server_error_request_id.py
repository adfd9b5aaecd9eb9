"""A 500 still names its request: the fuzzer's envelope check found `request_id: null` on them."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from quantdesk.app import create_app
from quantdesk.kit.config import Settings


async def test_an_unexpected_error_keeps_the_request_id_in_body_and_header(
    settings: Settings,
) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/api/v1/_test/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            given = await client.get("/api/v1/_test/crash", headers={"X-Request-ID": "req-500"})
            made = await client.get("/api/v1/_test/crash")

    assert given.status_code == 500
    assert given.json()["metadata"]["request_id"] == "req-500"
    assert given.headers["X-Request-ID"] == "req-500"
    assert given.json()["error"]["code"] == "internal_error"
    # Without one from the client, the id the server made up is the one reported.
    assert made.status_code == 500
    made_id = made.json()["metadata"]["request_id"]
    assert isinstance(made_id, str)
    assert len(made_id) == 32
    assert made.headers["X-Request-ID"] == made_id


async def test_a_database_busy_with_other_writes_is_a_503_to_retry(settings: Settings) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    app: FastAPI = create_app(settings)

    @app.get("/api/v1/_test/busy")
    async def busy() -> None:
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    @app.get("/api/v1/_test/broken")
    async def broken() -> None:
        raise OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            waited = await client.get("/api/v1/_test/busy")
            failed = await client.get("/api/v1/_test/broken")
    assert waited.status_code == 503
    assert waited.headers["Retry-After"] == "1"
    assert waited.json()["error"]["code"] == "database_busy"
    assert failed.status_code == 500  # any other database error is still a bug to report
