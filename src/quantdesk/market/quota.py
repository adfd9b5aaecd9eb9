"""The persisted quota ledger: no number of processes, with or without Redis, can spend more of a
provider's allowance than its plan gives.

Two windows per provider, from settings: ``<provider>_requests_per_minute`` holds over ANY 60 s
span (a sliding window over the recorded debits; a fixed window that resets on the minute could
let twice the limit through across its edge) and ``<provider>_requests_per_day`` counts from the
provider's daily reset (``<provider>_day_resets_at``, UTC) to the next. A debit locks the
provider's ledger row, reads both windows, and records the calls it grants, all in the caller's
transaction: a refresh-queue claim and its debit commit together, and a rolled-back claim spends
nothing. A provider's own refusal (HTTP 429, a plan limit) marks its window spent until
``Retry-After`` or the reset, persisted, so every process skips it at once.

``LedgerGate`` is the chain's ``QuotaGate`` on this ledger (one short transaction per call, never
around the call itself). Providers without any limit (``sim``) never touch it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import repository

WINDOW = timedelta(seconds=60)
# Debits older than this are of no window any more.
KEEP_DEBITS = timedelta(days=2)


@dataclass(frozen=True)
class Limits:
    """``per_minute`` calls in any ``window`` (60 s, longer for a rate under one a minute: 0.6
    a minute is one call in any 100 s), ``per_day`` from the daily reset."""

    per_minute: int | None
    per_day: int | None
    day_resets_at: time = time(0, 0)
    window: timedelta = WINDOW

    @property
    def unlimited(self) -> bool:
        return self.per_minute is None and self.per_day is None

    def day_start(self, now: datetime) -> datetime:
        """When the provider's current day began."""
        reset = datetime.combine(now.date(), self.day_resets_at, UTC)
        return reset if reset <= now else reset - timedelta(days=1)


def limits_for(settings: Settings, provider: str) -> Limits:
    per_minute = getattr(settings, f"{provider}_requests_per_minute", None)
    per_day = getattr(settings, f"{provider}_requests_per_day", None)
    resets = getattr(settings, f"{provider}_day_resets_at", "00:00")
    hours, minutes = (int(part) for part in str(resets).split(":"))
    calls = max(1, math.floor(per_minute)) if per_minute else None
    return Limits(
        per_minute=calls,
        per_day=int(per_day) if per_day else None,
        day_resets_at=time(hours, minutes),
        # A fractional rate: its calls in the window that keeps it (2.5 a minute: 2 in 48 s).
        window=timedelta(seconds=60 * calls / per_minute) if calls and per_minute else WINDOW,
    )


@dataclass(frozen=True)
class HeldLedger:
    """A provider's ledger row the caller's transaction has locked, and its spent mark."""

    spent_until: datetime | None


@dataclass(frozen=True)
class Grant:
    """Calls granted (0 up to those asked); when none, how long until one may be."""

    granted: int
    wait_seconds: float = 0.0


async def take(
    session: AsyncSession,
    provider: str,
    calls: int,
    *,
    limits: Limits,
    now: datetime,
    partial: bool = False,
    locked: HeldLedger | None = None,
) -> Grant:
    """Debit up to ``calls`` of the provider's allowance in the caller's transaction.

    All or nothing unless ``partial`` (a claim of N queued calls takes what the windows allow).
    ``locked``: the caller already holds the provider's ledger row (``repository.lock_quotas``)
    and read its spent mark.
    """
    if calls < 1:
        raise ValueError(f"calls must be at least 1, not {calls}")
    if limits.unlimited:  # nothing to count: only a refusal the provider persisted holds it
        return grant_unlimited(calls, await repository.spent_until(session, provider), now=now)
    if locked is not None:
        spent = locked.spent_until
    else:
        spent = await repository.lock_quota(session, provider, now=now)
    if spent is not None and spent > now:
        return Grant(0, (spent - now).total_seconds())
    allowed, wait = calls, 0.0
    if limits.per_minute is not None:
        recent = await repository.debits_since(session, provider, since=now - limits.window)
        used = sum(c for _, c in recent)
        left = limits.per_minute - used
        # A fetch costing more than the whole window (an Alpha Vantage lookup is 2 calls, with a
        # limit of 1 in 100 s) goes only into an empty window, as a token bucket lets it through
        # only when full.
        need = 1 if partial else min(calls, limits.per_minute)
        if left < need:
            allowed, wait = 0, max(wait, _minute_wait(recent, used, limits, need, now))
        elif partial:
            allowed = min(allowed, left)
    if limits.per_day is not None:
        start = limits.day_start(now)
        left = limits.per_day - await repository.calls_since(session, provider, since=start)
        if left < (1 if partial else calls):
            allowed, wait = 0, max(wait, (start + timedelta(days=1) - now).total_seconds())
        elif partial:
            allowed = min(allowed, left)
    if allowed == 0:
        return Grant(0, max(wait, 0.001))
    granted = allowed
    await repository.record_debit(session, provider, at=now, calls=granted)
    return Grant(granted)


