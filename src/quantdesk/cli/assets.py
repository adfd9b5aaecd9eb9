"""`quantdesk assets validate|search`: symbols checked, and the catalog searched.

`validate` runs the validation strategy in this process: it needs no token, is not bound by the
API's per-user rate limit, and writes what it learns (validated assets, the queue) to the
configured database like the server would. Providers, keys and Redis come from the same settings
as the server's, so with Redis configured it shares the server's cache and provider rate limits.
`validate --bulk` and `search` go through the API instead (a token, like `universe`).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import fail, load_settings, out, run, split_symbols, with_database
from quantdesk.cli.output import (
    Column,
    Output,
    OutputFormat,
    emit,
    emit_csv,
    emit_json,
    make_table,
    print_table,
)

if TYPE_CHECKING:
    from quantdesk.kit.config import Settings
    from quantdesk.kit.db import Database
    from quantdesk.market.schemas import ValidationBatch, ValidationResult

app = typer.Typer(help="Assets: validate symbols, search the catalog.", no_args_is_help=True)

EXIT_CODES = (
    "Exit code: 0 when every symbol is valid, 1 when any is invalid or unknown for now (or the "
    "validation failed), 2 on a usage or configuration error."
)
# Rows of the not-valid table a bulk validation prints; --output csv|json gives every result.
BULK_TABLE_ROWS = 100


async def validate_in_process(settings: Settings, symbols: list[str]) -> ValidationBatch:
    """The market service's strategy, in this process (it opens its own short transactions)."""
    from quantdesk.market import service as market_service
    from quantdesk.market.runtime import MarketRuntime

    async def work(db: Database) -> ValidationBatch:
        runtime = MarketRuntime(settings)
        try:
            return await market_service.validate_symbols(
                db, runtime=runtime, user_id=None, symbols=symbols
            )
        finally:
            await runtime.aclose()

    return await with_database(settings, work)


def _valid_cell(valid: bool | str | None) -> str:
    if valid == "unknown":
        return "[yellow]unknown[/yellow]"
    return "[green]yes[/green]" if valid is True else "[red]no[/red]"


def _valid_word(valid: bool | str | None) -> str:
    return "unknown" if valid == "unknown" else ("yes" if valid is True else "no")


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
    for column in ("Input", "Valid", "Symbol"):
        table.add_column(column, no_wrap=True)
    for column in ("Source", "Name", "Exchange", "Class", "Note"):
        table.add_column(column, overflow="fold")
    for r in batch.results:
        table.add_row(
            escape(r.symbol),
            _valid_cell(r.valid),
            escape(r.canonical_symbol or "-"),
            escape(r.source or "-"),
            escape(r.name or ""),
            escape(r.exchange or ""),
            escape(r.asset_class or ""),
            escape(_note(r)),
        )
    return table


_RESULT_COLUMNS = (
    Column("symbol", "Input", whole=True),
    Column("valid", "Valid", show=_valid_word),
    Column("canonical_symbol", "Symbol", whole=True),
    Column("source", "Source"),
    Column("reason", "Reason"),
)


