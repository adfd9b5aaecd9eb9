from __future__ import annotations

import httpx


async def test_health_is_alive_and_echoes_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "abc-123"
    assert response.json()["metadata"]["request_id"] == "abc-123"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_request_id_is_made_when_missing_or_unsafe(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    generated = response.headers["X-Request-ID"]
    assert generated != "bad id\twith spaces"
    assert len(generated) == 32


async def test_ready_reports_migrations_at_head(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["migrations_at_head"] is True
    assert data["database_reachable"] is True


async def test_status_names_version_features_and_database(
    client: httpx.AsyncClient, database_url: str
) -> None:
    response = await client.get("/api/v1/status")
    body = response.json()
    assert body["success"] is True
    expected = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    assert body["data"]["database"] == expected
    assert "universes" in body["data"]["features"]


async def test_unknown_route_is_an_enveloped_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False
    assert body["data"] is None
    assert body["error"]["code"] == "not_found"
