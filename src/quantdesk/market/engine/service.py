"""The refresh queue's rules: queue, claim under the providers' quota, complete (into the
store, ``market.engine.store``), fail with back-off, refusals, lease recovery, trimming, status;
and the registry as the engine reads it.

Every function takes the caller's session and never commits: a claim and its quota debit commit
together, and a completion writes the queue row, the store and the history in one short
transaction. Provider I/O happens between those transactions, never inside one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs.schemas import AnyRow
from quantdesk.market import datatypes, quota
from quantdesk.market import repository as ledger_repository
from quantdesk.market.engine import repository, store
from quantdesk.market.engine.schemas import (
    ClaimedRefresh,
    EnginePlan,
    Fetched,
    QueueStatus,
    RefreshItem,
    RetryPolicy,
)
from quantdesk.market.quota import Limits
from quantdesk.models import RefreshStatus

# A claim looks at this many due rows per row it may take, so rows waiting for a spent
# provider's quota do not hide the rows other providers could serve now.
SCAN_FACTOR = 4
_NO_LIMITS = Limits(per_minute=None, per_day=None)


# --- The registry, as the engine reads it ----------------------------------------------------


async def load_plan(session: AsyncSession, *, configured: Sequence[str]) -> EnginePlan:
    """The registry's types and flags as they are now. A type's route: its providers, in its
    chain order, that this process has (``configured``); none for a type that is off, and no
    routes at all while the engine is off."""
    types = await datatypes.list_types(session)
    enabled = await datatypes.engine_enabled(session)
    have = set(configured)
    return EnginePlan(
        enabled=enabled,
        ttls={t.name: t.ttl_seconds for t in types},
        routes={
            t.name: [p for p in t.providers if p in have] for t in types if t.enabled and enabled
        },
        priorities={t.name: t.default_priority for t in types},
    )


# --- The refresh queue ------------------------------------------------------------------------


async def enqueue_many(
    session: AsyncSession, items: Sequence[RefreshItem], *, now: datetime
) -> None:
    """Queue refreshes; a pair already pending or processing is not queued twice: its row takes
    the higher priority and the earlier run_at. Safe under concurrent queueing (an upsert on the
    partial unique index of active rows)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        row: dict[str, Any] = {
            "symbol": store.key(item.symbol), "data_type": item.data_type,
            "provider": item.provider, "priority": item.priority, "run_at": item.run_at or now,
            "now": now,
        }  # fmt: skip
        key = (store.key(item.symbol), item.data_type)
        held = merged.get(key)
        if held is not None:  # one statement may not touch a row twice (PostgreSQL refuses)
            row["priority"] = max(row["priority"], held["priority"])
            row["run_at"] = min(row["run_at"], held["run_at"])
            row["provider"] = held["provider"] or row["provider"]
        merged[key] = row
    # In key order, so concurrent enqueuers lock the rows they both touch in the same order.
    await repository.enqueue(session, [merged[key] for key in sorted(merged)])


async def claim_batch(
    session: AsyncSession,
    *,
    worker: str,
    limit: int,
    now: datetime,
    lease_seconds: float,
    routes: Mapping[str, Sequence[str]],
    limits: Mapping[str, Limits],
    batch_sizes: Mapping[tuple[str, str], int] | None = None,
    costs: Mapping[tuple[str, str], int] | None = None,
) -> list[ClaimedRefresh]:
    """Take up to ``limit`` due rows for ``worker`` and debit their calls from the providers'
    quotas, in the caller's transaction (commit them together).

    ``routes``: each enabled data type's providers in chain order (a type absent or with none
    fails its rows: nothing can serve them). A row queued for a provider asks that one only.
    ``limits``: each provider's quota. ``batch_sizes``: symbols one call of (provider, data type)
    answers (a batch quote of 50 symbols is one call); ``costs``: quota calls one such call
    spends (an Alpha Vantage lookup is 2). Rows no provider has quota for stay
    pending, pushed back to when the first of their providers has quota again.
    """
    if not routes:  # the engine is off (or every type): nothing is claimed, nothing fails
        return []
    claim = _Claim(session, routes, limits, batch_sizes or {}, costs or {}, now)
    # First the ``limit`` rows at the head of the queue; only when some of them had to wait for
    # a spent provider, a wider look (SCAN_FACTOR times as many) for rows others can serve.
    due = await repository.lock_due(session, now=now, limit=max(1, limit))
    budget = await claim.assign(due, limit)
    if budget > 0 and claim.refusals and len(due) == limit:
        wider = await repository.lock_due(session, now=now, limit=limit * SCAN_FACTOR)
        await claim.assign([row for row in wider if row.id not in claim.chains], budget)
    await claim.postpone_exhausted()
    lease_until = now + timedelta(seconds=lease_seconds)
    claimed: list[ClaimedRefresh] = []
    for provider in sorted(claim.assigned):
        marked = await repository.mark_processing(
            session, ids=[row.id for row in claim.assigned[provider]], provider=provider,
            worker=worker, now=now, lease_until=lease_until,
        )  # fmt: skip
        claimed.extend(_claimed(row) for row in marked)
    claimed.sort(key=lambda c: (-c.priority, c.id))
    return claimed


