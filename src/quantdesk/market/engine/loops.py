"""The engine's loops in one process: refresh workers (each claims and serves rows as long as
there are due ones, then polls) and the sweep (one turn at a time across every process).

``MarketEngine`` starts them in `serve` (embedded mode) or in a `quantdesk market engine`
process (scaled out: run as many as the providers' quotas make worthwhile; the quota ledger and
``FOR UPDATE SKIP LOCKED`` keep them from stepping on each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs.runner import default_worker_id
from quantdesk.jobs.scheduler import LoopService
from quantdesk.jobs.singleton import ExclusiveLoop
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import sweep
from quantdesk.market.engine.refresher import Refresher
from quantdesk.market.engine.schemas import RetryPolicy
from quantdesk.market.runtime import MarketRuntime

_log = get_logger("quantdesk.market.engine")

# Rounds in a row one worker runs while rows keep coming, before yielding to its poll sleep.
MAX_BUSY_ROUNDS = 100


class RefreshLoop(LoopService):
    """One refresh worker: rounds back to back while each finds a full batch, then a poll."""

    def __init__(self, refresher: Refresher, *, poll_seconds: float) -> None:
        super().__init__()
        self.refresher = refresher
        self.name = refresher.worker
        self.interval = poll_seconds

    async def run_once(self) -> None:
        for _ in range(MAX_BUSY_ROUNDS):
            done = await self.refresher.run_round()
            if done.claimed < self.refresher.batch:
                return


class SweepLoop(ExclusiveLoop):
    """Fills the refresh queue from what is watched and scheduled; one turn at a time."""

    name = "market_sweep"

    def __init__(
        self,
        db: Database,
        *,
        every_seconds: float,
        policy: RetryPolicy,
        configured: Sequence[str] | None = None,
    ) -> None:
        self.every = timedelta(seconds=every_seconds)
        super().__init__(db)
        self.policy = policy
        self.configured = configured
        self.last: sweep.SweepResult | None = None

    async def run_turn(self, session: AsyncSession) -> None:
        self.last = await sweep.sweep(
            session,
            now=utcnow(),
            horizon_seconds=self.every.total_seconds(),
            policy=self.policy,
            configured=self.configured,
        )
        if self.last.recovered:  # a worker died or hung: worth a line
            _log.info(
                "market_sweep",
                watched=self.last.watched,
                queued=self.last.queued,
                scheduled=self.last.scheduled,
                recovered=self.last.recovered,
            )


class MarketEngine:
    """The refresh workers and the sweep of one process."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        runtime: MarketRuntime,
        bus: EventBus | None,
        *,
        workers: int | None = None,
    ) -> None:
        policy = RetryPolicy(max_attempts=settings.market_engine_max_attempts)
        count = workers or settings.market_engine_workers
        self.workers = [
            RefreshLoop(
                Refresher(
                    db,
                    runtime,
                    bus,
                    batch=settings.market_engine_batch,
                    lease_seconds=settings.market_engine_lease_seconds,
                    call_timeout_seconds=settings.market_engine_call_timeout_seconds,
                    policy=policy,
                    worker=default_worker_id(f"market-refresh-{index}"),
                ),
                poll_seconds=settings.market_engine_poll_seconds,
            )
            for index in range(count)
        ]
        self.sweep = SweepLoop(
            db,
            every_seconds=settings.market_engine_sweep_seconds,
            policy=policy,
            configured=[p.name for p in runtime.providers],
        )

    async def start(self) -> None:
        await self.sweep.start()
        for worker in self.workers:
            await worker.start()
        _log.info("market_engine_started", workers=len(self.workers))

    async def stop(self) -> None:
        """Stop claiming; a round cut short leaves its rows to lease recovery (no call lost)."""
        for worker in self.workers:
            await worker.stop()
        await self.sweep.stop()
