"""Request and response models of market data: validation results, quotes, profiles, health."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

from quantdesk.assets.schemas import AssetDetail

MAX_VALIDATE_SYMBOLS = 1000
MAX_SYMBOL_INPUT_LENGTH = 64

# As strings, never floats; without the storage's trailing zeros (NUMERIC(38, 10) on PostgreSQL).
ExactDecimal = Annotated[
    Decimal,
    PlainSerializer(lambda v: format(v.normalize(), "f"), return_type=str, when_used="json"),
]
SymbolInput = Annotated[str, StringConstraints(max_length=MAX_SYMBOL_INPUT_LENGTH)]
Validity = bool | Literal["unknown"]


# Inputs per call, duplicates included; distinct symbols are limited to MAX_VALIDATE_SYMBOLS.
MAX_VALIDATE_INPUTS = 10 * MAX_VALIDATE_SYMBOLS


class ValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbols: list[SymbolInput] = Field(
        min_length=1,
        description=f"Up to {MAX_VALIDATE_SYMBOLS:,} distinct symbols, any spelling (BRK.B, "
        "brk-b, VOD.L); duplicates are answered once. More: validate_symbols_in_bulk",
        examples=[["AAPL", "BRK.B", "BTC-USD"]],
    )

    @field_validator("symbols")
    @classmethod
    def _not_a_bulk_list(cls, symbols: list[str]) -> list[str]:
        if len(symbols) > MAX_VALIDATE_INPUTS:
            raise ValueError(
                f"at most {MAX_VALIDATE_SYMBOLS:,} distinct symbols per call; "
                "use validate_symbols_in_bulk for more"
            )
        return symbols


MAX_BULK_VALIDATE_SYMBOLS = 100_000


class BulkValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbols: list[SymbolInput] = Field(
        min_length=1,
        max_length=MAX_BULK_VALIDATE_SYMBOLS,
        description=f"1 to {MAX_BULK_VALIDATE_SYMBOLS:,} symbols, any spelling; validated in the "
        "background in batches of 10",
        examples=[["AAPL", "BRK.B", "BTC-USD"]],
    )


class ProviderErrorInfo(BaseModel):
    """Why a provider gave no answer: down, throttled, over quota, skipped (breaker, rate)..."""

    provider: str = Field(examples=["alphavantage"])
    kind: str = Field(
        examples=["throttled"],
        description="throttled, quota_exceeded, unavailable, auth, unsupported, error, "
        "breaker_open (skipped: the circuit breaker is open) or rate_limited (skipped: its quota "
        "is spent for now: no token in our rate limiter, or it said 429 / plan limit)",
    )
    message: str
    retry_after: float | None = Field(default=None, description="Seconds, when known")


class ValidationResult(BaseModel):
    symbol: str = Field(description="The input as given", examples=["brk.b"])
    canonical_symbol: str | None = Field(
        description="The catalog's or canonical spelling; null when the input cannot be a symbol",
        examples=["BRK-B"],
    )
    valid: Validity = Field(
        description='true, false, or "unknown" when no provider could answer now (then '
        "retry_after says when to ask again and the symbol is queued for background validation)"
    )
    source: str | None = Field(
        default=None,
        description='Who vouched for the answer: "catalog" or a provider name ("sim" is never '
        "used to validate); from_cache tells whether it came from the cache layer",
        examples=["catalog"],
    )
    name: str | None = None
    exchange: str | None = None
    asset_class: str | None = None
    checked_at: datetime = Field(description="When the answer was obtained (cached: originally)")
    from_cache: bool = False
    reason: str | None = Field(default=None, description="Why it is invalid or unknown")
    errors: list[ProviderErrorInfo] = Field(default_factory=list)
    retry_after: float | None = Field(default=None, description="Seconds, for unknown results")
    queued: bool = Field(default=False, description="Queued for background validation")
    count: int = Field(default=1, description="How many times this symbol was given")


class ValidationCounts(BaseModel):
    valid: int = 0
    invalid: int = 0
    unknown: int = 0


class ValidationBatch(BaseModel):
    results: list[ValidationResult]
    counts: ValidationCounts


class LatencySummary(BaseModel):
    count: int = Field(description="Samples in the reservoir (the most recent ones)")
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class LayerStats(BaseModel):
    hits: int = 0
    misses: int = 0


class ProviderCallStats(BaseModel):
    calls: int = 0
    answers: int = 0
    errors: dict[str, int] = Field(default_factory=dict, description="By error kind")
    skipped: dict[str, int] = Field(
        default_factory=dict, description="Calls not made: breaker_open, rate_limited"
    )
    latency: LatencySummary


class ValidationStats(BaseModel):
    since: datetime = Field(description="Counters are per process, since it started")
    validations: int = Field(description="Validation calls (one per batch)")
    symbols: int = Field(description="Symbols validated")
    outcomes: ValidationCounts
    layers: dict[str, LayerStats] = Field(description="cache, catalog, providers")
    providers: dict[str, ProviderCallStats]
    validation_latency: LatencySummary
    cache: dict[str, Any] = Field(description="The two-layer cache's own counters")


class DatasetInfo(BaseModel):
    name: str = Field(examples=["quote"])
    cost_per_call: int = Field(description="Provider calls one fetch spends of its quota")
    max_symbols: int = Field(description="Symbols one call answers (1: no batching)")


class ProviderHealth(BaseModel):
    name: str
    simulated: bool = Field(description="Its data is labelled source 'sim' and never validates")
    capabilities: list[str] = Field(description="The datasets it serves (names only)")
    datasets: list[DatasetInfo] = Field(default_factory=list)
    breaker: dict[str, Any]
    rate_limiter: dict[str, Any] | None = Field(
        description="The quota ledger: calls used and left in the per-minute window (any 60 s "
        "to now) and the per-day window (since the provider's reset), and spent_until when the "
        "provider said its window is spent (429, plan limit); null when not limited (sim)"
    )


class ProvidersHealth(BaseModel):
    providers: list[ProviderHealth]
    cache: dict[str, Any]


class MarketQuote(BaseModel):
    price: ExactDecimal
    change: ExactDecimal | None = None
    change_percent: ExactDecimal | None = Field(default=None, description="1.5 = 1.5 %")
    change_24h_percent: ExactDecimal | None = Field(
        default=None, description="Crypto: the 24-hour change in percent"
    )
    volume: ExactDecimal | None = None
    market_cap: ExactDecimal | None = None
    currency: str | None = None
    as_of: datetime
    source: str = Field(examples=["yahoo"], description='"sim" for simulated data')
    stale: bool = Field(
        description="Older than the quote TTL, or only the last value we kept was available"
    )


class MarketProfile(BaseModel):
    sector: str | None = None
    industry: str | None = None
    country: str | None = None
    currency: str | None = None
    market_cap: ExactDecimal | None = None
    pe_ratio: ExactDecimal | None = None
    dividend_yield: ExactDecimal | None = Field(default=None, description="0.005 = 0.5 %")
    description: str | None = None
    website: str | None = None
    as_of: datetime = Field(description="When it was fetched")
    source: str = Field(examples=["fmp"], description='"sim" for simulated data')
    stale: bool


class AssetWithMarketData(AssetDetail):
    """An asset (``assets``' detail) with market data's latest quote and profile."""

    quote: MarketQuote | None = Field(
        default=None, description="Latest quote; null when no provider could give one yet"
    )
    profile: MarketProfile | None = Field(
        default=None, description="Latest company / fund profile; null when none is known"
    )


# --- Watching (presence) ------------------------------------------------------------------------

# The data types a client can watch per symbol (the engine's symbol-less types, available
# exchanges and exchange market status, are refreshed on their schedule, not by watching).
WATCHABLE_TYPES = (
    "quote",
    "profile",
    "financial-statements",
    "ratios-ttm",
    "dividend-history",
    "shares-float",
    "revenue-segmentation",
    "grades-historical",
    "exchange-variants",
)
MAX_WATCH_SYMBOLS = 500
DEFAULT_WATCH_SECONDS = 300
MAX_WATCH_SECONDS = 3600


class WatchRequest(BaseModel):
    """Watch (symbol, data type) pairs for a while: the engine keeps what is watched fresh."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[SymbolInput] = Field(
        min_length=1, max_length=MAX_WATCH_SYMBOLS, examples=[["AAPL", "BTC-USD"]]
    )
    types: list[str] = Field(
        default_factory=lambda: ["quote"],
        min_length=1,
        max_length=len(WATCHABLE_TYPES),
        description=f"Any of: {', '.join(WATCHABLE_TYPES)}",
    )
    ttl_seconds: int = Field(
        default=DEFAULT_WATCH_SECONDS,
        ge=30,
        le=MAX_WATCH_SECONDS,
        description="How long the watch lasts unless renewed by asking again",
    )


