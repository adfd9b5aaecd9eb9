"""The sweep: what the refresh queue should hold now. Run once across processes per turn
(``market.engine.loops.SweepLoop``), database work only, in the transaction of the turn.

- Watched pairs (``market.watching``) are queued just before they go stale: at the watcher's
  ``refresh_seconds`` (or the type's TTL) minus a small lead, at the watchers' priority plus the
  type's. A pair already queued is not queued twice (the queue's upsert only raises priority and
  brings run_at forward).
- Scheduled types (exchange lists, market status: about no symbol) are queued on their schedule.
- Rows whose worker died (lease expired) are recovered.

Nothing is queued for a type that is off, or at all while the engine is off.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.market import datatypes, watching
from quantdesk.market.engine import service, store, store_repository
from quantdesk.market.engine.schemas import RefreshItem, RetryPolicy

# A value is fetched this share of its interval before it goes stale, at most MAX_LEAD: a quote
# of TTL 60 s is asked 6 s early, a daily profile 5 min early.
LEAD_SHARE = 0.1
MAX_LEAD_SECONDS = 300.0


@dataclass(frozen=True)
class SweepResult:
    watched: int
    queued: int
    scheduled: int
    recovered: int


def lead_seconds(interval_seconds: float) -> float:
    return min(interval_seconds * LEAD_SHARE, MAX_LEAD_SECONDS)


def due_at(fetched_at: datetime | None, interval_seconds: int, now: datetime) -> datetime:
    """When a value should be fetched again: a little before it goes stale (now if never)."""
    if fetched_at is None:
        return now
    return fetched_at + timedelta(seconds=interval_seconds - lead_seconds(interval_seconds))


async def sweep(
    session: AsyncSession,
    *,
    now: datetime,
    horizon_seconds: float,
    policy: RetryPolicy,
    configured: Collection[str] | None = None,
) -> SweepResult:
    """Queue what falls due within ``horizon_seconds`` (the time to the next sweep), each row
    to run when it is due; recover expired leases. ``configured``: the providers the engine's
    processes have (None: any); a type none of them serves is not queued (its rows could only
    fail, sweep after sweep: FMP's exchange lists without an FMP key, say)."""
    recovered = await service.release_expired(session, now=now, policy=policy)
    if not await datatypes.engine_enabled(session):
        return SweepResult(watched=0, queued=0, scheduled=0, recovered=recovered)
    types = {
        t.name: t
        for t in await datatypes.list_types(session)
        if t.enabled and (configured is None or set(t.providers) & set(configured))
    }
    horizon = now + timedelta(seconds=horizon_seconds)
    pairs = [
        w
        for w in await watching.watched(session, now=now)
        if w.data_type in types and types[w.data_type].kind == "on_demand"
    ]
    scheduled = [t for t in types.values() if t.kind == "scheduled"]
    keys = [(store.key(w.symbol), w.data_type) for w in pairs]
    keys += [(store.key(None), t.name) for t in scheduled]
    fetched = {
        (symbol, data_type): at
        for symbol, data_type, at in await store_repository.get_fetched_at(session, keys)
    }
    items: list[RefreshItem] = []
    for w in pairs:
        kind = types[w.data_type]
        interval = w.refresh_seconds or kind.ttl_seconds
        due = due_at(fetched.get((store.key(w.symbol), w.data_type)), interval, now)
        if due <= horizon:
            priority = w.priority + kind.default_priority
            items.append(RefreshItem(w.symbol, w.data_type, priority, run_at=max(due, now)))
    queued = len(items)
    for kind in scheduled:
        every = kind.schedule_seconds or kind.ttl_seconds
        due = due_at(fetched.get((store.key(None), kind.name)), every, now)
        if due <= horizon:
            items.append(RefreshItem(None, kind.name, kind.default_priority, run_at=max(due, now)))
    if items:
        await service.enqueue_many(session, items, now=now)
    return SweepResult(
        watched=len(pairs), queued=queued, scheduled=len(items) - queued, recovered=recovered
    )
