"""The matcher: resting paper orders (limits, stops, market orders waiting for their exchange's
open, day orders past their close) are worked against the quotes the market-data engine keeps.

Each round reads every open order (system context), the store's quote of each of their symbols
(nothing is fetched: the orders watch their symbols, so the engine keeps those quotes fresh within
the providers' quotas), and works each order in its owner's transaction under the account's lock
(``orders.work_open_order`` re-reads the order there, so rounds in several processes at once
never fill an order twice). A round runs every ``QUANTDESK_TRADING_MATCH_SECONDS`` and at once
when a quote of a symbol with open orders arrives on the event bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.events import EventBus
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.market import watching
from quantdesk.market.engine.reads import stored_values
from quantdesk.trading import order_repository, orders, prices

_log = get_logger("quantdesk.trading")

QUOTE = "quote"
ROUND_LIMIT = 5_000  # open orders looked at per round, oldest first
WATCH_CLIENT = "orders"
# The orders' watches outlive a few missed rounds, no more.
WATCH_ROUNDS = 6


@dataclass
class RoundResult:
    looked_at: int = 0
    changed: dict[str, int] = field(default_factory=dict)


class OrderMatcher:
    def __init__(self, db: Database, settings: Settings, bus: EventBus | None = None) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus
        self.interval = settings.trading_match_seconds
        self._wake = asyncio.Event()
        self._listening: dict[str, AbstractAsyncContextManager[Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    async def run_round(self) -> RoundResult:
        result = RoundResult()
        async with self.db.transaction(system=True, readonly=True) as session:
            found = await order_repository.open_orders(session, limit=ROUND_LIMIT)
            waiting = [(o.id, o.owner_id, o.account_id, o.symbol) for o in found]
        result.looked_at = len(waiting)
        symbols = sorted({symbol for *_, symbol in waiting})
        stored = await stored_values(
            self.db,
            [(s, QUOTE) for s in symbols],
            max_age_seconds=self.settings.trading_quote_max_age_seconds,
        )
        now = utcnow()
        for order_id, owner_id, account_id, symbol in waiting:
            value = stored.get((symbol, QUOTE))
            quote = None
            if value is not None:
                quote = prices.from_stored(
                    value.value, value.as_of, value.source, fresh=not value.stale
                )
            try:
                status = await orders.work_open_order(
                    self.db, self.settings, order_id=order_id, owner_id=owner_id,
                    account_id=account_id, quote=quote, now=now,
                )  # fmt: skip
            except Exception:  # one order's trouble must not stop the others
                _log.exception("paper_order_round_failed", order_id=str(order_id))
                continue
            if status is not None:
                result.changed[status] = result.changed.get(status, 0) + 1
        await self._watch(waiting)
        await self._listen(symbols)
        self.rounds += 1
        return result

    async def _watch(self, waiting: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]]) -> None:
        """Open orders watch their symbols' quotes, so the engine keeps them fresh."""
        by_owner: dict[uuid.UUID, set[str]] = defaultdict(set)
        for _, owner_id, _, symbol in waiting:
            by_owner[owner_id].add(symbol)
        if not by_owner:
            return
        now = utcnow()
        async with self.db.transaction(system=True) as session:
            for owner_id, symbols in by_owner.items():
                await watching.watch(
                    session, owner_id=owner_id, client=WATCH_CLIENT,
                    pairs=[(s, QUOTE) for s in sorted(symbols)], now=now,
                    seconds=max(60.0, self.interval * WATCH_ROUNDS),
                )  # fmt: skip

    async def _listen(self, symbols: list[str]) -> None:
        """Wake the next round as soon as a quote of a symbol with open orders arrives."""
        if self.bus is None:
            return
        wanted = set(symbols)
        for symbol in [s for s in self._listening if s not in wanted]:
            await self._listening.pop(symbol).__aexit__(None, None, None)
        for symbol in wanted - set(self._listening):
            manager = self.bus.subscribe(
                watching.channel(symbol, QUOTE), sink=lambda _message: self._wake.set()
            )
            await manager.__aenter__()
            self._listening[symbol] = manager

    async def _forever(self) -> None:
        while True:
            try:
                found = await self.run_round()
                if found.changed:
                    _log.info("paper_orders_worked", **found.changed)
            except Exception:
                _log.exception("paper_order_matcher_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever(), name="paper-order-matcher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for manager in self._listening.values():
            with contextlib.suppress(Exception):
                await manager.__aexit__(None, None, None)
        self._listening.clear()
