"""HTTP surface of market data: an asset with its quote and profile, symbol validation, its
statistics, and the providers' health.

Endpoints that may wait on a provider take ``Db`` and ``AuthenticatedUser`` rather than the
request's transaction: the service opens short transactions around the network calls, so no
database connection is held while a provider answers (or hangs)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from quantdesk.assets.schemas import AssetDetail
from quantdesk.auth.dependencies import AdminUser, AuthenticatedUser, CurrentUser
from quantdesk.jobs.schemas import OperationOut
from quantdesk.kit import activity
from quantdesk.kit.db import Db, DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import as_utc, utcnow
from quantdesk.kit.ratelimit import RateLimiter
from quantdesk.market import datatypes, service, watching
from quantdesk.market.engine import reads as engine_reads
from quantdesk.market.engine import status as engine_status
from quantdesk.market.engine.schemas import (
    Interval,
    Inventory,
    MarketData,
    MarketStatus,
    OnDemand,
    QuoteHistory,
)
from quantdesk.market.runtime import MarketRuntimeDep
from quantdesk.market.schemas import (
    MAX_BULK_VALIDATE_SYMBOLS,
    MAX_VALIDATE_SYMBOLS,
    WATCHABLE_TYPES,
    AssetWithMarketData,
    AuditEntry,
    BulkValidateRequest,
    DataTypeOut,
    DataTypeUpdate,
    EngineFlags,
    EngineSwitch,
    ProvidersHealth,
    ValidateRequest,
    ValidationBatch,
    ValidationStats,
    WatchList,
    WatchRequest,
)

router = APIRouter(tags=["market data"])
health_router = APIRouter(tags=["system"])

VALIDATE_RATE_LIMIT = "5/minute"
BULK_VALIDATE_RATE_LIMIT = "10/hour"
WATCH_RATE_LIMIT = "120/minute"

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
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
) -> Envelope[ValidationBatch]:
    """Tell whether each symbol is real and what it is: cache, then the catalog, then the data
    providers in order. When no provider can answer now a symbol is `valid: "unknown"` with
    `retry_after`, and it is queued for background validation; provider trouble never fails the
    call. One result per distinct symbol (`count` says how many times it was given); up to 1,000
    distinct symbols per call (more: `validate_symbols_in_bulk`), 5 calls per minute per user."""
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(
        VALIDATE_RATE_LIMIT,
        "validate_symbols",
        str(user.id),
        message=f"At most {VALIDATE_RATE_LIMIT} validation calls per user",
    )
    batch = await service.validate_symbols(
        db, runtime=market, user_id=user.id, symbols=body.symbols
    )
    counts = batch.counts
    return ok(
        batch,
        f"{counts.valid} valid, {counts.invalid} invalid, {counts.unknown} unknown for now",
        next_actions=["get_asset", "add_assets_to_universe", "get_validation_stats"],
        symbol_count=len(batch.results),
        input_count=len(body.symbols),
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
) -> Envelope[OperationOut]:
    """Validate up to 100,000 symbols in the background, with the same strategy as
    `validate_symbols`, in batches of 10 (progress after each); duplicates are validated once and
    every count is of distinct symbols. Answers 202 with the operation
    (`Location: /api/v1/operations/{id}`); follow it there or on `/ws/operations/{id}`. The
    finished result has the counts (valid, invalid, unknown), samples, and `results_url` for every
    symbol's result. Cancellable between batches (a cancelled one keeps its results so far); a
    crashed run resumes after its last batch."""
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(
        BULK_VALIDATE_RATE_LIMIT,
        "validate_symbols_in_bulk",
        str(user.id),
        message=f"At most {BULK_VALIDATE_RATE_LIMIT} bulk validations per user",
    )
    operation = await service.request_bulk_validation(
        session, owner_id=user.id, symbols=body.symbols
    )
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    distinct = int(operation.params["symbol_count"])
    return ok(
        OperationOut.of(operation),
        f"Validating {distinct} distinct symbols in the background",
        next_actions=["get_operation", "cancel_operation"],
        symbol_count=distinct,
        input_count=len(body.symbols),
    )


@router.get(
    "/assets/validate/bulk/{operation_id}/results",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "One JSON object per distinct symbol, in input order",
        },
        **_UNAUTHORIZED,
        404: {"model": Envelope[None], "description": "Not your operation, or expired"},
        409: {"model": Envelope[None], "description": "The operation has not started (yet)"},
    },
)
async def get_bulk_validation_results(
    operation_id: Annotated[uuid.UUID, Path(description="The bulk validation's operation id")],
    db: Db,
    user: AuthenticatedUser,
) -> StreamingResponse:
    """Every symbol's result of a `validate_symbols_in_bulk` so far, as JSON lines: i, symbol,
    canonical_symbol, valid, count, source, reason. Complete once it has succeeded; a cancelled
    or running one gives the results it has. Its owner only; kept for the retention period."""
    lines = await service.bulk_results(db, owner_id=user.id, operation_id=operation_id)
    return StreamingResponse(lines, media_type="application/x-ndjson")


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


_ASSET_ERRORS: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    404: {"model": Envelope[None], "description": "No such asset (code asset_not_found)"},
    422: {"model": Envelope[None], "description": "Not a symbol (error.details name the field)"},
}


@router.get(
    "/assets/{symbol}", response_model=Envelope[AssetWithMarketData], responses=_ASSET_ERRORS
)
async def get_asset(
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
    symbol: Annotated[
        str,
        Path(
            description="A symbol such as AAPL, BRK.B, VOD.L or ^GSPC (URL-encoded: %5EGSPC); "
            "write a class separator as . or -, not /"
        ),
    ],
) -> Envelope[AssetWithMarketData]:
    """One asset with every catalog field, the indices it belongs to, and its latest quote and
    profile (each with `source`, `as_of` and `stale`; `source: "sim"` marks simulated data).
    When no data provider can answer, the last known values are given with `stale: true`, or
    null when there are none: provider trouble never fails this call. A symbol no provider has
    confirmed yet (pending) is found only by those who added it."""
    asset, indices, quote, profile = await service.asset_with_market_data(
        db, runtime=market, viewer_id=user.id, symbol=symbol
    )
    detail = AssetWithMarketData(
        **AssetDetail.build(asset, indices).model_dump(), quote=quote, profile=profile
    )
    return ok(
        detail,
        f"{asset.symbol}: {asset.name}",
        next_actions=["search_assets", "get_index"] if indices else ["search_assets"],
    )


# --- Watching without a WebSocket -----------------------------------------------------------

_WATCH_ERRORS: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    422: {"model": Envelope[None], "description": "A malformed symbol or an unknown data type"},
    429: {
        "model": Envelope[None],
        "description": f"Over {WATCH_RATE_LIMIT} per user (see Retry-After)",
    },
}


@router.post("/market/subscriptions", response_model=Envelope[WatchList], responses=_WATCH_ERRORS)
async def watch_market_data(
    body: WatchRequest, request: Request, session: DbSession, user: CurrentUser
) -> Envelope[WatchList]:
    """Watch symbols' data types for `ttl_seconds` (default 300, at most 3,600), as `/ws/market`
    does for a live connection: the engine keeps what someone watches fresh. Asking again renews
    the watch. Symbols need not be validated first (an unknown one is simply never refreshed).
    Returns every live watch of yours."""
    await _watch_rate_limit(request, user.id)
    now = utcnow()
    pairs = watching.pairs_of(body.symbols, body.types)
    activity.record("watching")
    await watching.watch(
        session,
        owner_id=user.id,
        client=watching.API_CLIENT,
        pairs=pairs,
        now=now,
        seconds=body.ttl_seconds,
    )
    watches = await watching.my_watches(session, owner_id=user.id, now=now)
    return ok(
        WatchList(watches=watches, count=len(watches)),
        f"Watching {len(pairs)} (symbol, type) pair(s) for {body.ttl_seconds} s",
        next_actions=["list_market_subscriptions", "unwatch_market_data"],
    )


@router.get("/market/subscriptions", response_model=Envelope[WatchList], responses=_UNAUTHORIZED)
async def list_market_subscriptions(session: DbSession, user: CurrentUser) -> Envelope[WatchList]:
    """Your live watches, from the API and from your open `/ws/market` connections."""
    watches = await watching.my_watches(session, owner_id=user.id, now=utcnow())
    return ok(WatchList(watches=watches, count=len(watches)), f"{len(watches)} watch(es)")


@router.delete("/market/subscriptions", response_model=Envelope[WatchList], responses=_WATCH_ERRORS)
async def unwatch_market_data(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    symbols: Annotated[
        list[str] | None, Query(description="Symbols to stop watching; all when omitted")
    ] = None,
    types: Annotated[
        list[str] | None, Query(description="Data types to stop watching; all when omitted")
    ] = None,
) -> Envelope[WatchList]:
    """Stop API watches (those of `/ws/market` end with their connection)."""
    await _watch_rate_limit(request, user.id)
    pairs = None
    if symbols is not None or types is not None:
        pairs = watching.pairs_of(symbols or [], types or list(WATCHABLE_TYPES))
        if symbols is None:  # these types of every symbol watched
            held = await watching.my_watches(session, owner_id=user.id, now=utcnow())
            wanted = set(types or ())
            pairs = [
                (w.symbol, w.data_type)
                for w in held
                if w.client == watching.API_CLIENT and w.data_type in wanted
            ]
    ended = await watching.unwatch(
        session, owner_id=user.id, client=watching.API_CLIENT, pairs=pairs
    )
    watches = await watching.my_watches(session, owner_id=user.id, now=utcnow())
    return ok(
        WatchList(watches=watches, count=len(watches)),
        f"{ended} watch(es) ended",
        next_actions=["watch_market_data"],
    )


async def _watch_rate_limit(request: Request, user_id: uuid.UUID) -> None:
    limiter: RateLimiter = request.app.state.limiter
    await limiter.hit(
        WATCH_RATE_LIMIT,
        "market_subscriptions",
        str(user_id),
        message=f"At most {WATCH_RATE_LIMIT} subscription changes per user",
    )


# --- The engine's data types and flags (admins change them; every change audited) ---------------

_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    403: {"model": Envelope[None], "description": "Only an admin may change the engine"},
}


@router.get("/market/data-types", response_model=Envelope[EngineFlags], responses=_UNAUTHORIZED)
async def list_market_data_types(session: DbSession, user: CurrentUser) -> Envelope[EngineFlags]:
    """The data types the engine keeps fresh (TTL, providers able to serve each, on-demand or
    scheduled, default priority, on/off) and whether the engine itself is on."""
    found = await datatypes.flags(session)
    return ok(found, f"{len(found.data_types)} data type(s)")


@router.patch(
    "/market/data-types/{name}",
    response_model=Envelope[DataTypeOut],
    responses={**_ADMIN_ERRORS, 404: {"model": Envelope[None], "description": "No such type"}},
)
async def update_market_data_type(
    name: Annotated[str, Path(max_length=40)],
    body: DataTypeUpdate,
    session: DbSession,
    admin: AdminUser,
) -> Envelope[DataTypeOut]:
    """Change a data type's TTL, default priority or switch it off and on (admins; audited).
    Off: the engine stops refreshing it and reads fall back to on-demand fetching."""
    updated = await datatypes.update_type(session, name, body, actor=str(admin.id))
    return ok(updated, f"Data type {name} updated", next_actions=["list_market_audit"])


@router.put("/market/engine", response_model=Envelope[EngineSwitch], responses=_ADMIN_ERRORS)
async def switch_market_engine(
    body: EngineSwitch, session: DbSession, admin: AdminUser
) -> Envelope[EngineSwitch]:
    """Switch the whole refresh engine off and on at run time (admins; audited)."""
    enabled = await datatypes.set_engine(session, body.enabled, actor=str(admin.id))
    return ok(EngineSwitch(enabled=enabled), f"Market-data engine {'on' if enabled else 'off'}")


@router.get("/market/audit", response_model=Envelope[list[AuditEntry]], responses=_ADMIN_ERRORS)
async def list_market_audit(
    session: DbSession,
    admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Envelope[list[AuditEntry]]:
    """Every change to the engine's data types and flags, newest first: who, when, before, after."""
    entries = await datatypes.audit_log(session, limit=limit)
    return ok(entries, f"{len(entries)} change(s)")


