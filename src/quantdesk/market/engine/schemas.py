"""The engine's values: what the store answers, history points and bars for charts, and the
refresh queue's items in and out. ``symbol`` None is data about no symbol (an exchange list)."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from quantdesk.market.schemas import ExactDecimal


class StoredValue(BaseModel):
    """The latest value of one (symbol, data type); ``stale`` when unknown or older than the
    type's TTL (unknown is stale: the fail-safe answer)."""

    model_config = ConfigDict(frozen=True)

    symbol: str | None
    data_type: str
    value: Any = None
    source: str | None = Field(default=None, description="The provider that answered")
    as_of: datetime | None = Field(default=None, description="When it was fetched")
    expires_at: datetime | None = None
    stale: bool


class Interval(enum.StrEnum):
    RAW = "raw"
    MINUTE = "1m"
    FIVE_MINUTES = "5m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def seconds(self) -> int | None:
        return _SECONDS[self]


_SECONDS = {
    Interval.RAW: None,
    Interval.MINUTE: 60,
    Interval.FIVE_MINUTES: 300,
    Interval.HOUR: 3600,
    Interval.DAY: 86400,
}


class QuotePointOut(BaseModel):
    as_of: datetime
    price: ExactDecimal
    change: ExactDecimal | None = None
    change_percent: ExactDecimal | None = None
    volume: ExactDecimal | None = None
    market_cap: ExactDecimal | None = None
    currency: str | None = None
    source: str


class QuoteBar(BaseModel):
    """One bucket of quotes (UTC, from the epoch): first, highest, lowest and last price; the
    volume and market cap of the last quote (a quote's volume is the day's so far)."""

    start: datetime
    open: ExactDecimal
    high: ExactDecimal
    low: ExactDecimal
    close: ExactDecimal
    volume: ExactDecimal | None = None
    market_cap: ExactDecimal | None = None
    currency: str | None = None
    points: int
    source: str


@dataclass(frozen=True, slots=True)
class RefreshItem:
    """A call to queue: refresh ``data_type`` of ``symbol`` at ``priority`` (higher first), no
    earlier than ``run_at`` (None: now), from ``provider`` (None: the type's chain decides)."""

    symbol: str | None
    data_type: str
    priority: int = 0
    provider: str | None = None
    run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClaimedRefresh:
    """A row a worker holds: ask ``provider`` for it (the quota is already debited)."""

    id: int
    symbol: str | None
    data_type: str
    provider: str
    priority: int
    attempts: int  # this one included


@dataclass(frozen=True, slots=True)
class Fetched:
    """A provider's answer to store: ``value`` is the dataset's result (a model, a list of
    models, None for "nothing there", or JSON-able data). ``request_id``: the queue row it
    answers, if any."""

    symbol: str | None
    data_type: str
    provider: str
    value: Any
    fetched_at: datetime
    request_id: int | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with jitter: attempt n waits base * 2^(n-1), capped, times a random
    factor in [0.5, 1) so failures of one moment do not retry in lockstep ("equal jitter")."""

    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    max_attempts: int = 5

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        factor = 0.5 + (rng or random).random() / 2
        return timedelta(seconds=ceiling * factor)


@dataclass(frozen=True, slots=True)
class EnginePlan:
    """What the registry says now: whether the engine runs, each type's TTL, and each enabled
    type's providers (the configured ones able to serve it, in chain order)."""

    enabled: bool
    ttls: dict[str, int]
    routes: dict[str, list[str]]
    priorities: dict[str, int]


class QueueStatus(BaseModel):
    """Rows of the refresh queue per status, and the active ones per data type and provider
    (None: not yet routed); how long the longest-due pending row has waited."""

    by_status: dict[str, int]
    active_by_type: dict[str, int]
    active_by_provider: dict[str, int]
    oldest_due_seconds: float | None


class OnDemand(enum.StrEnum):
    """How a read's own fetch went (the engine or the value's type off, nothing refreshes it)."""

    FETCHED = "fetched"  # answered within the read budget: stored, and returned fresh
    TIMED_OUT = "timed_out"  # not within the budget: returned as stored; stored when it comes
    UNANSWERED = "unanswered"  # no provider could answer now (quota, breakers, none serves it)


