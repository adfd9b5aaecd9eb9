"""`quantdesk catalog ...`: the offline asset catalog, straight against the database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from quantdesk.cli.common import err, load_settings, out, run, with_database
from quantdesk.cli.output import (
    Column,
    Output,
    OutputFormat,
    emit_csv,
    emit_json,
    make_table,
    print_table,
)

if TYPE_CHECKING:
    from quantdesk.assets.catalog import CatalogLoadReport, CatalogSources
    from quantdesk.kit.config import Settings
    from quantdesk.kit.db import Database

app = typer.Typer(help="Load and inspect the offline asset catalog.", no_args_is_help=True)


async def _needs_load(db: Database) -> bool:
    from quantdesk.assets import service as asset_service

    async with db.transaction() as session:
        return await asset_service.catalog_needs_load(session)


SOURCE_NAMES = ("stocks", "etfs", "index-quotes", "currencies", "crypto", "indices")


def _csv_option(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _sources(sources: str | None, countries: str | None) -> CatalogSources:
    from quantdesk.assets.catalog import CatalogSources

    chosen = _csv_option(sources)
    if chosen is None:
        chosen = list(SOURCE_NAMES)
    unknown = sorted(set(chosen) - set(SOURCE_NAMES))
    if unknown:
        raise typer.BadParameter(
            f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(SOURCE_NAMES)}",
            param_hint="--sources",
        )
    country_keys = _csv_option(countries)
    return CatalogSources(
        stock_countries=(country_keys if "stocks" in chosen else ()),
        etfs="etfs" in chosen,
        index_quotes="index-quotes" in chosen,
        currencies="currencies" in chosen,
        crypto="crypto" in chosen,
        indices=None if "indices" in chosen else (),
    )


async def _load(
    settings: Settings, *, if_empty: bool, sources: CatalogSources
) -> CatalogLoadReport | None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from quantdesk.assets.catalog import load_catalog

    async def work(db: Database) -> CatalogLoadReport | None:
        if if_empty and not await _needs_load(db):
            return None
        with Progress(
            TextColumn("[bold]Loading catalog"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err(),
            transient=True,
        ) as bar:
            task = bar.add_task("catalog", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await load_catalog(db, progress=advance, sources=sources)

    return await with_database(settings, work)


def _print_report(report: CatalogLoadReport) -> None:
    table = Table(title="Catalog load", show_header=False)
    for label, value in (
        ("entries read", report.entries),
        ("created", report.created),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("invalid symbols skipped", report.invalid),
        ("rows without a name skipped", report.unnamed),
        ("duplicates skipped", report.duplicates),
        ("indices", report.indices),
        ("index memberships", report.memberships),
        (
            "memberships added / removed",
            f"{report.memberships_added} / {report.memberships_removed}",
        ),
        ("index members created", report.members_created),
        ("index members unresolved", report.members_unresolved),
    ):
        table.add_row(label, str(value))
    out().print(table)


@app.command("load")
def load(
    if_empty: Annotated[
        bool,
        typer.Option(
            "--if-empty",
            help="Do nothing when the catalog is already loaded (and ranked for search)",
        ),
    ] = False,
    sources: Annotated[
        str | None,
        typer.Option(
            help=f"Comma-separated sources to load (default all: {','.join(SOURCE_NAMES)})"
        ),
    ] = None,
    countries: Annotated[
        str | None,
        typer.Option(help="Comma-separated stock files to load, e.g. usa,germany (default all)"),
    ] = None,
) -> None:
    """Load (or refresh) the catalog from the shipped data; safe to run again."""
    chosen = _sources(sources, countries)
    report = run(_load(load_settings(), if_empty=if_empty, sources=chosen))
    if report is None:
        out().print("catalog already loaded; skipped (--if-empty)")
        return
    _print_report(report)


async def _stats(settings: Settings) -> dict[str, int]:
    from quantdesk.assets import service as asset_service

    async def work(db: Database) -> dict[str, int]:
        async with db.transaction() as session:
            return await asset_service.count_assets_by_class(session)

    return await with_database(settings, work)


_STATS_COLUMNS = (
    Column("asset_class", "Asset class"),
    Column("assets", "Assets", justify="right"),
)


@app.command("stats")
def stats(output: Output = OutputFormat.TABLE) -> None:
    """How many assets the catalog holds, per asset class."""
    counts = run(_stats(load_settings()))
    rows = [
        {"asset_class": asset_class, "assets": count}
        for asset_class, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    if output is OutputFormat.JSON:
        by_class = {row["asset_class"]: row["assets"] for row in rows}
        emit_json({"by_class": by_class, "total": sum(counts.values())})
    elif output is OutputFormat.CSV:
        emit_csv(_STATS_COLUMNS, rows)
    else:
        table = make_table(_STATS_COLUMNS, rows, title="Catalog")
        table.add_row("[bold]total", f"[bold]{sum(counts.values())}")
        print_table(table)
