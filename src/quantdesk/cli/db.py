"""`quantdesk db ...`: the schema, made and moved only by Alembic migrations."""

from __future__ import annotations

import typer

from quantdesk.cli.common import check_database, database_location, err, load_settings, out

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Migrate the database up to a revision (default: the latest); creates it if need be."""
    from quantdesk.kit.migrations import upgrade

    settings = load_settings()
    upgrade(settings.resolved_database_url, revision)
    where = database_location(settings.resolved_database_url)
    err().print(f"database ({settings.database_kind}) at {where}: {revision}", highlight=False)


@app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'")) -> None:
    """Migrate the database down to a revision."""
    from quantdesk.kit.migrations import downgrade

    settings = load_settings()
    downgrade(settings.resolved_database_url, revision)
    where = database_location(settings.resolved_database_url)
    err().print(f"database ({settings.database_kind}) at {where}: {revision}", highlight=False)


@app.command("status")
def db_status() -> None:
    """Where the data directory and the database are, and whether the schema is current.

    Exit code 0 when the database is ready, 1 when it is missing or needs `quantdesk db upgrade`.
    """
    settings = load_settings()
    console = out()
    console.print(f"data directory: {settings.data_dir}", highlight=False, soft_wrap=True)
    check_database(settings)  # exits with the reason when it is not ready
    where = database_location(settings.resolved_database_url)
    console.print(
        f"database ({settings.database_kind}): {where}, up to date", highlight=False, soft_wrap=True
    )