# --- What the engine holds --------------------------------------------------------------------


@router.get("/market/status", response_model=Envelope[MarketStatus], responses=_UNAUTHORIZED)
async def get_market_status(
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
    minutes: Annotated[
        int,
        Query(
            ge=1,
            le=engine_status.MAX_WINDOW_MINUTES,
            description="The window of the processing and error rates, in minutes",
        ),
    ] = engine_status.DEFAULT_WINDOW_MINUTES,
) -> Envelope[MarketStatus]:
    """The refresh engine at a glance: whether it is on; the queue by status, data type and
    provider, and how long its oldest due row has waited; refreshes completed and failed per
    minute over the last `minutes`; each limited provider's quota used and left (minute and
    day windows); and how many watched (symbol, type) pairs the store holds fresh. Counts of
    everyone's data, never whose."""
    found = await engine_status.read_status(
        db,
        settings=market.settings,
        providers=[p.name for p in market.providers],
        window_minutes=minutes,
    )
    active = sum(found.queue.active_by_type.values())
    fresh = found.freshness
    return ok(
        found,
        f"Engine {'on' if found.engine_enabled else 'off'}: {active} refresh(es) queued, "
        f"{fresh.fresh} of {fresh.watched_pairs} watched pair(s) fresh",
        next_actions=["list_market_data_types", "get_providers_health"],
    )


