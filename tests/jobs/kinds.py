"""Job kinds used only by tests (registered on import), and the knobs the tests turn."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job

# Per operation id: how many times each handler actually ran (the claim must keep these at 1).
RUNS: defaultdict[str, int] = defaultdict(int)
# Gates a test opens to let a blocked handler go on.
GATES: dict[str, asyncio.Event] = {}
# Handlers running now, and the most seen at once (bounded concurrency).
CONCURRENCY = {"now": 0, "peak": 0}
# The ``label`` params of test_ordered jobs, in the order they started.
STARTED: list[str] = []


def reset() -> None:
    RUNS.clear()
    GATES.clear()
    CONCURRENCY.update(now=0, peak=0)
    STARTED.clear()


@job("test_noop")
async def noop(ctx: JobContext) -> dict[str, Any] | None:
    RUNS[str(ctx.operation_id)] += 1
    return {"echo": ctx.params.get("echo")}


@job("test_steps")
async def steps(ctx: JobContext) -> dict[str, Any] | None:
    """``steps`` progress steps; waits for the gate ``gate`` (if named) before each step."""
    RUNS[str(ctx.operation_id)] += 1
    total = int(ctx.params.get("steps", 3))
    gate = ctx.params.get("gate")
    for step in range(ctx.resume_from, total):
        await ctx.check_cancelled()
        if gate:
            await GATES.setdefault(gate, asyncio.Event()).wait()
        await ctx.progress(step + 1, total, f"step {step + 1} of {total}")
        await asyncio.sleep(float(ctx.params.get("pause", 0)))
    return {"steps": total, "resumed_from": ctx.resume_from}


@job("test_flaky", max_attempts=3)
async def flaky(ctx: JobContext) -> dict[str, Any] | None:
    """Fails its first ``failures`` attempts, then succeeds."""
    RUNS[str(ctx.operation_id)] += 1
    if ctx.attempt <= int(ctx.params.get("failures", 0)):
        raise RuntimeError(f"attempt {ctx.attempt} fails")
    return {"attempt": ctx.attempt}


@job("test_slow")
async def slow(ctx: JobContext) -> dict[str, Any] | None:
    RUNS[str(ctx.operation_id)] += 1
    CONCURRENCY["now"] += 1
    CONCURRENCY["peak"] = max(CONCURRENCY["peak"], CONCURRENCY["now"])
    try:
        await asyncio.sleep(float(ctx.params.get("seconds", 0.2)))
    finally:
        CONCURRENCY["now"] -= 1
    return None


@job("test_ordered")
async def ordered(ctx: JobContext) -> dict[str, Any] | None:
    """Records the order jobs start in; waits for the gate ``gate`` (if named) first."""
    STARTED.append(str(ctx.params.get("label")))
    gate = ctx.params.get("gate")
    if gate:
        await GATES.setdefault(gate, asyncio.Event()).wait()
    return None
