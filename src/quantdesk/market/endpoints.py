"""HTTP surface of market data: symbol validation, its statistics, and the providers' health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from quantdesk.auth.dependencies import CurrentUser
from quantdesk.kit.db import DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.ratelimit import RateLimiter
from quantdesk.market import service
from quantdesk.market.runtime import MarketRuntimeDep
from quantdesk.market.schemas import (
    MAX_VALIDATE_SYMBOLS,
    ProvidersHealth,
    ValidateRequest,
    ValidationBatch,
    ValidationStats,
)

router = APIRouter(tags=["market data"])
health_router = APIRouter(tags=["system"])

VALIDATE_RATE_LIMIT = "5/minute"

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Envelope[None], "description": "Missing or invalid bearer token"}
}
_VALIDATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    422: {
        "model": Envelope[None],
        "description": f"No symbols, more than {MAX_VALIDATE_SYMBOLS}, or an over-long one",
    },
    429: {
        "model": Envelope[None],
        "description": f"Over {VALIDATE_RATE_LIMIT} per user (see Retry-After)",
    },
}


@router.post(
    "/assets/validate", response_model=Envelope[ValidationBatch], responses=_VALIDATE_ERRORS
)
async def validate_symbols(
    body: ValidateRequest,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    market: MarketRuntimeDep,
) -> Envelope[ValidationBatch]:
    """Tell whether each symbol is real and what it is: cache, then the catalog, then the data
    providers in order. When no provider can answer now a symbol is `valid: "unknown"` with
    `retry_after`, and it is queued for background validation; provider trouble never fails the
    call. Up to 1,000 symbols per call, 5 calls per minute per user."""
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(
        VALIDATE_RATE_LIMIT,
        "validate_symbols",
        str(user.id),
        message=f"At most {VALIDATE_RATE_LIMIT} validation calls per user",
    )
    batch = await service.validate_symbols(session, runtime=market, symbols=body.symbols)
    counts = batch.counts
    return ok(
        batch,
        f"{counts.valid} valid, {counts.invalid} invalid, {counts.unknown} unknown for now",
        next_actions=["get_asset", "add_assets_to_universe", "get_validation_stats"],
        symbol_count=len(batch.results),
    )


@router.get(
    "/assets/validation/stats", response_model=Envelope[ValidationStats], responses=_UNAUTHORIZED
)
async def get_validation_stats(
    user: CurrentUser, market: MarketRuntimeDep
) -> Envelope[ValidationStats]:
    """This process's validation counters since it started: hits and misses per layer (cache,
    catalog, providers), calls, errors and skips per provider, and latency percentiles of
    provider calls and of whole validation calls (over the most recent samples)."""
    stats = service.validation_stats(market)
    return ok(
        stats,
        f"{stats.validations} validation call(s) since {stats.since.isoformat()}",
        next_actions=["validate_symbols", "get_providers_health"],
    )


@health_router.get("/health/providers", response_model=Envelope[ProvidersHealth])
async def get_providers_health(market: MarketRuntimeDep) -> Envelope[ProvidersHealth]:
    """Each market-data provider in chain order: circuit breaker state, rate-limiter bucket,
    capabilities, and whether its data is simulated; and the cache's state (Redis up or not)."""
    health = await service.providers_health(market)
    open_breakers = sum(1 for p in health.providers if p.breaker.get("state") != "closed")
    return ok(
        health,
        f"{len(health.providers)} provider(s), {open_breakers} not closed",
        next_actions=["get_validation_stats"],
    )