_DATA_ERRORS: dict[int | str, dict[str, Any]] = {
    **_UNAUTHORIZED,
    422: {"model": Envelope[None], "description": "A malformed symbol or an unknown data type"},
}


@router.get("/market/data/{symbol}", response_model=Envelope[MarketData], responses=_DATA_ERRORS)
async def get_market_data(
    symbol: Annotated[str, Path(max_length=64)],
    request: Request,
    db: Db,
    user: AuthenticatedUser,
    market: MarketRuntimeDep,
    types: Annotated[
        list[str] | None,
        Query(description="Data types, repeated or comma-separated; default quote"),
    ] = None,
) -> Envelope[MarketData]:
    """The engine's latest values of a symbol, each with `source`, `as_of` and `stale`
    (`source: "sim"` marks simulated data). While the engine and a value's data type are on, a
    stale or missing value is answered as it is and its refresh is queued at high priority
    (`queued: true`); watch it on `/ws/market` to get it when it arrives. While the engine or
    the type is off, the value is fetched from the providers instead, waiting up to
    QUANTDESK_MARKET_READ_BUDGET_SECONDS (`on_demand`: fetched, or timed_out and answered
    stale, or unanswered)."""
    wanted = [t.strip() for item in types or ["quote"] for t in item.split(",") if t.strip()]
    pairs = watching.pairs_of([symbol], wanted or ["quote"])
    found = await engine_reads.market_data(
        db,
        runtime=market,
        symbol=pairs[0][0],
        types=[t for _, t in pairs],
        budget_seconds=market.settings.market_read_budget_seconds,
        bus=request.app.state.bus,
    )
    queued = sum(1 for v in found.values if v.queued)
    fetched = sum(1 for v in found.values if v.on_demand is OnDemand.FETCHED)
    late = sum(1 for v in found.values if v.on_demand is OnDemand.TIMED_OUT)
    message = f"{len(found.values)} value(s), {queued} refresh(es) queued"
    if fetched or late:
        message += f", {fetched} fetched on demand, {late} not in time"
    return ok(found, message, next_actions=["watch_market_data", "get_quote_history"])


