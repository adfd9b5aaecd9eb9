"""The one skeleton of a resumable batch job (bulk validation, CSV import, re-checks).

Items are worked through in batches. Each batch has two steps:

- ``prepare(batch)``: everything that waits on the network (providers, storage), with no
  database transaction open;
- ``apply(session, batch, prepared)``: the batch's effects, in one transaction together with its
  per-item results and its checkpoint (progress), so a crash or a retry resumes after the last
  committed batch and no effect or result is ever applied twice.

Cancellation is checked between batches (cheaply: see ``JobContext.check_cancelled``); a
cancelled job keeps its results so far and its summary.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.jobs import service
from quantdesk.jobs.context import JobCancelled, JobContext

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")


class BatchJob(Generic[Item, Prepared]):
    """Subclass and fill in ``prepare``, ``apply`` and ``summarize``; then ``await job.run()``."""

    size: int = 10
    noun: str = "items"

    def __init__(self, ctx: JobContext, items: Sequence[Item]) -> None:
        self.ctx = ctx
        self.items = items

    async def prepare(self, batch: Sequence[Item]) -> Prepared:
        """Network work for ``batch`` (no transaction is open)."""
        raise NotImplementedError

    async def apply(
        self, session: AsyncSession, start: int, batch: Sequence[Item], prepared: Prepared
    ) -> list[dict[str, Any]]:
        """The batch's effects in ``session``; one result per item, in order."""
        raise NotImplementedError

    async def summarize(self, total: int) -> dict[str, Any]:
        """The operation's result (counts, samples) once done or cancelled."""
        raise NotImplementedError

    def message(self, done: int, total: int) -> str:
        return f"{done} of {total} {self.noun} done"

    async def run(self) -> dict[str, Any]:
        ctx, total = self.ctx, len(self.items)
        start = min(max(ctx.resume_from, 0), total)
        try:
            for begin in range(start, total, self.size):
                await ctx.check_cancelled()
                batch = self.items[begin : begin + self.size]
                prepared = await self.prepare(batch)
                async with ctx.transaction() as session:
                    results = await self.apply(session, begin, batch, prepared)
                    await ctx.record_results(
                        session, [(begin + j, r) for j, r in enumerate(results)]
                    )
                    done = begin + len(batch)
                    await ctx.checkpoint(session, done, total, self.message(done, total))
        except JobCancelled as exc:
            raise JobCancelled(str(exc), result=await self.summarize(total)) from None
        return await self.summarize(total)


async def each_result(
    ctx: JobContext, visit: Callable[[dict[str, Any]], Awaitable[None] | None]
) -> None:
    """Visit every recorded result of this operation in item order (a page per transaction)."""
    async for item in service.stream_results(
        ctx.resources.db, owner_id=ctx.owner_id, operation_id=ctx.operation_id
    ):
        outcome = visit(item)
        if outcome is not None:
            await outcome
