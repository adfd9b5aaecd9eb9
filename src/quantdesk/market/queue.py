"""The hook for symbols no provider could validate now: they are queued for background validation.

Issue 4's ``validate_asset`` job fulfils this hook: it claims rows of ``validation_queue`` whose
``next_attempt_at`` has passed, runs the same strategy (``market.service.validate_symbols``) for
each, and on a definite answer removes the row (the strategy does that itself: a valid answer
marks the pending asset valid, a "not found" marks it invalid). On another "unknown" it bumps
``attempts`` and pushes ``next_attempt_at`` back (with backoff). Until that job exists the rows
simply wait; every later validation of the same symbol (a user asking again) also drains them.

The queue is a protocol so the jobs issue may swap the storage (e.g. enqueue a Celery task as
well) without touching the strategy.
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
