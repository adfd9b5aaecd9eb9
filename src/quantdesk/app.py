"""FastAPI application factory: the composition root of the API process.

It wires the domains to the platform: their job kinds (``quantdesk.domains``), their resources
for jobs (the market runtime), their routers; and the lifespan (database, limiter, bus,
executor, scheduler) and middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from quantdesk import __version__, domains
from quantdesk.agents import server as agents_server
from quantdesk.agents.endpoints import router as agents_router
from quantdesk.assets.endpoints import router as assets_router
from quantdesk.auth.endpoints import router as auth_router
from quantdesk.jobs.endpoints import health_router as jobs_health_router
from quantdesk.jobs.endpoints import router as operations_router
from quantdesk.jobs.lifecycle import start_jobs
from quantdesk.jobs.live import router as live_router
from quantdesk.jobs.resources import JobResources
from quantdesk.kit import activity, metrics
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database
from quantdesk.kit.events import build_event_bus
from quantdesk.kit.exception_handlers import register_exception_handlers
from quantdesk.kit.http_metrics import MetricsMiddleware
from quantdesk.kit.logging import configure_logging, get_logger
from quantdesk.kit.middleware import (
    BodySizeLimitMiddleware,
    NulByteGuardMiddleware,
    RequestContextMiddleware,
)
from quantdesk.kit.ratelimit import RateLimiter
from quantdesk.kit.spa import mount_dashboard
from quantdesk.market.endpoints import health_router as market_health_router
from quantdesk.market.endpoints import router as market_router
from quantdesk.market.engine.loops import MarketEngine
from quantdesk.market.live import PresenceKeeper
from quantdesk.market.live import router as market_live_router
from quantdesk.market.runtime import MARKET, MarketRuntime
from quantdesk.system.endpoints import router as system_router
from quantdesk.trading.endpoints import router as trading_router
from quantdesk.trading.matcher import OrderMatcher
from quantdesk.trading.order_endpoints import router as orders_router
from quantdesk.universes.endpoints import router as universes_router
from quantdesk.vault.endpoints import router as vault_router
from quantdesk.vault.endpoints import upload_limit as vault_upload_limit

_log = get_logger("quantdesk.app")

API_DESCRIPTION = """
quantdesk's REST API. Every `/api/v1` response is an envelope:
`{"success", "data", "message", "next_actions", "metadata", "error"}`.
`next_actions` name the operation ids below, which are also the AI tool names.
Authenticate with `Authorization: Bearer <token>`: a JWT access token from `login`, or a personal
API token from `create_api_token`.
"""


def _operation_id(route: APIRoute) -> str:
    return route.name


DOCS_STATIC = "/docs/static"


def _serve_docs_offline(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts from the installed package, not a CDN."""
    # fastapi-offline ships Swagger UI 5 (OpenAPI 3.1) and ReDoc's standalone build.
    app.mount(DOCS_STATIC, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    domains.register()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        app.state.limiter = RateLimiter(settings.rate_limit_storage_url)
        app.state.market = MarketRuntime(settings, db=app.state.db)
        app.state.bus = build_event_bus(settings)
        app.state.market_presence = PresenceKeeper(app.state.db)
        resources = JobResources(settings, db=app.state.db, bus=app.state.bus)
        resources.provide(MARKET, app.state.market)  # jobs share the API's runtime
        jobs = await start_jobs(resources)  # executor (resumes unfinished), scheduler
        engine, matcher = None, None
        if settings.runs_market_engine:  # embedded: the engine and the paper-order matcher here
            engine = MarketEngine(settings, app.state.db, app.state.market, app.state.bus)
            await engine.start()
            matcher = OrderMatcher(app.state.db, settings, app.state.bus)
            await matcher.start()
        app.state.market_engine = engine
        app.state.executor = jobs.executor
        await app.state.mcp.start()  # /mcp: the MCP server's streamable-HTTP manager
        _log.info(
            "startup",
            database=app.state.db.kind,
            environment=settings.environment,
            providers=settings.providers,
        )
        try:
            yield
        finally:
            await app.state.mcp.stop()
            if matcher is not None:
                await matcher.stop()
            if engine is not None:
                await engine.stop()
            await jobs.stop()
            await app.state.market_presence.aclose()
            await app.state.bus.aclose()
            await app.state.market.aclose()
            await app.state.db.dispose()
            metrics.mark_process_dead()  # serve --workers N in multiprocess mode: drop live gauges
            _log.info("shutdown")

    configure_logging(settings.log_level, json=settings.log_json)
    activity.configure(
        window_seconds=settings.activity_window_seconds,
        active_threshold=settings.activity_active_threshold,
        idle_threshold=settings.activity_idle_threshold,
    )
    app = FastAPI(
        title="quantdesk",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    _serve_docs_offline(app)
    register_exception_handlers(app)

    # Innermost, so that CORS and the request id apply to its 422 too.
    app.add_middleware(NulByteGuardMiddleware)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Location"],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        limit_for=vault_upload_limit(settings.vault_max_upload_bytes),
    )
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(MetricsMiddleware)  # outermost: its time and status cover all the above

    app.include_router(system_router)
    app.include_router(market_health_router)
    app.include_router(auth_router, prefix="/api/v1")
    # Before market's GET /assets/{symbol}: "search" and "sectors" are not symbols.
    app.include_router(assets_router, prefix="/api/v1")
    app.include_router(market_router, prefix="/api/v1")
    app.include_router(universes_router, prefix="/api/v1")
    app.include_router(trading_router, prefix="/api/v1")
    app.include_router(orders_router, prefix="/api/v1")
    app.include_router(operations_router, prefix="/api/v1")
    app.include_router(vault_router, prefix="/api/v1")
    app.include_router(agents_router, prefix="/api/v1")
    agents_server.mount(app)  # MCP over streamable HTTP at /mcp (a personal API token)
    app.include_router(jobs_health_router)
    app.include_router(live_router)
    app.include_router(market_live_router)
    mount_dashboard(app, settings.frontend_dir)  # last: a catch-all for the dashboard's routes
    return app