def grant_unlimited(calls: int, spent_until: datetime | None, *, now: datetime) -> Grant:
    """A provider without limits grants every call, unless it refused us until a later time."""
    if spent_until is not None and spent_until > now:
        return Grant(0, (spent_until - now).total_seconds())
    return Grant(calls)


def _minute_wait(
    recent: list[tuple[datetime, int]], used: int, limits: Limits, need: int, now: datetime
) -> float:
    """Seconds until enough debits leave the window for ``need`` more calls."""
    limit = limits.per_minute or 0
    for at, debited in recent:
        used -= debited
        if used + need <= limit:
            return max(0.0, (at + limits.window - now).total_seconds())
    return limits.window.total_seconds()


async def mark_spent(
    session: AsyncSession, provider: str, *, seconds: float, now: datetime
) -> None:
    """The provider refused us (429, a plan limit): spent for ``seconds``, for every process."""
    if seconds > 0:
        until = now + timedelta(seconds=seconds)
        await repository.set_spent_until(session, provider, until=until, now=now)


async def usage(
    session: AsyncSession, provider: str, *, limits: Limits, now: datetime
) -> dict[str, Any]:
    """Used and left per window, and the spent mark: what status pages show."""
    minute = await repository.calls_since(session, provider, since=now - limits.window)
    today = await repository.calls_since(session, provider, since=limits.day_start(now))
    spent = await repository.spent_until(session, provider)
    return {
        "minute": {
            "used": minute,
            "limit": limits.per_minute,
            "left": None if limits.per_minute is None else max(0, limits.per_minute - minute),
        },
        "day": {
            "used": today,
            "limit": limits.per_day,
            "left": None if limits.per_day is None else max(0, limits.per_day - today),
            "resets_at": (limits.day_start(now) + timedelta(days=1)).isoformat(),
        },
        "spent_until": spent.isoformat() if spent is not None and spent > now else None,
    }


async def trim(session: AsyncSession, *, now: datetime) -> int:
    """Forget debits no window can see any more; how many."""
    return await repository.trim_debits(session, before=now - KEEP_DEBITS)


class LedgerGate:
    """The chain's ``QuotaGate`` on the persisted ledger (a short system transaction per call)."""

    def __init__(self, settings: Settings, names: list[str], db: Database | None = None) -> None:
        self.limits = {name: limits_for(settings, name) for name in names}
        self._owns_db = db is None
        self._settings = settings
        self._db = db

    @property
    def db(self) -> Database:
        if self._db is None:  # a worker's market runtime: its own pool, opened on first use
            self._db = Database(self._settings)
        return self._db

    def _limits(self, provider: str) -> Limits:
        return self.limits.get(provider) or Limits(None, None)

    async def try_take(self, provider: str, calls: int) -> float:
        limits = self._limits(provider)
        if limits.unlimited:  # the simulated provider: no allowance, never refuses
            return 0.0
        async with self.db.transaction(system=True) as session:
            grant = await take(session, provider, calls, limits=limits, now=utcnow())
        return grant.wait_seconds if grant.granted == 0 else 0.0

    async def mark_spent(self, provider: str, seconds: float) -> None:
        async with self.db.transaction(system=True) as session:
            await mark_spent(session, provider, seconds=seconds, now=utcnow())

    async def state(self, provider: str) -> dict[str, Any] | None:
        limits = self._limits(provider)
        if limits.unlimited:
            return None
        async with self.db.transaction(system=True, readonly=True) as session:
            found = await usage(session, provider, limits=limits, now=utcnow())
        return found

    async def aclose(self) -> None:
        if self._owns_db and self._db is not None:
            await self._db.dispose()