@router.get(
    "/market/history/{symbol}", response_model=Envelope[QuoteHistory], responses=_DATA_ERRORS
)
async def get_quote_history(
    symbol: Annotated[str, Path(max_length=64)],
    session: DbSession,
    user: CurrentUser,
    start: Annotated[
        datetime | None, Query(alias="from", description="Default: 24 hours before `to`")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Default: now")] = None,
    interval: Interval = Interval.RAW,
) -> Envelope[QuoteHistory]:
    """Quotes of a symbol in [from, to): every one (`raw`), or one bar per 1m / 5m / 1h / 1d
    bucket (open, high, low, close) for charts. Times without an offset are UTC."""
    (canonical, _), *_ = watching.pairs_of([symbol], ["quote"])
    until = as_utc(end) if end is not None else utcnow()
    since = as_utc(start) if start is not None else until - timedelta(hours=24)
    if since >= until:
        raise InvalidInput("`from` must be before `to`", field="from")
    found = await engine_reads.history(
        session, symbol=canonical, start=since, end=until, interval=interval
    )
    count = len(found.points or found.bars or [])
    return ok(found, f"{count} {'point' if interval is Interval.RAW else 'bar'}(s)")


@router.get("/market/inventory", response_model=Envelope[Inventory], responses=_UNAUTHORIZED)
async def get_market_inventory(
    db: Db,
    user: AuthenticatedUser,
    asset_class: Annotated[
        Literal["equity", "etf", "crypto", "index", "currency"] | None,
        Query(description="Only this class"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=64, description="A page's next_cursor")] = None,
) -> Envelope[Inventory]:
    """Tradable assets (the catalog's valid ones, by symbol) with their latest quotes from the
    engine: price, market cap, volume and change (24 h for crypto, from CoinGecko's market data
    when it serves them). A stale or missing quote is queued at a low priority and answered as
    it is; watch the symbols on `/ws/market` to see the values arrive."""
    found = await service.tradable_inventory(
        db, viewer_id=user.id, asset_class=asset_class, limit=limit, after=cursor
    )
    queued = sum(1 for item in found.items if item.queued)
    return ok(
        found,
        f"{len(found.items)} asset(s), {queued} quote refresh(es) queued",
        next_actions=["place_order", "watch_market_data"],
    )
