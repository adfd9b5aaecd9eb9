"""The refresh worker: one round claims due rows of the refresh queue (their quota debited in the
same transaction), asks the providers outside any transaction, and finishes the rows in one short
transaction (values into the store and history; failures back off; refusals wait), then pushes
each fresh value to its watchers.

Calls are grouped: rows of one (provider, data type) whose query is the bare symbol go out as
multi-symbol calls where the provider's API takes them (a Yahoo or FMP batch quote of 50 symbols
is one call, and the claim debited one call for it). The provider's breaker and timeout still
guard every call; the quota gate is not asked again (``prepaid``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

from quantdesk.jobs.runner import default_worker_id
from quantdesk.kit import metrics
from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.market import quota, watching
from quantdesk.market.engine import queries, service
from quantdesk.market.engine.schemas import ClaimedRefresh, EnginePlan, Fetched, RetryPolicy
from quantdesk.market.providers.base import BatchFetcher, Provider
from quantdesk.market.providers.chain import CallOutcome
from quantdesk.market.providers.gate import MINUTE_WINDOW_SECONDS, seconds_to_next_utc_day
from quantdesk.market.quota import Limits, limits_for
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import ProviderErrorInfo

_log = get_logger("quantdesk.market.engine")

# The registry (types, TTLs, flags) is read again at most this often: an admin's switch takes
# effect within this many seconds in every worker.
PLAN_SECONDS = 5.0
# Error kinds that say the provider refuses us for now (not the row's fault, not a failure).
_REFUSALS = frozenset({"throttled", "quota_exceeded"})


@dataclass
class RoundResult:
    """What one round did (tests and benchmarks read it; logs and metrics report it)."""

    claimed: int = 0
    completed: int = 0
    retried: int = 0
    failed: int = 0
    refused: int = 0
    calls: int = 0
    lost: int = 0  # rows whose lease ran out before the round finished them


@dataclass(frozen=True)
class _Miss:
    claimed: ClaimedRefresh
    kind: str
    message: str
    retry_after: float | None = None


class Refresher:
    """Claims and serves refresh-queue rows for one worker identity (one per loop)."""

    def __init__(
        self,
        db: Database,
        runtime: MarketRuntime,
        bus: EventBus | None,
        *,
        batch: int = 50,
        lease_seconds: float = 60.0,
        call_timeout_seconds: float = 10.0,
        policy: RetryPolicy | None = None,
        worker: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.clock = clock  # simulated time in benchmarks
        self.runtime = runtime
        self.bus = bus
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.call_timeout = call_timeout_seconds
        self.policy = policy or RetryPolicy()
        self.worker = worker or default_worker_id("market-refresh")
        self._providers: dict[str, Provider] = {p.name: p for p in runtime.providers}
        self.limits: dict[str, Limits] = {
            name: limits_for(runtime.settings, name) for name in self._providers
        }
        self.batch_sizes: dict[tuple[str, str], int] = {}
        self.costs: dict[tuple[str, str], int] = {}
        for provider in runtime.providers:
            for dataset, fetcher in provider.fetchers.items():
                pair = (provider.name, dataset.value)
                self.costs[pair] = fetcher.cost
                if isinstance(fetcher, BatchFetcher) and queries.symbol_only(dataset.value):
                    self.batch_sizes[pair] = fetcher.max_symbols
        self._plan: EnginePlan | None = None
        self._plan_read = 0.0

    async def plan(self) -> EnginePlan:
        """The registry as of at most ``PLAN_SECONDS`` ago."""
        if self._plan is None or time.monotonic() - self._plan_read > PLAN_SECONDS:
            async with self.db.transaction(system=True, readonly=True) as session:
                self._plan = await service.load_plan(session, configured=list(self._providers))
            self._plan_read = time.monotonic()
        return self._plan

    def forget_plan(self) -> None:
        self._plan = None

    async def run_round(self) -> RoundResult:
        """Claim, call, finish, publish; what it did (``claimed`` 0: nothing was due)."""
        plan = await self.plan()
        result = RoundResult()
        if not plan.routes:
            return result
        async with self.db.transaction(system=True) as session:
            claimed = await service.claim_batch(
                session, worker=self.worker, limit=self.batch, now=self.clock(),
                lease_seconds=self.lease_seconds, routes=plan.routes, limits=self.limits,
                batch_sizes=self.batch_sizes, costs=self.costs,
            )  # fmt: skip
        result.claimed = len(claimed)
        if not claimed:
            return result
        # Provider I/O: no transaction is open here.
        fetched, misses, result.calls = await self._ask(claimed)
        stored = await self._finish(fetched, misses, plan, result)
        await self._publish(stored)
        return result

    # --- asking the providers -------------------------------------------------------------------

    async def _ask(
        self, claimed: Sequence[ClaimedRefresh]
    ) -> tuple[list[Fetched], list[_Miss], int]:
        groups: dict[tuple[str, str], list[ClaimedRefresh]] = {}
        for row in claimed:
            groups.setdefault((row.provider, row.data_type), []).append(row)
        calls: list[tuple[list[ClaimedRefresh], Any]] = []
        for (provider, data_type), rows in groups.items():
            size = self.batch_sizes.get((provider, data_type), 1)
            if size > 1:
                for start in range(0, len(rows), size):
                    chunk = rows[start : start + size]
                    calls.append((chunk, self._call_batch(provider, data_type, chunk)))
            else:
                calls.extend(([row], self._call_one(row)) for row in rows)
        answers = await asyncio.gather(*(call for _, call in calls))
        fetched: list[Fetched] = []
        misses: list[_Miss] = []
        for (rows, _), (outcome, values) in zip(calls, answers, strict=True):
            if outcome.answered:
                at = self.clock()
                fetched.extend(
                    Fetched(
                        symbol=row.symbol, data_type=row.data_type, provider=row.provider,
                        value=values.get(row.symbol), fetched_at=at, request_id=row.id,
                    )
                    for row in rows
                )  # fmt: skip
                continue
            error = outcome.error
            kind = error.kind if error is not None else "error"
            message = error.message if error is not None else "no answer"
            retry_after = error.retry_after if error is not None else None
            misses.extend(_Miss(row, kind, message, retry_after) for row in rows)
        return fetched, misses, len(calls)

    async def _call_batch(
        self, provider: str, data_type: str, rows: Sequence[ClaimedRefresh]
    ) -> tuple[CallOutcome, dict[str | None, Any]]:
        symbols = [row.symbol for row in rows if row.symbol is not None]
        dataset = queries.dataset_of(data_type)
        outcome = await self._timed(
            provider,
            self.runtime.chain.call_batch(
                self._providers[provider], dataset, symbols, prepaid=True
            ),
        )
        values: dict[str | None, Any] = dict(outcome.value or {}) if outcome.answered else {}
        return outcome, values

    async def _call_one(self, row: ClaimedRefresh) -> tuple[CallOutcome, dict[str | None, Any]]:
        try:
            _, query = queries.query_for(row.data_type, row.symbol)
        except ValueError as exc:  # a row no query can be made of: it fails, nothing is called
            return CallOutcome(row.provider, answered=False, error=_error(row, exc)), {}
        outcome = await self._timed(
            row.provider,
            self.runtime.chain.call(
                self._providers[row.provider], queries.dataset_of(row.data_type), query,
                prepaid=True,
            ),
        )  # fmt: skip
        return outcome, ({row.symbol: outcome.value} if outcome.answered else {})

    async def _timed(self, provider: str, call: Any) -> CallOutcome:
        """The engine's own per-call limit, over the provider's: a hung call cannot hold its
        rows past their lease."""
        try:
            async with asyncio.timeout(self.call_timeout):
                outcome: CallOutcome = await call
                return outcome
        except TimeoutError:
            info = ProviderErrorInfo(
                provider=provider, kind="unavailable",
                message=f"no answer within {self.call_timeout:g} s",
            )  # fmt: skip
            return CallOutcome(provider, answered=False, error=info)

    # --- finishing ------------------------------------------------------------------------------

    async def _finish(
        self, fetched: list[Fetched], misses: list[_Miss], plan: EnginePlan, result: RoundResult
    ) -> list[Fetched]:
        """One short transaction: completions (with their values), retries, refusals. The
        values whose rows this worker still held are published."""
        now = self.clock()
        async with self.db.transaction(system=True) as session:
            held = await service.complete(
                session, worker=self.worker, results=fetched, now=now, ttls=plan.ttls
            )
            spent: dict[str, float] = {}
            for miss in misses:
                row = miss.claimed
                if miss.kind in _REFUSALS:
                    wait = miss.retry_after or (
                        MINUTE_WINDOW_SECONDS if miss.kind == "throttled"
                        else seconds_to_next_utc_day(now)
                    )  # fmt: skip
                    spent[row.provider] = max(spent.get(row.provider, 0.0), wait)
                    # Due again at once: the next claim passes the spent provider over for the
                    # next one of the chain, or postpones the row until the first has quota.
                    if await service.refused(
                        session, worker=self.worker, claimed=row, until=now, now=now
                    ):
                        result.refused += 1
                        metrics.market_refresh(row.provider, row.data_type, "refused")
                    else:
                        result.lost += 1
                    continue
                status = await service.fail(
                    session, worker=self.worker, claimed=row, now=now, policy=self.policy,
                    error={"kind": miss.kind, "message": miss.message, "provider": row.provider},
                )  # fmt: skip
                if status is None:
                    result.lost += 1
                    continue
                outcome = "failed" if status == "failed" else "retried"
                setattr(result, outcome, getattr(result, outcome) + 1)
                metrics.market_refresh(row.provider, row.data_type, outcome)
            for provider, seconds in spent.items():  # for every process, persisted
                await quota.mark_spent(session, provider, seconds=seconds, now=now)
        result.completed = len(held)
        result.lost += len(fetched) - len(held)
        for item in fetched:
            if item.request_id in held:
                metrics.market_refresh(item.provider, item.data_type, "completed")
        if misses:
            _log.info(
                "market_refresh_misses",
                worker=self.worker,
                retried=result.retried,
                failed=result.failed,
                refused=result.refused,
                kinds=sorted({m.kind for m in misses}),
            )
        return fetched

    async def _publish(self, stored: Sequence[Fetched]) -> None:
        if self.bus is None:
            return
        for item in stored:
            if item.symbol is None:
                continue  # data about no symbol (exchanges) has no per-symbol watchers
            value = to_jsonable_python(item.value)
            await watching.publish(
                self.bus, item.symbol, item.data_type, value, source=item.provider,
                as_of=item.fetched_at,
            )  # fmt: skip


def _error(row: ClaimedRefresh, exc: Exception) -> ProviderErrorInfo:
    return ProviderErrorInfo(provider=row.provider, kind="error", message=str(exc))
