"""What a running handler sees: its operation's ids and params, progress, transactions, cancel,
its input and output files and its per-item results."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.db import after_commit
from quantdesk.kit.orm import utcnow

MAX_MESSAGE_LENGTH = 500
# check_cancelled() reads the row at most this often; checkpoints and heartbeats refresh it free.
CANCEL_POLL_SECONDS = 1.0


class JobCancelled(Exception):
    """Raised by ``check_cancelled`` when the owner asked to cancel; the runner records it.

    A handler may raise it with a ``result`` (what it did before stopping) to keep on the row.
    """

    def __init__(self, message: str = "", *, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


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
    cancel_requested: bool = False
    _cancel_seen_at: float = field(default_factory=time.monotonic, repr=False)

    @asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction bound to the owner (RLS), or in the system context for system jobs."""
        async with self.resources.db.transaction(
            user_id=self.owner_id, system=self.owner_id is None, readonly=readonly
        ) as session:
            yield session

    def saw_cancel_flag(self, requested: bool) -> None:
        """The row's ``cancel_requested`` as just read (checkpoints, heartbeats)."""
        self.cancel_requested = self.cancel_requested or requested
        self._cancel_seen_at = time.monotonic()

    async def progress(
        self, done: int, total: int | None = None, message: str | None = None
    ) -> None:
        """Record progress on its own (one statement) and publish it."""
        async with self.resources.db.autocommit() as conn:
            await self._checkpoint(conn, done, total, message, publish_now=True)

    async def checkpoint(
        self,
        session: AsyncSession,
        done: int,
        total: int | None = None,
        message: str | None = None,
    ) -> None:
        """Record progress inside the caller's transaction: it commits with the work it counts."""
        await self._checkpoint(session, done, total, message, publish_now=False)

    async def _checkpoint(
        self,
        target: AsyncSession | AsyncConnection,
        done: int,
        total: int | None,
        message: str | None,
        *,
        publish_now: bool,
    ) -> None:
        row = await repository.checkpoint(
            target,
            operation_id=self.operation_id,
            worker_id=self.worker_id,
            now=utcnow(),
            done=done,
            total=total,
            message=message[:MAX_MESSAGE_LENGTH] if message is not None else None,
        )
        if row is None:
            raise LeaseLost(str(self.operation_id))
        self.saw_cancel_flag(bool(row.cancel_requested))
        bus, name = self.resources.bus, events.channel(self.operation_id)
        if not bus.may_have_subscribers(name):
            return  # a subscriber from now on reads the row first (see jobs.live)
        event = events.event_for(row, "progress")

        async def publish() -> None:
            await bus.publish(name, event)

        if publish_now:
            await publish()
        else:
            assert isinstance(target, AsyncSession)
            after_commit(target, publish)

    async def check_cancelled(self) -> None:
        """Raise JobCancelled if cancellation was requested; call it between steps (cheap)."""
        if not self.cancel_requested and (
            time.monotonic() - self._cancel_seen_at >= CANCEL_POLL_SECONDS
        ):
            async with self.resources.db.autocommit() as conn:
                self.saw_cancel_flag(await repository.cancel_requested(conn, self.operation_id))
        if self.cancel_requested:
            raise JobCancelled(str(self.operation_id))

    # --- files and per-item results ------------------------------------------------------

    async def read_file(self, name: str) -> bytes:
        """The operation's file ``name`` (its request stored it); KeyError when there is none."""
        async with self.transaction(readonly=True) as session:
            found = await repository.get_file(session, operation_id=self.operation_id, name=name)
        if found is None:
            raise KeyError(f"operation {self.operation_id} has no file {name!r}")
        return bytes(found.content)

    async def pinned_list(
        self, name: str, compute: Callable[[], Awaitable[list[str]]]
    ) -> list[str]:
        """A list computed by the first attempt and stored with the operation, so a retried run
        resumes (``resume_from``) over the same items."""
        try:
            return [str(item) for item in json.loads(await self.read_file(name))]
        except KeyError:
            items = await compute()
        async with self.transaction() as session:
            await self.write_file(session, name, json.dumps(items).encode(), "application/json")
        return items

    async def write_file(
        self, session: AsyncSession, name: str, content: bytes, media_type: str
    ) -> None:
        """Store an output file in the caller's transaction (an export, say)."""
        await repository.put_file(
            session,
            {
                "operation_id": self.operation_id,
                "name": name,
                "owner_id": self.owner_id,
                "media_type": media_type,
                "content": content,
                "created_at": utcnow(),
            },
        )

    async def record_results(
        self, session: AsyncSession, results: Sequence[tuple[int, dict[str, Any]]]
    ) -> None:
        """Per-item results, in the transaction that applies the items' effects."""
        await repository.put_results(
            session,
            [
                {
                    "operation_id": self.operation_id,
                    "item": index,
                    "owner_id": self.owner_id,
                    "payload": payload,
                }
                for index, payload in results
            ],
        )
