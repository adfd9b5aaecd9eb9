"""Liveness, readiness and the service's self-description."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from quantdesk import __version__
from quantdesk.kit import activity, metrics
from quantdesk.kit.db import get_database
from quantdesk.kit.envelope import Envelope, error_body, ok
from quantdesk.kit.errors import NotFound
from quantdesk.kit.migrations import current_revision, head_revision
from quantdesk.system import scrape

router = APIRouter(tags=["system"])

FEATURES = [
    "auth",
    "api_tokens",
    "asset_catalog",
    "asset_search",
    "indices",
    "universes",
    "universe_turnover",
    "universe_csv",
    "metrics",
    "activity_monitor",
]


@router.get("/health", response_model=Envelope[dict[str, str]])
async def health() -> Envelope[dict[str, str]]:
    """Liveness: the process answers."""
    return ok({"status": "ok"}, "alive")


@router.get("/health/ready", response_model=Envelope[dict[str, Any]])
async def readiness(request: Request) -> Any:
    """Readiness: the database answers and its schema is at the latest migration."""
    db = get_database(request)
    checks: dict[str, Any] = {"database": db.kind}
    try:
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database_reachable"] = True
        current, head = await current_revision(db.engine), head_revision()
        checks.update(migration=current, migration_head=head, migrations_at_head=current == head)
    except Exception as exc:
        checks.update(database_reachable=False, reason=type(exc).__name__)
    if checks.get("migrations_at_head"):
        return ok({"status": "ready", **checks}, "ready")
    body = error_body(
        code="not_ready",
        message="The service is not ready",
        details=[{"field": k, "reason": str(v)} for k, v in checks.items()],
    )
    return JSONResponse(body, status_code=503)


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus exposition (text or OpenMetrics, as the scraper asks); no user data in it."""
    if not request.app.state.settings.metrics_enabled:
        raise NotFound("Metrics are disabled (QUANTDESK_METRICS_ENABLED=false)")
    await scrape.refresh(request.app.state)
    body, content_type = metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


@router.get("/api/v1/status", response_model=Envelope[dict[str, Any]])
async def get_status(request: Request) -> Envelope[dict[str, Any]]:
    """Version, enabled features, the kind of database, and whether the service is active.

    `activity` is this API process's view: `state` is `active` once its sliding window of
    `window_seconds` holds `active_threshold` events (requests, logins, trading, watching) and
    `idle` again below `idle_threshold`; `events` counts them by kind.
    """
    settings = request.app.state.settings
    return ok(
        {
            "version": __version__,
            "environment": settings.environment,
            "database": get_database(request).kind,
            "features": FEATURES,
            "activity": activity.snapshot(),
        },
        "quantdesk is running",
        next_actions=["signup", "login", "search_assets"],
    )
