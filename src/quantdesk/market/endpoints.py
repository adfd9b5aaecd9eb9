"""HTTP surface of market data: symbol validation, its statistics, and the providers' health."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import FileResponse

from quantdesk.auth.dependencies import AppSettings, CurrentUser
from quantdesk.jobs.schemas import OperationOut
from quantdesk.kit.db import DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.ratelimit import RateLimiter
from quantdesk.market import service, tasks
from quantdesk.market.runtime import MarketRuntimeDep
from quantdesk.market.schemas import (
    MAX_BULK_VALIDATE_SYMBOLS,
    MAX_VALIDATE_SYMBOLS,
    BulkValidateRequest,
    ProvidersHealth,
    ValidateRequest,
    ValidationBatch,
    ValidationStats,
)

router = APIRouter(tags=["market data"])
health_router = APIRouter(tags=["system"])

VALIDATE_RATE_LIMIT = "5/minute"
BULK_VALIDATE_RATE_LIMIT = "10/hour"

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


@router.post(
    "/assets/validate/bulk",
    response_model=Envelope[OperationOut],
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_UNAUTHORIZED,
        422: {
            "model": Envelope[None],
            "description": f"No symbols, more than {MAX_BULK_VALIDATE_SYMBOLS:,}, or a long one",
        },
        429: {
            "model": Envelope[None],
            "description": f"Over {BULK_VALIDATE_RATE_LIMIT} per user (see Retry-After)",
        },
    },
)
async def validate_symbols_in_bulk(
    body: BulkValidateRequest,
    request: Request,
    response: Response,
    session: DbSession,
    user: CurrentUser,
    settings: AppSettings,
) -> Envelope[OperationOut]:
    """Validate up to 100,000 symbols in the background, with the same strategy as
    `validate_symbols`, in batches of 10 (progress after each). Answers 202 with the operation
    (`Location: /api/v1/operations/{id}`); follow it there or on `/ws/operations/{id}`. The
    finished result has the counts (valid, invalid, unknown), samples, and `results_url` for every
    symbol's result. Cancellable between batches; a crashed run resumes after its last batch."""
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(
        BULK_VALIDATE_RATE_LIMIT,
        "validate_symbols_in_bulk",
        str(user.id),
        message=f"At most {BULK_VALIDATE_RATE_LIMIT} bulk validations per user",
    )
    operation = await tasks.request_bulk_validation(
        session, settings=settings, owner_id=user.id, symbols=body.symbols
    )
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    return ok(
        OperationOut.of(operation),
        f"Validating {len(body.symbols)} symbols in the background",
        next_actions=["get_operation", "cancel_operation"],
        symbol_count=len(body.symbols),
    )


@router.get(
    "/assets/validate/bulk/{operation_id}/results",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "One JSON object per symbol, in input order",
        },
        **_UNAUTHORIZED,
        404: {"model": Envelope[None], "description": "Not your operation, or expired"},
        409: {"model": Envelope[None], "description": "The operation has not succeeded (yet)"},
    },
)
async def get_bulk_validation_results(
    operation_id: Annotated[uuid.UUID, Path(description="The bulk validation's operation id")],
    session: DbSession,
    user: CurrentUser,
    settings: AppSettings,
) -> FileResponse:
    """Every symbol's result of a succeeded `validate_symbols_in_bulk`, as JSON lines: i, symbol,
    canonical_symbol, valid, source, reason. Its owner only; kept for the retention period."""
    path = await tasks.bulk_results_file(
        session, settings=settings, owner_id=user.id, operation_id=operation_id
    )
    return FileResponse(path, media_type="application/x-ndjson")


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
