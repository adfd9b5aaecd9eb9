"""`quantdesk demo seed`: the demo account and its universes."""

from __future__ import annotations

import typer
from rich.markup import escape

from quantdesk.cli.common import err, load_settings, out, run, with_database

app = typer.Typer(help="Demo data for a first look.", no_args_is_help=True)


@app.command("seed")
def seed() -> None:
    """Create the demo account and its two universes (idempotent)."""
    from quantdesk.system.demo import seed_demo

    report = run(with_database(load_settings(), seed_demo))
    if report.universes_created:
        names = ", ".join(report.universes_created)
        err().print(f"demo universes created: {escape(names)}", highlight=False)
    if report.missing_symbols:
        missing = escape(str(report.missing_symbols))
        err().print(f"[yellow]not in the catalog, left out:[/yellow] {missing}", highlight=False)
    out().print(f"demo login: {report.email} / {report.password}", highlight=False)
