"""Background jobs of paper trading.

- ``credit_paper_dividends`` (every 6 hours): dividends due are paid to the positions held
  before their ex-date (``trading.dividends``; each one once, however often it runs).
- ``snapshot_paper_equity`` (hourly): today's equity snapshot of every account (the last of a
  day stays: the history's daily points).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from quantdesk.jobs.context import JobContext
from quantdesk.jobs.registry import job
from quantdesk.kit.orm import utcnow
from quantdesk.market.runtime import MARKET
from quantdesk.trading import dividends, performance


@job("credit_paper_dividends", queue="maintenance", every=timedelta(hours=6))
async def credit_paper_dividends(ctx: JobContext) -> dict[str, Any]:
    run = await dividends.credit(
        ctx.resources.db,
        ctx.resources.get(MARKET),
        ctx.resources.settings,
        today=utcnow().date(),
    )
    return {
        "symbols": run.symbols,
        "paid": run.paid,
        "already_paid": run.already_paid,
        "amounts": {symbol: str(amount) for symbol, amount in run.amounts.items()},
    }


@job("snapshot_paper_equity", queue="maintenance", every=timedelta(hours=1))
async def snapshot_paper_equity(ctx: JobContext) -> dict[str, Any]:
    taken = await performance.snapshot_all(
        ctx.resources.db,
        now=utcnow(),
        stale_after_seconds=ctx.resources.settings.trading_quote_max_age_seconds,
    )
    return {"accounts": taken}
