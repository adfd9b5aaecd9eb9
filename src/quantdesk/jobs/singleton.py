"""Loops that must run once across every process, however many ``serve`` and ``worker``
processes run them (the market engine's sweeps, say).

Each turn is a short system transaction: :func:`take_turn` says whether this process runs the
loop now (PostgreSQL: a transaction-level advisory lock keeps concurrent claimants out without
queueing; both engines: the ``loop_leases`` row says when the next turn is due), and the work of
the turn commits in the same transaction. A turn is database work only: no network I/O inside.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import repository
from quantdesk.jobs.runner import default_worker_id
from quantdesk.jobs.scheduler import LoopService
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow


async def take_turn(
    session: AsyncSession, *, name: str, holder: str, every: timedelta, now: datetime
) -> bool:
    """True when ``holder`` runs loop ``name`` now (at most once per ``every`` across
    processes); the turn is spent only if the caller's transaction commits."""
    return await repository.take_loop_turn(
        session, name=name, holder=holder, now=now, next_run_at=now + every
    )


class ExclusiveLoop(LoopService):
    """A :class:`LoopService` whose turns run in one process at a time, once per ``every``.

    Each process ticks every ``interval`` (shorter than ``every``) and the turn goes to whichever
    asks first once it is due, so the loop keeps running when a process stops.
    """

    every: timedelta = timedelta(seconds=30)

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.holder = default_worker_id(self.name)
        self.interval = max(0.05, self.every.total_seconds() / 4)
        self.turns = 0

    async def run_once(self) -> None:
        async with self.db.transaction(system=True) as session:
            if not await take_turn(
                session, name=self.name, holder=self.holder, every=self.every, now=utcnow()
            ):
                return
            await self.run_turn(session)
        self.turns += 1

    @abstractmethod
    async def run_turn(self, session: AsyncSession) -> None:
        """The loop's work, in the transaction that took the turn."""
