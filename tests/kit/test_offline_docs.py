"""/docs and /redoc work without internet: every asset they load is served by the app itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from tests.conftest import TEST_JWT_SECRET

# src="…" and href="…" in the page: whatever the browser would fetch.
_ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
_CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture(scope="module")
def docs_app() -> FastAPI:
    # No lifespan: the pages and their assets need no database.
    settings = Settings(environment="test", jwt_secret=TEST_JWT_SECRET, providers=["sim"])  # type: ignore[arg-type]
    return create_app(settings)


@pytest.fixture
async def docs_client(docs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=docs_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.mark.parametrize(
    ("page", "script"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
async def test_the_docs_pages_load_only_local_assets(
    docs_client: httpx.AsyncClient, page: str, script: str
) -> None:
    response = await docs_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "cdn." not in html
    assert "fonts.googleapis" not in html
    assert "/openapi.json" in html

    assets = _ASSET.findall(html)
    assert any(url.endswith(script) for url in assets)
    for url in assets:
        assert url.startswith("/docs/static/"), url  # same origin, nothing from the internet
        asset = await docs_client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert asset.headers["content-type"].startswith(_CONTENT_TYPES[suffix]), url
        assert len(asset.content) > 1000, url


async def test_the_bundled_swagger_ui_reads_openapi_3_1(docs_client: httpx.AsyncClient) -> None:
    # Swagger UI 4 cannot render the 3.1 documents FastAPI writes; the bundle must be 5 or later.
    schema = (await docs_client.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    bundle = (await docs_client.get("/docs/static/swagger-ui-bundle.js")).text
    assert "isOAS31" in bundle


async def test_the_docs_pages_may_run_their_scripts(docs_client: httpx.AsyncClient) -> None:
    # The API's "default-src 'none'" policy would blank the page: /docs is left out of it.
    for url in ("/docs", "/redoc", "/docs/static/swagger-ui-bundle.js"):
        response = await docs_client.get(url)
        assert "default-src 'none'" not in response.headers.get("content-security-policy", "")
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_unknown_or_escaping_asset_paths_are_404(docs_client: httpx.AsyncClient) -> None:
    for url in ("/docs/static/nope.js", "/docs/static/../core.py", "/docs/static/%2e%2e/core.py"):
        assert (await docs_client.get(url)).status_code == 404, url


async def test_the_docs_routes_are_not_api_operations(docs_client: httpx.AsyncClient) -> None:
    paths = (await docs_client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]
