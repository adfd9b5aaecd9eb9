"""FastAPI application factory: lifespan (database, limiter, market data), middleware, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.routing import APIRoute

from quantdesk import __version__
from quantdesk.assets.endpoints import router as assets_router
from quantdesk.auth.endpoints import router as auth_router
from quantdesk.jobs.endpoints import health_router as jobs_health_router
from quantdesk.jobs.endpoints import router as operations_router
from quantdesk.jobs.lifecycle import start_jobs
from quantdesk.jobs.live import router as live_router
from quantdesk.kit import activity, metrics
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database
from quantdesk.kit.exception_handlers import register_exception_handlers
from quantdesk.kit.http_metrics import MetricsMiddleware
from quantdesk.kit.logging import configure_logging, get_logger
from quantdesk.kit.middleware import (
    BodySizeLimitMiddleware,
    NulByteGuardMiddleware,
    RequestContextMiddleware,
)
from quantdesk.kit.ratelimit import RateLimiter
from quantdesk.market.endpoints import health_router as market_health_router
from quantdesk.market.endpoints import router as market_router
from quantdesk.market.runtime import MarketRuntime
from quantdesk.system.endpoints import router as system_router
from quantdesk.universes.endpoints import router as universes_router

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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(settings)
        app.state.limiter = RateLimiter(settings.rate_limit_storage_url)
        app.state.market = MarketRuntime(settings)
        jobs = await start_jobs(app, settings)  # bus, executor (resumes unfinished), scheduler
        _log.info(
            "startup",
            database=app.state.db.kind,
            environment=settings.environment,
            providers=settings.providers,
        )
        try:
            yield
        finally:
            await jobs.stop()
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
    )
    app.state.settings = settings
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
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(MetricsMiddleware)  # outermost: its time and status cover all the above

    app.include_router(system_router)
    app.include_router(market_health_router)
    app.include_router(auth_router, prefix="/api/v1")
    # Before the assets router: /assets/validate and /assets/validation/stats are not symbols.
    app.include_router(market_router, prefix="/api/v1")
    app.include_router(assets_router, prefix="/api/v1")
    app.include_router(universes_router, prefix="/api/v1")
    app.include_router(operations_router, prefix="/api/v1")
    app.include_router(jobs_health_router)
    app.include_router(live_router)
    return app
