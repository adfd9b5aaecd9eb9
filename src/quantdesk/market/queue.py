"""The validation queue: symbols no provider could validate yet, waiting to be asked again.

The strategy (``market.validation``) enqueues a symbol when every provider was down, throttled or
out of quota, and discards it once any layer gives a definite answer. The drain job
(``market.tasks.drain_validation_queue``, every 5 minutes) turns due rows into ``validate_asset``
jobs, pushing each row back with exponential backoff first (``market.service.queue_backoff``), so
a symbol providers keep failing on costs little quota.

A protocol, so the storage can change (a Redis list, say) without touching the strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.market import repository

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class QueuedSymbol:
    symbol: str  # canonical
    reason: str  # why no provider could answer (for the operator and the job's log)
    retry_after: float  # seconds until a provider may answer


class ValidationQueue(Protocol):
    async def enqueue(
        self, session: AsyncSession, items: Sequence[QueuedSymbol], *, now: datetime
    ) -> None:
        """Queue symbols for background validation inside the caller's transaction."""

    async def discard(self, session: AsyncSession, symbols: Sequence[str]) -> None:
        """Forget symbols that now have a definite answer."""


class DatabaseValidationQueue:
    """The default queue: rows of ``validation_queue``, one per symbol."""

    async def enqueue(
        self, session: AsyncSession, items: Sequence[QueuedSymbol], *, now: datetime
    ) -> None:
        rows = [
            {
                "symbol": item.symbol,
                "requested_at": now,
                "reason": item.reason[:MAX_REASON_LENGTH],
                "attempts": 0,
                "next_attempt_at": now + timedelta(seconds=max(0.0, item.retry_after)),
            }
            for item in {item.symbol: item for item in items}.values()
        ]
        await repository.enqueue_validations(session, rows)

    async def discard(self, session: AsyncSession, symbols: Sequence[str]) -> None:
        await repository.dequeue_validations(session, list(dict.fromkeys(symbols)))
