"""Middleware and the error handler, on an app with a few extra routes that misbehave on purpose."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import BaseModel, Field

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.errors import RateLimited
from quantdesk.kit.logging import get_logger

SECRET_WORD = "hunter2-super-secret"


class Payload(BaseModel):
    count: int = Field(ge=0)


@pytest.fixture
async def plumbing_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    tuned = settings.model_copy(update={"cors_origins": ["https://desk.example"]})
    app: FastAPI = create_app(tuned)

    @app.get("/api/v1/_test/boom")
    async def boom() -> None:
        raise RuntimeError(f"internal detail {SECRET_WORD}")

    @app.get("/api/v1/_test/limited")
    async def limited() -> None:
        raise RateLimited("slow down", retry_after=7)

    @app.post("/api/v1/_test/payload")
    async def payload(body: Payload) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/api/v1/_test/big")
    async def big() -> dict[str, str]:
        return {"text": "x" * 20_000}

    @app.get("/api/v1/_test/log")
    async def log_something() -> dict[str, str]:
        get_logger("quantdesk.test").warning("login attempt", password=SECRET_WORD, user="x")
        return {"ok": "yes"}

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_unexpected_errors_are_500_envelopes_without_internals(
    plumbing_client: httpx.AsyncClient,
) -> None:
    response = await plumbing_client.get("/api/v1/_test/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "internal_error"
    assert SECRET_WORD not in response.text
    assert "Traceback" not in response.text


async def test_rate_limited_errors_carry_retry_after(plumbing_client: httpx.AsyncClient) -> None:
    response = await plumbing_client.get("/api/v1/_test/limited")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "rate_limited"


async def test_validation_errors_name_the_field_and_reason(
    plumbing_client: httpx.AsyncClient,
) -> None:
    response = await plumbing_client.post("/api/v1/_test/payload", json={"count": "many"})
    assert response.status_code == 422
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "count"
    assert "integer" in detail["reason"]

    broken = await plumbing_client.post(
        "/api/v1/_test/payload", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["success"] is False


async def test_large_responses_are_gzipped(plumbing_client: httpx.AsyncClient) -> None:
    response = await plumbing_client.get("/api/v1/_test/big", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(response.json()["text"]) == 20_000


async def test_cors_allows_only_configured_origins(plumbing_client: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "GET"}
    allowed = await plumbing_client.options(
        "/api/v1/status", headers={"Origin": "https://desk.example", **preflight}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://desk.example"
    denied = await plumbing_client.options(
        "/api/v1/status", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "Access-Control-Allow-Origin" not in denied.headers


async def test_logs_are_json_with_the_request_id_and_no_secrets(
    plumbing_client: httpx.AsyncClient,
) -> None:
    root = logging.getLogger()
    # Same formatter as the app's own handler, writing somewhere the test can read.
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    app_handler = next(
        h for h in root.handlers if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    )
    handler.setFormatter(app_handler.formatter)
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    try:
        response = await plumbing_client.get(
            "/api/v1/_test/log", headers={"X-Request-ID": "req-42"}
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    assert response.status_code == 200
    lines = [json.loads(line) for line in sink.getvalue().splitlines() if line.strip()]
    ours = [line for line in lines if line.get("request_id") == "req-42"]
    events = {line["event"] for line in ours}
    assert {"login attempt", "request"} <= events
    login = next(line for line in ours if line["event"] == "login attempt")
    assert login["password"] == "[redacted]"
    assert all(SECRET_WORD not in json.dumps(line) for line in lines)


async def test_oversized_bodies_are_refused_with_an_enveloped_413(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_request_bytes": 1024}))

    @app.post("/api/v1/_test/echo")
    async def echo(body: dict[str, str]) -> dict[str, int]:
        return {"keys": len(body)}

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        for _ in range(10):
            yield b"x" * 200
        yield b'"}'

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            small = await c.post("/api/v1/_test/echo", json={"a": "b"})
            assert small.status_code == 200
            declared = await c.post("/api/v1/_test/echo", json={"a": "x" * 2000})
            assert declared.status_code == 413
            assert declared.json()["error"]["code"] == "payload_too_large"
            streamed = await c.post(
                "/api/v1/_test/echo", content=chunks(), headers={"Content-Type": "application/json"}
            )
            assert streamed.status_code == 413
            assert streamed.json()["success"] is False
