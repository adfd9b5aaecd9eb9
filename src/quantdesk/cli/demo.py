"""`quantdesk demo seed`: the demo login, its universes, paper account and research vault."""

from __future__ import annotations

import typer
from rich.markup import escape

from quantdesk.cli.common import err, load_settings, out, run, with_database

app = typer.Typer(help="Demo data for a first look.", no_args_is_help=True)


@app.command("seed")
def seed() -> None:
    """Create the demo login, its two universes, a paper account and a research vault
    (idempotent)."""
    from quantdesk import domains
    from quantdesk.system.demo import seed_demo

    domains.register()  # the demo vault's scan is a job: its kind must be known here
    settings = load_settings()
    report = run(with_database(settings, lambda db: seed_demo(db, settings)))
    if report.universes_created:
        names = ", ".join(report.universes_created)
        err().print(f"demo universes created: {escape(names)}", highlight=False)
    if report.missing_symbols:
        missing = escape(str(report.missing_symbols))
        err().print(f"[yellow]not in the catalog, left out:[/yellow] {missing}", highlight=False)
    if report.account_created:
        err().print("demo paper account opened with $100,000", highlight=False)
    if report.vault_skipped:
        err().print(f"[yellow]no demo vault:[/yellow] {escape(report.vault_skipped)}")
    if report.vault_created:
        err().print("demo research vault registered (its scan runs when the server starts)")
    out().print(f"demo login: {report.email} / {report.password}", highlight=False)
