"""What a running handler sees: its operation's ids and params, progress, transactions, cancel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.db import after_commit, set_system_context
from quantdesk.kit.orm import utcnow

MAX_MESSAGE_LENGTH = 500


class JobCancelled(Exception):
    """Raised by ``check_cancelled`` when the owner asked to cancel; the runner records it."""


class LeaseLost(Exception):
    """This worker no longer holds the operation's lease."""


@dataclass
class JobContext:
    operation_id: uuid.UUID
    kind: str
    owner_id: uuid.UUID | None
    params: dict[str, Any]
    attempt: int
    resume_from: int  # progress_done when claimed: a retried run continues from there
    resources: JobResources
    worker_id: str = ""
    _last_total: int | None = field(default=None, repr=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction bound to the owner (RLS), or in the system context for system jobs."""
        async with self.resources.db.transaction(user_id=self.owner_id) as session:
            if self.owner_id is None:
                await set_system_context(session)
            yield session

    async def progress(
        self, done: int, total: int | None = None, message: str | None = None
    ) -> None:
        """Record progress in its own short transaction and publish it."""
        async with self.transaction() as session:
            await self.checkpoint(session, done, total, message)

    async def checkpoint(
        self,
        session: AsyncSession,
        done: int,
        total: int | None = None,
        message: str | None = None,
    ) -> None:
        """Record progress inside the caller's transaction: it commits with the work it counts."""
        values: dict[str, Any] = {"progress_done": done, "updated_at": utcnow()}
        if total is not None:
            values["progress_total"] = total
        if message is not None:
            values["progress_message"] = message[:MAX_MESSAGE_LENGTH]
        written = await repository.update_leased(
            session, operation_id=self.operation_id, worker_id=self.worker_id, values=values
        )
        if written is None:
            raise LeaseLost(str(self.operation_id))
        bus, event = self.resources.bus, events.event_for(written, "progress")

        async def publish() -> None:
            await bus.publish(events.channel(self.operation_id), event)

        after_commit(session, publish)

    async def check_cancelled(self) -> None:
        """Raise JobCancelled if cancellation was requested; call it between steps."""
        async with self.transaction() as session:
            operation = await repository.get(session, self.operation_id)
        if operation is None or operation.cancel_requested:
            raise JobCancelled(str(self.operation_id))
