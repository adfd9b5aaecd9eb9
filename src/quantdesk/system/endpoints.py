"""Liveness, readiness and the service's self-description."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from quantdesk import __version__
from quantdesk.kit.db import get_database
from quantdesk.kit.envelope import Envelope, error_body, ok
from quantdesk.kit.migrations import current_revision, head_revision

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


@router.get("/api/v1/status", response_model=Envelope[dict[str, Any]])
async def get_status(request: Request) -> Envelope[dict[str, Any]]:
    """Version, enabled features and the kind of database behind this instance."""
    settings = request.app.state.settings
    return ok(
        {
            "version": __version__,
            "environment": settings.environment,
            "database": get_database(request).kind,
            "features": FEATURES,
        },
        "quantdesk is running",
        next_actions=["signup", "login", "search_assets"],
    )
