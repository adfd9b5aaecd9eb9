"""Reads that fetch on demand: while the refresh engine is off, or a value's data type is, nothing
keeps the store fresh, so a read asks the provider chain itself for each stale (or missing)
value, with no transaction open (the runtime's gate debits the persisted quota ledger for each
call), and waits for the answers at most its budget.

Each fetch is a task that stores its answer in a short transaction of its own. The reader waits
on the tasks up to the budget; a task that outlives it still stores its answer when it comes
(the quota is spent either way), so the next read finds it. One fetch per pair is in flight in a
process, however many readers want it at once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic_core import to_jsonable_python

from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.market import watching
from quantdesk.market.engine import queries, store
from quantdesk.market.engine.schemas import Fetched, OnDemand
from quantdesk.market.runtime import MarketRuntime

_log = get_logger("quantdesk.market")

Pair = tuple[str | None, str]
# The fetch of each pair in flight in this process (see the module's docstring).
_in_flight: dict[Pair, asyncio.Task[bool]] = {}


@dataclass(frozen=True)
class Wanted:
    """A value to fetch: ``providers`` are its type's that this process has, in chain order
    (None: the whole chain, for a type the registry does not know)."""

    symbol: str | None
    data_type: str
    providers: list[str] | None


async def fetch_and_store(
    db: Database,
    runtime: MarketRuntime,
    wanted: Sequence[Wanted],
    *,
    ttls: Mapping[str, int],
    budget_seconds: float,
    bus: EventBus | None = None,
) -> dict[Pair, OnDemand]:
    """Fetch each wanted value, store it and push it to its watchers (through ``bus``); how
    each went once they all ended or the budget ran out, whichever came first. Call it with no
    transaction open."""
    tasks = {(w.symbol, w.data_type): _task(db, runtime, w, ttls, bus) for w in wanted}
    if not tasks:
        return {}
    # Waiting never cancels a task: a late answer is still stored (see the module's docstring).
    await asyncio.wait(tasks.values(), timeout=budget_seconds)
    return {pair: _outcome(task) for pair, task in tasks.items()}


def _outcome(task: asyncio.Task[bool]) -> OnDemand:
    if not task.done():
        return OnDemand.TIMED_OUT
    if task.cancelled() or task.exception() is not None or not task.result():
        return OnDemand.UNANSWERED
    return OnDemand.FETCHED


def _task(
    db: Database,
    runtime: MarketRuntime,
    wanted: Wanted,
    ttls: Mapping[str, int],
    bus: EventBus | None,
) -> asyncio.Task[bool]:
    pair = (wanted.symbol, wanted.data_type)
    running = _in_flight.get(pair)
    if running is not None and running.get_loop() is asyncio.get_running_loop():
        return running
    task = asyncio.create_task(_fetch_and_store(db, runtime, wanted, dict(ttls), bus))
    _in_flight[pair] = task
    task.add_done_callback(functools.partial(_ended, pair))
    return task


def _ended(pair: Pair, task: asyncio.Task[bool]) -> None:
    if _in_flight.get(pair) is task:
        del _in_flight[pair]
    if not task.cancelled() and (error := task.exception()) is not None:
        # No reader may be left to see it (a late answer): said here, once.
        _log.warning("on_demand_fetch_failed", symbol=pair[0], data_type=pair[1], error=repr(error))


async def _fetch_and_store(
    db: Database,
    runtime: MarketRuntime,
    wanted: Wanted,
    ttls: Mapping[str, int],
    bus: EventBus | None,
) -> bool:
    """True once the answer is stored; False when no provider answered (or none serves it)."""
    if wanted.providers == []:  # none of the type's providers is configured here
        return False
    spec, query = queries.query_for(wanted.data_type, wanted.symbol)
    outcome = await runtime.fetch(spec, query, providers=wanted.providers)
    if not outcome.answered or outcome.provider is None:
        return False
    fetched = Fetched(
        symbol=wanted.symbol,
        data_type=wanted.data_type,
        provider=outcome.provider,
        value=outcome.value,
        fetched_at=utcnow(),
    )
    async with db.transaction(system=True) as session:
        await store.store_values(session, [fetched], ttls=ttls)
    if bus is not None and wanted.symbol:  # watchers get it as they would from the engine
        await watching.publish(
            bus, wanted.symbol, wanted.data_type, to_jsonable_python(outcome.value),
            source=outcome.provider, as_of=fetched.fetched_at,
        )  # fmt: skip
    return True
