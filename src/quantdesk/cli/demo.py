"""`quantdesk demo seed`: the demo account and its universes."""

from __future__ import annotations

import asyncio

import typer

from quantdesk.cli.common import console, load_settings, with_database
from quantdesk.system.demo import seed_demo

app = typer.Typer(help="Demo data for a first look.", no_args_is_help=True)


@app.command("seed")
def seed() -> None:
    """Create the demo account and its two universes (idempotent)."""
    report = asyncio.run(with_database(load_settings(), seed_demo))
    if report.universes_created:
        console.print(f"demo universes created: {', '.join(report.universes_created)}")
    if report.missing_symbols:
        console.print(f"[yellow]not in the catalog, left out:[/yellow] {report.missing_symbols}")
    typer.echo(f"demo login: {report.email} / {report.password}")