class UnwatchRequest(BaseModel):
    """Stop watching these pairs (all of this client's watches when ``symbols`` is omitted)."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[SymbolInput] | None = Field(default=None, max_length=MAX_WATCH_SYMBOLS)
    types: list[str] | None = Field(default=None, max_length=len(WATCHABLE_TYPES))


class Watch(BaseModel):
    symbol: str
    data_type: str
    client: str = Field(description='"api", or "ws" for a live WebSocket connection')
    expires_at: datetime


class WatchList(BaseModel):
    watches: list[Watch]
    count: int


# --- The engine's data types, flags and audit ----------------------------------------------------


class DataTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    ttl_seconds: int = Field(description="A value older than this is stale")
    datasets: list[str]
    providers: list[str] = Field(description="Able to serve it, in chain order")
    kind: Literal["on_demand", "scheduled"]
    schedule_seconds: int | None = Field(description="How often a scheduled type is refreshed")
    default_priority: int
    enabled: bool
    updated_at: datetime


class DataTypeUpdate(BaseModel):
    """What an admin may change of a data type (omitted fields stay)."""

    model_config = ConfigDict(extra="forbid")

    ttl_seconds: int | None = Field(default=None, gt=0, le=366 * 86400)
    enabled: bool | None = None
    default_priority: int | None = Field(default=None, ge=0, le=1000)


class EngineFlags(BaseModel):
    engine: bool = Field(description="The refresh engine as a whole; off: on-demand fetching")
    data_types: list[DataTypeOut]


class EngineSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    target: str
    before: dict[str, Any]
    after: dict[str, Any]
