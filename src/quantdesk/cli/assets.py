"""`quantdesk assets validate SYMBOL...`: the validation strategy, run in this process.

In process rather than through the API: it needs no token, is not bound by the API's per-user
rate limit, and writes what it learns (validated assets, the queue) to the configured database
like the server would. Providers, keys and Redis come from the same settings as the server's,
so with Redis configured it shares the server's cache and provider rate limits.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.common import load_settings, with_database
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.logging import configure_logging
from quantdesk.market import service as market_service
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import ValidationBatch, ValidationResult

app = typer.Typer(help="Assets: validate symbols with the catalog and data providers.")

Symbols = Annotated[list[str], typer.Argument(help="Symbols, space or comma separated")]


async def _validate(settings: Settings, symbols: list[str]) -> ValidationBatch:
    async def work(db: Database) -> ValidationBatch:
        runtime = MarketRuntime(settings)
        try:
            return await market_service.validate_symbols(
                db, runtime=runtime, user_id=None, symbols=symbols
            )
        finally:
            await runtime.aclose()

    return await with_database(settings, work)


def _valid_cell(result: ValidationResult) -> str:
    if result.valid == "unknown":
        return "[yellow]unknown[/yellow]"
    return "[green]yes[/green]" if result.valid else "[red]no[/red]"


def _note(result: ValidationResult) -> str:
    parts = []
    if result.valid is not True and result.reason:
        parts.append(result.reason)
    parts.extend(f"{e.provider}: {e.kind}" for e in result.errors)
    if result.retry_after is not None:
        parts.append(f"retry in {result.retry_after:g} s")
    if result.queued:
        parts.append("queued for background validation")
    if result.from_cache:
        parts.append("cached")
    return "; ".join(parts)


def _table(batch: ValidationBatch) -> Table:
    table = Table(title="Symbol validation")
    for column in ("Input", "Valid", "Symbol", "Source", "Name", "Exchange", "Class", "Note"):
        table.add_column(column, overflow="fold")
    for r in batch.results:
        table.add_row(
            escape(r.symbol),
            _valid_cell(r),
            escape(r.canonical_symbol or "-"),
            escape(r.source or "-"),
            escape(r.name or ""),
            escape(r.exchange or ""),
            escape(r.asset_class or ""),
            escape(_note(r)),
        )
    return table


@app.command("validate")
def validate(
    symbols: Symbols,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON")] = False,
) -> None:
    """Validate symbols: cache, catalog, then the configured providers (QUANTDESK_PROVIDERS).

    Exit code 0 when every symbol is valid, 1 when one is invalid or unknown for now.
    """
    wanted = [part.strip() for raw in symbols for part in raw.split(",") if part.strip()]
    if not wanted:
        raise typer.BadParameter("give at least one symbol", param_hint="SYMBOL")
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    batch = asyncio.run(_validate(settings, wanted))
    out = Console()
    if as_json:
        out.print_json(json.dumps(batch.model_dump(mode="json")))
    else:
        out.print(_table(batch))
        c = batch.counts
        out.print(f"{c.valid} valid, {c.invalid} invalid, {c.unknown} unknown for now")
    if batch.counts.invalid or batch.counts.unknown:
        raise typer.Exit(1)
