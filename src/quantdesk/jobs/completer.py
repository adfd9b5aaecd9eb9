"""Group commit for job outcomes: the finishes that arrive together are written together.

River's batched completer is the model. A run hands its ending to ``finish`` and waits for it to
be durable. The first ending of a quiet moment is written at once (no added latency); endings that
arrive while a write is in flight wait for it and then go together in one statement
(``repository.finish_many``). Under load, N jobs that end together cost one round trip instead of
N, and the executor's next claim takes their N free slots in one statement too.

A run still learns whether its lease held (its row, or None), exactly as with a single finish.
Nothing is held in memory that is not yet written when ``finish`` returns.
"""

from __future__ import annotations

import asyncio

from quantdesk.jobs import repository
from quantdesk.jobs.repository import Ending
from quantdesk.jobs.schemas import AnyRow
from quantdesk.kit.db import Database

# An UPDATE with this many rows in its VALUES list stays small (9 binds a row).
MAX_BATCH = 100


class Completer:
    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._waiting: list[tuple[Ending, asyncio.Future[AnyRow | None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0  # statements issued (a test and the benchmark read it)

    async def finish(self, ending: Ending) -> AnyRow | None:
        """Write ``ending`` (with whatever else is waiting); its row, or None if not ours."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[AnyRow | None] = loop.create_future()
        self._waiting.append((ending, done))
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._writer = loop.create_task(self._write_waiting(), name="job-completer")
        # The write goes on if this run is cancelled meanwhile (its ending is still recorded).
        return await asyncio.shield(done)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            self.writes += 1
            try:
                async with self.db.autocommit() as conn:
                    written = await repository.finish_many(conn, [e for e, _ in batch])
            except Exception as exc:  # each run sees the error, as its own statement would
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            except BaseException:  # the loop is going away: so are the runs waiting
                for _, done in batch + self._waiting:
                    done.cancel()
                self._waiting.clear()  # their leases expire; the runs are recovered as abandoned
                raise
            for ending, done in batch:
                if not done.done():
                    done.set_result(written.get(ending.operation_id))

    async def aclose(self) -> None:
        """Wait for the endings already handed over."""
        writer, self._writer = self._writer, None
        if writer is not None and not writer.done():
            await asyncio.gather(writer, return_exceptions=True)
