"""The quota gate: may this process spend ``calls`` of a provider's allowance now?

The chain asks the gate before every provider call and tells it when the provider itself said
its window is spent (HTTP 429, "Limit Reach", Alpha Vantage's notes). ``QuotaGate`` is the whole
interface, so a persisted ledger (per-minute and per-day windows debited in the database) can
replace the default without touching the chain. The default, ``TokenBucketGate``, is the token
bucket of ``QUANTDESK_<PROVIDER>_REQUESTS_PER_MINUTE`` (shared through Redis when configured) plus
an in-process "spent until" mark per provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from quantdesk.kit.config import Settings
from quantdesk.kit.token_bucket import TokenBucketLimiter

# Token-bucket burst: a few calls at once, never more than ~5 s worth of the provider's rate.
MAX_BURST = 5.0
# A throttle (per-minute window) without Retry-After: the minute window is spent.
MINUTE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateLimit:
    rate_per_second: float
    capacity: float


class QuotaGate(Protocol):
    async def try_take(self, provider: str, calls: int) -> float:
        """Take ``calls`` of the provider's allowance: 0 when taken, else the seconds to wait
        (and nothing is taken)."""
        ...

    async def mark_spent(self, provider: str, seconds: float) -> None:
        """The provider said its window is spent: refuse it for ``seconds``."""
        ...

    async def state(self, provider: str) -> dict[str, Any] | None:
        """What the health report shows of the provider's allowance; None when unlimited."""
        ...

    async def aclose(self) -> None: ...


def provider_rate_limit(settings: Settings, name: str) -> RateLimit | None:
    """The token bucket of a provider from ``<name>_requests_per_minute``; None when unlimited."""
    per_minute = getattr(settings, f"{name}_requests_per_minute", None)
    if not isinstance(per_minute, int | float) or per_minute <= 0:
        return None
    rate = float(per_minute) / 60.0
    return RateLimit(rate_per_second=rate, capacity=max(1.0, min(MAX_BURST, rate * 5)))


def seconds_to_next_utc_day(now: datetime | None = None) -> float:
    """A daily allowance refused without Retry-After is spent until the provider's day ends;
    providers document a calendar day, UTC midnight is the default reading of it."""
    moment = now or datetime.now(UTC)
    tomorrow = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (tomorrow - moment).total_seconds()


class TokenBucketGate:
    """Per-minute token buckets (Redis-shared when configured) and provider-said "spent" marks.

    The marks are in process: another process learns a window is spent from its own first
    refused call, which costs one call per process (the persisted ledger removes even that).
    """

    def __init__(
        self,
        limits: dict[str, RateLimit | None],
        buckets: TokenBucketLimiter,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.buckets = buckets
        self._clock = clock
        self._spent_until: dict[str, float] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, names: list[str], buckets: TokenBucketLimiter | None = None
    ) -> TokenBucketGate:
        return cls(
            {name: provider_rate_limit(settings, name) for name in names},
            buckets or TokenBucketLimiter(settings.redis_url),
        )

    def spent_for(self, provider: str) -> float:
        """Seconds left on the provider's "spent" mark (0 when none)."""
        until = self._spent_until.get(provider)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._spent_until[provider]
            return 0.0
        return left

    async def try_take(self, provider: str, calls: int) -> float:
        if calls < 1:
            raise ValueError(f"calls must be at least 1, not {calls}")
        spent = self.spent_for(provider)
        if spent > 0:
            return spent
        limit = self.limits.get(provider)
        if limit is None:
            return 0.0
        # A call costing more than a full bucket could never pass: it waits for a full bucket.
        tokens = min(float(calls), limit.capacity)
        return await self.buckets.try_acquire(
            _key(provider),
            rate_per_second=limit.rate_per_second,
            capacity=limit.capacity,
            tokens=tokens,
        )

    async def mark_spent(self, provider: str, seconds: float) -> None:
        if seconds <= 0:
            return
        until = self._clock() + seconds
        self._spent_until[provider] = max(until, self._spent_until.get(provider, 0.0))

    async def state(self, provider: str) -> dict[str, Any] | None:
        limit = self.limits.get(provider)
        spent = self.spent_for(provider)
        if limit is None and spent <= 0:
            return None
        found: dict[str, Any] = {}
        if limit is not None:
            found = await self.buckets.state(
                _key(provider), rate_per_second=limit.rate_per_second, capacity=limit.capacity
            )
            found["requests_per_minute"] = round(limit.rate_per_second * 60, 3)
        found["spent_for_seconds"] = round(spent, 3) if spent > 0 else None
        return found

    async def aclose(self) -> None:
        await self.buckets.aclose()


def _key(provider: str) -> str:
    return f"provider:{provider}"
