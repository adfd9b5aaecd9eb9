"""Helpers of the engine tests: one claim or enqueue per transaction, and the ledger's debits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from quantdesk.kit.db import Database
from quantdesk.market import repository as ledger_repository
from quantdesk.market.engine import service
from quantdesk.market.engine.schemas import ClaimedRefresh, RefreshItem
from quantdesk.market.quota import Limits


async def enqueue(db: Database, items: Sequence[RefreshItem], now: datetime) -> None:
    async with db.transaction(system=True) as session:
        await service.enqueue_many(session, items, now=now)


async def claim(
    db: Database,
    *,
    now: datetime,
    routes: Mapping[str, Sequence[str]],
    limits: Mapping[str, Limits],
    worker: str = "w1",
    limit: int = 10,
    lease_seconds: float = 30,
    batch_sizes: Mapping[tuple[str, str], int] | None = None,
) -> list[ClaimedRefresh]:
    async with db.transaction(system=True) as session:
        return await service.claim_batch(
            session, worker=worker, limit=limit, now=now, lease_seconds=lease_seconds,
            routes=routes, limits=limits, batch_sizes=batch_sizes,
        )  # fmt: skip


async def debits(db: Database, provider: str) -> list[tuple[datetime, int]]:
    async with db.transaction(system=True, readonly=True) as session:
        return await ledger_repository.debits_since(
            session, provider, since=datetime(2000, 1, 1).astimezone()
        )


def busiest_minute(found: Sequence[tuple[datetime, int]]) -> int:
    """The most calls debited in any 60 s span [t, t + 60 s) (t: each debit's time)."""
    return max(
        (
            sum(c for at, c in found if start <= at < start + timedelta(seconds=60))
            for start, _ in found
        ),
        default=0,
    )