def _read_symbols(text: str) -> list[str]:
    """Symbols from a file or stdin: a CSV with a 'symbol' column (as `universe export` writes),
    or symbols separated by commas, spaces or newlines ('#' starts a comment)."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write
    lines = text.splitlines()
    header = [cell.strip().lower() for cell in lines[0].split(",")] if lines else []
    if "symbol" in header:
        rows = csv.DictReader(io.StringIO(text))
        key = next(name for name in rows.fieldnames or [] if name.strip().lower() == "symbol")
        return [row[key].strip() for row in rows if (row.get(key) or "").strip()]
    return split_symbols([line.split("#", 1)[0] for line in lines])


def _bulk_inputs(values: list[str]) -> list[str]:
    symbols: list[str] = []
    for value in values:
        if value == "-":
            symbols.extend(_read_symbols(sys.stdin.read()))
        elif Path(value).is_file():
            try:
                symbols.extend(_read_symbols(Path(value).read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"cannot read {value}: {exc}")
        else:
            symbols.extend(split_symbols([value]))
    return symbols


def _bulk_results(client: ApiClient, operation_id: str) -> list[dict[str, Any]]:
    response = client.send("GET", f"/assets/validate/bulk/{operation_id}/results")
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _validate_bulk(symbols: list[str], output: OutputFormat, client: ApiClient) -> None:
    from quantdesk.cli.jobs import follow, print_summary, summary

    operation = client.data("POST", "/assets/validate/bulk", json={"symbols": symbols})
    operation = follow(client, str(operation["id"]))
    if operation["status"] != "succeeded":
        fail(summary(operation))
    result = operation["result"]
    counts = result["counts"]
    if output is OutputFormat.TABLE:
        print_summary(operation)
        shown = (result.get("not_valid_sample") or [])[:BULK_TABLE_ROWS]
        not_valid = counts["invalid"] + counts["unknown"]
        if shown:
            title = "Not valid"
            if len(shown) < not_valid:
                title += f": the first {len(shown)} of {not_valid} (--output csv lists them all)"
            print_table(make_table(_RESULT_COLUMNS, shown, title=title))
    else:
        results = _bulk_results(client, str(operation["id"]))
        if output is OutputFormat.CSV:
            emit_csv(_RESULT_COLUMNS, results)
        else:
            emit_json({"operation_id": operation["id"], "counts": counts, "results": results})
    if counts["invalid"] or counts["unknown"]:
        raise typer.Exit(1)


@app.command(
    "validate",
    help="Validate symbols: cache, catalog, then the configured providers (QUANTDESK_PROVIDERS)."
    "\n\nIn this process against the configured database; with --bulk, as a background job of "
    "the server (API token needed), followed with a progress bar; then FILE arguments (or - for "
    "stdin) are read too: a CSV with a 'symbol' column, or symbols separated by commas, spaces "
    f"or newlines.\n\n{EXIT_CODES}",
)
def validate(
    symbols: Annotated[
        list[str], typer.Argument(help="Symbols, space or comma separated; with --bulk, FILE or -")
    ],
    bulk: Annotated[
        bool, typer.Option("--bulk", help="Validate on the server as a job (up to 100,000)")
    ] = False,
    output: Output = OutputFormat.TABLE,
    as_json: Annotated[bool, typer.Option("--json", hidden=True)] = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    if as_json:  # the option this command had before --output
        output = OutputFormat.JSON
    if bulk:
        client = ApiClient(api_url, token)
        wanted = _bulk_inputs(symbols)
        if not wanted:
            fail("no symbols to validate", code=2)
        _validate_bulk(wanted, output, client)
        return
    wanted = split_symbols(symbols)
    if not wanted:
        raise typer.BadParameter("give at least one symbol", param_hint="SYMBOL")
    batch = run(validate_in_process(load_settings(), wanted))
    if output is OutputFormat.JSON:
        emit_json(batch.model_dump(mode="json"))
    elif output is OutputFormat.CSV:
        emit_csv(_RESULT_COLUMNS, [r.model_dump(mode="json") for r in batch.results])
    else:
        print_table(_table(batch))
        c = batch.counts
        out().print(f"{c.valid} valid, {c.invalid} invalid, {c.unknown} unknown for now")
    if batch.counts.invalid or batch.counts.unknown:
        raise typer.Exit(1)


_ASSET_CLASSES = ("equity", "etf", "crypto", "index", "currency")
_SEARCH_COLUMNS = (
    Column("symbol", "Symbol", whole=True),
    Column("name", "Name"),
    Column("asset_class", "Class"),
    Column("exchange", "Exchange"),
    Column("country", "Country"),
    Column("sector", "Sector"),
    Column("match", "Match"),
)
_PAGE = 100  # the API's largest page


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="Symbol or name words; '' lists by filter")],
    asset_class: Annotated[
        str | None,
        typer.Option("--class", help=f"Only this class: {'|'.join(_ASSET_CLASSES)}"),
    ] = None,
    exchange: Annotated[str | None, typer.Option(help="Exact exchange, e.g. NASDAQ")] = None,
    sector: Annotated[str | None, typer.Option(help="Exact sector, e.g. Technology")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 20,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Search the catalog: exact symbol first, then symbol prefixes, then name words."""
    if asset_class is not None and asset_class.lower() not in _ASSET_CLASSES:
        raise typer.BadParameter(f"choose from {', '.join(_ASSET_CLASSES)}", param_hint="--class")
    client = ApiClient(api_url, token)
    params: dict[str, Any] = {"q": query}
    for key, value in (("asset_class", asset_class), ("exchange", exchange), ("sector", sector)):
        if value:
            params[key] = value.lower() if key == "asset_class" else value
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < limit:
        page_params = {**params, "limit": min(_PAGE, limit - len(items))}
        if cursor:
            page_params["cursor"] = cursor
        page = client.data("GET", "/assets/search", params=page_params)
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    emit(output, _SEARCH_COLUMNS, items, empty=f"no assets match {query!r}")
