"""The `quantdesk` command: the server, the database, and every domain's sub-commands."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from quantdesk.cli import assets, catalog, demo, jobs, providers, universe, user, worker
from quantdesk.cli.common import console, load_settings
from quantdesk.kit.logging import configure_logging
from quantdesk.kit.migrations import downgrade, upgrade

app = typer.Typer(help="quantdesk: a self-hosted investment desk.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog.app, name="catalog")
app.add_typer(universe.app, name="universe")
app.add_typer(user.app, name="user")
app.add_typer(demo.app, name="demo")
app.add_typer(assets.app, name="assets")
app.add_typer(providers.app, name="providers")
app.add_typer(jobs.app, name="jobs")
app.command()(worker.worker)
app.command()(worker.beat)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Serve the API (and, embedded, the background work) with uvicorn."""
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    uvicorn.run(
        "quantdesk.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        access_log=False,  # our middleware logs each request once, with its request id
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Migrate the database up to a revision (default: the latest)."""
    settings = load_settings()
    upgrade(settings.resolved_database_url, revision)
    console.print(f"database ({settings.database_kind}) at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'")) -> None:
    """Migrate the database down to a revision."""
    settings = load_settings()
    downgrade(settings.resolved_database_url, revision)
    console.print(f"database ({settings.database_kind}) at {revision}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