class MarketValue(StoredValue):
    queued: bool = Field(default=False, description="Stale: a refresh was queued at high priority")
    on_demand: OnDemand | None = Field(
        default=None,
        description="The engine or this data type is off, so the read asked the providers for "
        "the stale value itself: fetched (in time, stored), timed_out (not within "
        "QUANTDESK_MARKET_READ_BUDGET_SECONDS: the stored value, stale; the answer is stored "
        "when it comes) or unanswered (no provider could answer now)",
    )


class MarketData(BaseModel):
    symbol: str
    values: list[MarketValue]


class QuoteHistory(BaseModel):
    symbol: str
    interval: Interval
    points: list[QuotePointOut] | None = Field(default=None, description="interval=raw")
    bars: list[QuoteBar] | None = Field(default=None, description="Any other interval")


# --- The engine at a glance (GET market/status, `quantdesk market status`, the metrics) ----------


class RefreshRates(BaseModel):
    """Refreshes that finished over the last ``window_minutes``: what the workers get through,
    and how much of it fails (finished rows are kept for QUANTDESK_MARKET_REFRESH_RETENTION_HOURS,
    so a window longer than that undercounts)."""

    window_minutes: int
    completed: int
    failed: int
    completed_per_minute: float
    failed_per_minute: float
    error_ratio: float | None = Field(
        description="failed / (completed + failed); null when nothing finished in the window"
    )


class QuotaWindow(BaseModel):
    used: int = Field(description="Calls debited in the window")
    limit: int | None = Field(description="null: no limit in this window")
    left: int | None = Field(description="null: no limit in this window")


class DayQuotaWindow(QuotaWindow):
    resets_at: datetime = Field(description="When the provider's day starts again (UTC)")


class ProviderQuotaStatus(BaseModel):
    """One limited provider's quota ledger: the per-minute window is any 60 s to now (longer for a
    rate under one a minute), the day runs from the provider's daily reset."""

    provider: str
    minute: QuotaWindow
    day: DayQuotaWindow
    spent_until: datetime | None = Field(
        default=None, description="The provider refused us (429, plan limit): skipped until then"
    )


class Freshness(BaseModel):
    """The (symbol, data type) pairs someone watches now, and how many of them the store holds
    fresh: fetched within the watchers' refresh interval (the type's TTL unless every watcher
    asked for a slower one). No value yet, or a type without a TTL, is stale."""

    watched_pairs: int
    fresh: int
    fresh_percent: float = Field(description="100 when nothing is watched (nothing is stale)")


class MarketStatus(BaseModel):
    engine_enabled: bool = Field(description="Off: nothing is queued, reads fetch on demand")
    queue: QueueStatus
    rates: RefreshRates
    quota: list[ProviderQuotaStatus] = Field(
        description="Each configured provider with a limit, in chain order (sim has none)"
    )
    freshness: Freshness
    as_of: datetime


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Queue rows of one (status, data type, provider); provider None: not yet routed."""

    status: str
    data_type: str
    provider: str | None
    count: int


@dataclass(frozen=True, slots=True)
class MarketGauges:
    """What the scrape-time metrics show of the engine (``kit.metrics.set_market_engine``; the
    quota windows are the ledger probe's ``quantdesk_provider_quota_*``)."""

    depth: list[QueueDepth]
    oldest_due_seconds: float | None
    freshness: Freshness


class InventoryItem(BaseModel):
    """A tradable asset with its latest quote as the engine holds it (``stale`` when older than
    the quote TTL or never fetched; ``queued`` when its refresh was just asked for)."""

    symbol: str
    name: str
    asset_class: str
    exchange: str | None
    price: ExactDecimal | None
    market_cap: ExactDecimal | None
    volume: ExactDecimal | None
    change_percent: ExactDecimal | None = Field(
        description="Since the previous close; for crypto over 24 hours (1.5 = 1.5 %)"
    )
    as_of: datetime | None
    source: str | None = Field(description='"sim" for simulated quotes')
    stale: bool
    queued: bool


class Inventory(BaseModel):
    items: list[InventoryItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")
