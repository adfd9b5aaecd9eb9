"""The dashboard's built files (``frontend/dist``) served at ``/`` by the API process itself.

Paths that name a file are served from the folder; any other path is a client-side route and gets
``index.html``, except under the server's own prefixes (``/api``, ``/docs``, ``/ws``, ...), which
keep their JSON 404, and a path another route serves with other methods (``GET /mcp`` stays a
405): the catch-all route does not match those at all. Vite's hashed bundles under ``/assets/``
never change, so browsers keep them for a year; ``index.html`` is revalidated on every load so a
new build is seen at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

# Never answered with index.html: the API, its docs and schema, sockets, metrics and health.
SERVER_PREFIXES = (
    "/api",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/ws",
    "/metrics",
    "/health",
    "/mcp",
)
IMMUTABLE = "public, max-age=31536000, immutable"
# What Vite writes under /assets/; any other /assets/... is a client route (/assets/AAPL).
BUNDLE_SUFFIXES = (".js", ".mjs", ".css", ".map", ".woff", ".woff2", ".svg", ".png", ".wasm")
NO_CACHE = "no-cache"
OTHER_FILES = "public, max-age=3600"

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>quantdesk</title>
<h1>quantdesk</h1><p>The API is running (<a href="/docs">/docs</a>), but the dashboard is not
built. Install Node.js 20+ and npm, then run <code>make run</code> (or
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p>"""


def is_server_path(path: str) -> bool:
    return path.startswith("/health") or any(  # /health, /health/ready, /healthz
        path == prefix or path.startswith(prefix + "/") for prefix in SERVER_PREFIXES
    )


class _DashboardRoute(Route):
    """The catch-all: it never matches a server path, nor one another route has for other methods
    (so the router answers those 404 or 405 itself, in the API's error shape)."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        siblings: list[BaseRoute],
        index: Path | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.siblings = siblings  # the app's routes, also those added after this one
        self.index = index

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or is_server_path(scope["path"]):
            return Match.NONE, {}
        # Not built: only / answers (with how to build it); other paths stay the API's 404.
        built = self.index is not None and self.index.is_file()
        if not built and scope["path"] != "/":
            return Match.NONE, {}
        for route in self.siblings:
            if route is not self and route.matches(scope)[0] is not Match.NONE:
                return Match.NONE, {}
        return super().matches(scope)


def _file_in(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names inside ``root``; None outside it (``..``) or when absent."""
    if not relative:
        return None
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def mount_dashboard(app: FastAPI, dist: Path | None) -> None:
    """Register the catch-all route last, after every API route, so it only sees the rest."""
    root = dist.resolve() if dist is not None else None

    async def dashboard(request: Request) -> Response:
        path: str = request.path_params.get("path", "")
        if root is None or not (root / "index.html").is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503, headers={"Cache-Control": NO_CACHE})
        found = _file_in(root, path)
        if found is not None:
            if path.startswith("assets/"):
                cache = IMMUTABLE
            elif found.name == "index.html":
                cache = NO_CACHE
            else:
                cache = OTHER_FILES
            return FileResponse(found, headers={"Cache-Control": cache})
        if path.startswith("assets/") and path.lower().endswith(BUNDLE_SUFFIXES):
            # A bundle of an older build: never HTML in its place.
            raise StarletteHTTPException(status_code=404)
        return FileResponse(root / "index.html", headers={"Cache-Control": NO_CACHE})

    routes = app.router.routes
    routes.append(
        _DashboardRoute(
            "/{path:path}",
            dashboard,
            methods=["GET", "HEAD"],
            include_in_schema=False,
            name="dashboard",
            siblings=routes,
            index=root / "index.html" if root is not None else None,
        )
    )