class _Claim:
    """One claim's routing: which provider each locked row asks, under which quota."""

    def __init__(
        self,
        session: AsyncSession,
        routes: Mapping[str, Sequence[str]],
        limits: Mapping[str, Limits],
        batch_sizes: Mapping[tuple[str, str], int],
        costs: Mapping[tuple[str, str], int],
        now: datetime,
    ) -> None:
        self.session = session
        self.routes = routes
        self.limits = limits
        self.batch_sizes = batch_sizes
        self.costs = costs
        self.now = now
        self.chains: dict[int, list[str]] = {}
        self.assigned: dict[str, list[AnyRow]] = {}
        self.waits: dict[int, list[float]] = {}  # per row, each refusal's wait
        self.exhausted: list[AnyRow] = []
        self.refusals = 0
        self._locked: set[str] = set()
        self._ledgers_locked = False
        self._spent_checked = False  # the claim's statement counted no spent provider
        self._spent: dict[str, datetime | None] = {}

    async def assign(self, due: Sequence[AnyRow], budget: int) -> int:
        """Route up to ``budget`` of ``due`` (priority order); the budget left."""
        if due and not due[0].spent_now:  # no provider refuses us: no spent mark to read
            self._spent_checked = True
        for row in due:
            self.chains[row.id] = _chain(row, self.routes)
        await repository.fail_pending(
            self.session,
            ids=[row.id for row in due if not self.chains[row.id]],
            error={
                "kind": "no_provider",
                "message": "no enabled provider serves this data type (the type is off, or "
                "none of its providers is configured)",
            },
            now=self.now,
        )
        await self._prepare({p for row in due for p in self.chains[row.id]})
        # Rounds: the ``budget`` highest priority rows still waiting each ask the next provider
        # of their chain; a row refused (or left out of a partial grant) moves on to the next.
        waiting = [row for row in due if self.chains[row.id]]
        position = dict.fromkeys((row.id for row in waiting), 0)
        while budget > 0 and waiting:
            window = waiting[:budget]
            done: set[int] = set()
            for provider, rows in (await self._grant_round(window, position)).items():
                self.assigned.setdefault(provider, []).extend(rows)
                done.update(row.id for row in rows)
            budget -= len(done)
            for row in window:
                if row.id not in done:
                    position[row.id] += 1
                    if position[row.id] == len(self.chains[row.id]):
                        self.exhausted.append(row)
            waiting = [
                row for row in waiting
                if row.id not in done and position[row.id] < len(self.chains[row.id])
            ]  # fmt: skip
        return budget

    async def _prepare(self, providers: set[str]) -> None:
        """Lock the ledger rows of limited providers and read the others' spent marks, once
        per claim. Every limited provider of the routes is locked at the first call, in name
        order, so concurrent claimers never wait for each other in a circle (a second, wider
        pass must not lock one more out of order)."""
        if not self._ledgers_locked:
            every = {p for chain in self.routes.values() for p in chain}
            limited = [p for p in every if not self._limits(p).unlimited]
            marks = await ledger_repository.lock_quotas(self.session, limited, now=self.now)
            self._spent.update(marks)
            self._locked.update(limited)
            self._ledgers_locked = True
        if self._spent_checked:
            return
        unread = sorted(p for p in providers if p not in self._spent and p not in self._locked)
        if unread:
            marks = await ledger_repository.spent_marks(self.session, unread)
            self._spent.update({p: marks.get(p) for p in unread})

    def _limits(self, provider: str) -> Limits:
        return self.limits.get(provider, _NO_LIMITS)

    async def _grant_round(
        self, window: Sequence[AnyRow], position: Mapping[int, int]
    ) -> dict[str, list[AnyRow]]:
        """Ask each row's provider (the one at its ``position`` in its chain) for the calls the
        rows need, per provider and data type; the rows each granted, highest priority first.
        Refused rows learn how long to wait."""
        groups: dict[tuple[str, str], list[AnyRow]] = {}
        for row in window:  # in priority order, so each group is too
            provider = self.chains[row.id][position[row.id]]
            groups.setdefault((provider, row.data_type), []).append(row)
        taken: dict[str, list[AnyRow]] = {}
        for (provider, data_type), rows in groups.items():
            per_call = max(1, self.batch_sizes.get((provider, data_type), 1))
            cost = max(1, self.costs.get((provider, data_type), 1))
            calls = math.ceil(len(rows) / per_call) * cost
            limits = self._limits(provider)
            if limits.unlimited:
                grant = quota.grant_unlimited(calls, self._spent.get(provider), now=self.now)
            else:
                grant = await quota.take(
                    self.session, provider, calls, limits=limits, now=self.now, partial=True,
                    locked=quota.HeldLedger(self._spent.get(provider)),
                )  # fmt: skip
            granted = rows[: (grant.granted // cost) * per_call]
            taken.setdefault(provider, []).extend(granted)
            if not granted:
                self.refusals += 1
                for row in rows:
                    self.waits.setdefault(row.id, []).append(grant.wait_seconds or 1.0)
        return taken

    async def postpone_exhausted(self) -> None:
        """Rows every provider of their chain refused: not before the earliest has quota."""
        by_time: dict[datetime, list[int]] = {}
        for row in self.exhausted:
            refusals = self.waits.get(row.id, [])
            if len(refusals) == len(self.chains[row.id]):
                at = self.now + timedelta(seconds=min(refusals))
                by_time.setdefault(at, []).append(row.id)
        for run_at, ids in by_time.items():
            await repository.postpone(self.session, ids=ids, run_at=run_at, now=self.now)


def _chain(row: AnyRow, routes: Mapping[str, Sequence[str]]) -> list[str]:
    chain = list(routes.get(row.data_type, ()))
    if row.provider is not None:
        return [row.provider] if row.provider in chain else []
    return chain


def _claimed(row: AnyRow) -> ClaimedRefresh:
    return ClaimedRefresh(
        id=int(row.id), symbol=store.symbol_of(row.symbol), data_type=row.data_type,
        provider=row.provider, priority=int(row.priority), attempts=int(row.attempts),
    )  # fmt: skip


async def complete(
    session: AsyncSession,
    *,
    worker: str,
    results: Sequence[Fetched],
    now: datetime,
    ttls: Mapping[str, int],
) -> set[int]:
    """Finish claimed rows with their values: the rows, the store and the history in the
    caller's (short) transaction. The ids still held by ``worker``; a value whose lease was lost
    is stored all the same (it is real data, and never replaces a fresher one)."""
    ids = [r.request_id for r in results if r.request_id is not None]
    ours = await repository.complete(session, ids=ids, worker=worker, now=now)
    await store.store_values(session, results, ttls=ttls)
    return ours


async def fail(
    session: AsyncSession,
    *,
    worker: str,
    claimed: ClaimedRefresh,
    error: dict[str, Any],
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> str | None:
    """A claimed call failed: pending again after the policy's back-off, or failed for good
    once its attempts are spent. The row's new status (None: ``worker`` no longer held it)."""
    if claimed.attempts >= policy.max_attempts:
        status, run_at = RefreshStatus.FAILED, now
    else:
        status, run_at = RefreshStatus.PENDING, now + policy.delay(claimed.attempts, rng)
    # A retry is routed again (a fallback may serve it); a failed row keeps who failed it.
    provider = claimed.provider if status == RefreshStatus.FAILED else None
    held = await repository.give_back(
        session, request_id=claimed.id, worker=worker, now=now, status=status, run_at=run_at,
        error=error, provider=provider,
    )  # fmt: skip
    return status if held else None


async def refused(
    session: AsyncSession, *, worker: str, claimed: ClaimedRefresh, until: datetime, now: datetime
) -> bool:
    """The provider refused the call (429, a plan limit): the row waits until ``until`` without
    the attempt counting (not the row's fault), and goes back unrouted (a row queued for one
    provider loses that pin: the chain serves it). Mark the provider spent with ``quota.mark_spent``
    in the same transaction."""
    return await repository.give_back(
        session, request_id=claimed.id, worker=worker, now=now, status=RefreshStatus.PENDING,
        run_at=until, error={"kind": "rate_limited", "provider": claimed.provider}, refund=1,
        provider=None,  # routed again: the next claim passes the spent provider over
    )  # fmt: skip


async def release_expired(session: AsyncSession, *, now: datetime, policy: RetryPolicy) -> int:
    """Recover rows whose worker died or hung (lease expired): pending again, or failed when
    their attempts are spent; how many."""
    rows = await repository.release_expired(
        session,
        now=now,
        max_attempts=policy.max_attempts,
        error={"kind": "lease_expired", "message": "the worker stopped before finishing"},
    )
    return len(rows)


async def trim(
    session: AsyncSession, *, now: datetime, retention: timedelta, limit: int = 10_000
) -> int:
    """Delete up to ``limit`` completed or failed rows older than ``retention``; how many."""
    return await repository.trim_finished(session, before=now - retention, limit=limit)


async def queue_status(session: AsyncSession, *, now: datetime) -> QueueStatus:
    """The queue's depth for status pages and metrics."""
    by_status: dict[str, int] = dict.fromkeys(RefreshStatus.ALL, 0)
    by_type: dict[str, int] = {}
    by_provider: dict[str, int] = {}
    for status, data_type, provider, count in await repository.depth(session):
        by_status[status] = by_status.get(status, 0) + count
        if status in RefreshStatus.ACTIVE:
            by_type[data_type] = by_type.get(data_type, 0) + count
            name = provider or "unrouted"
            by_provider[name] = by_provider.get(name, 0) + count
    oldest = await repository.oldest_due(session, now=now)
    return QueueStatus(
        by_status=by_status,
        active_by_type=by_type,
        active_by_provider=by_provider,
        oldest_due_seconds=None if oldest is None else (now - oldest).total_seconds(),
    )
