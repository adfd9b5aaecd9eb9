"""`quantdesk serve` serves the built dashboard at / with the SPA fallback and cache rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.spa import IMMUTABLE, NO_CACHE

INDEX = "<!doctype html><div id=root></div><!-- fake dashboard -->"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log('app')")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the dist folder")
    return root


async def _only_post() -> dict[str, bool]:
    return {"posted": True}


async def _client(frontend_dir: Path | None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(frontend_dir=frontend_dir, environment="test"))
    # Added after the dashboard's catch-all, like a router mounted late (MCP's POST-only /mcp).
    app.add_api_route("/only-post", _only_post, methods=["POST"], include_in_schema=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(dist):
        yield c


def test_the_setting_reads_its_environment_variable(
    dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTDESK_FRONTEND_DIR", str(dist))
    assert Settings().frontend_dir == dist
    monkeypatch.setenv("QUANTDESK_FRONTEND_DIR", "")  # empty: the checkout's build
    assert Settings().frontend_dir == Path(__file__).resolve().parents[2] / "frontend" / "dist"


async def test_index_is_served_at_the_root_and_never_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == NO_CACHE
    assert response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path",
    ["/universes", "/universes/3f1c/assets", "/trading?x=1", "/assets/AAPL", "/assets/BRK.B"],
)
async def test_client_routes_fall_back_to_index(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == NO_CACHE


async def test_hashed_assets_are_immutable(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/index-abc123.js")
    assert response.status_code == 200
    assert response.text == "console.log('app')"
    assert response.headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize("path", ["/assets/index-old999.js", "/assets/index-old999.css"])
async def test_a_missing_asset_is_a_404_not_the_index(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert INDEX not in response.text


async def test_other_files_are_served_with_a_short_cache(client: httpx.AsyncClient) -> None:
    response = await client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.text == "<svg/>"
    assert "immutable" not in response.headers["cache-control"]


async def test_no_file_outside_the_folder_is_served(client: httpx.AsyncClient) -> None:
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
        response = await client.get(path)
        assert "outside the dist folder" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/no-such-thing",
        "/api",
        "/docs/nothing-here",
        "/ws/whatever",
        "/health/nothing",
        "/healthz",
        "/metrics/x",
        "/openapi.json/x",
        "/mcp/x",
    ],
)
async def test_server_prefixes_never_fall_back(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert INDEX not in response.text
    assert response.headers["content-type"].startswith("application/json")


async def test_a_path_served_with_other_methods_stays_a_405(client: httpx.AsyncClient) -> None:
    response = await client.get("/only-post")
    assert response.status_code == 405
    assert INDEX not in response.text
    assert (await client.post("/only-post")).json() == {"posted": True}


async def test_the_api_schema_and_docs_still_answer(client: httpx.AsyncClient) -> None:
    schema = await client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/{path}" not in schema.json()["paths"]  # the catch-all is not an API operation
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_an_unbuilt_dashboard_says_how_to_build_it(tmp_path: Path) -> None:
    async for client in _client(tmp_path / "nothing-built"):
        response = await client.get("/")
        assert response.status_code == 503
        assert "npm" in response.text
        # Any other path is the API's own 404, as without a dashboard at all.
        for path in ("/universes", "/api/v1/nope"):
            missing = await client.get(path)
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/json")
