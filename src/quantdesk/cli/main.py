"""The `quantdesk` command: the server, the database, and every domain's sub-commands.

The sub-command modules import only Typer, Rich and the standard library at module level (the
rest inside their commands), so `quantdesk --help` answers without loading the application.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import (
    account,
    assets,
    catalog,
    db,
    demo,
    indices,
    jobs,
    market,
    mcp,
    orders,
    providers,
    universe,
    user,
    vault,
)
from quantdesk.cli import worker as worker_commands
from quantdesk.cli.common import check_database, configure_cli_logging, load_settings

app = typer.Typer(
    help="quantdesk: a self-hosted investment desk.\n\n"
    "Data lives in QUANTDESK_DATA_DIR, by default the checkout's data/ (installed from a "
    "checkout) or the user data directory; `quantdesk db status` shows where.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets (tokens, the JWT key)
)
app.add_typer(db.app, name="db")
app.add_typer(catalog.app, name="catalog")
app.add_typer(universe.app, name="universe")
app.add_typer(account.app, name="account")
app.add_typer(orders.app, name="order")
app.command("positions")(orders.positions)
app.add_typer(indices.app, name="indices")
app.add_typer(assets.app, name="assets")
app.add_typer(jobs.app, name="jobs")
app.add_typer(user.app, name="user")
app.add_typer(demo.app, name="demo")
app.add_typer(vault.app, name="vault")
app.add_typer(providers.app, name="providers")
app.add_typer(market.app, name="market")
app.command()(worker_commands.worker)
app.command()(worker_commands.beat)
app.command()(mcp.mcp)
market.app.command("engine")(worker_commands.market_engine)


@app.callback()
def root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also log at QUANTDESK_LOG_LEVEL (on stderr), not only warnings"
        ),
    ] = False,
) -> None:
    """Runs before every sub-command: logs go to stderr, whatever the command."""
    configure_cli_logging(verbose=verbose)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies (load balancers) whose X-Forwarded-For/-Proto are believed: "
            "comma-separated addresses or networks, * for any, '' for none "
            "[default: QUANTDESK_FORWARDED_ALLOW_IPS, 127.0.0.1,::1]"
        ),
    ] = None,
) -> None:
    """Serve the API (and, embedded, the background work) with uvicorn."""
    import uvicorn

    settings = load_settings()
    check_database(settings)  # a missing or unmigrated database: one line, before uvicorn
    configure_cli_logging(verbose=True)
    trusted = settings.forwarded_allow_ips if forwarded_allow_ips is None else forwarded_allow_ips
    uvicorn.run(
        "quantdesk.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        # Per-IP login limits see the client's address only through a trusted proxy's headers.
        proxy_headers=bool(trusted.strip()),
        forwarded_allow_ips=trusted,
        access_log=False,  # our middleware logs each request once, with its request id
    )


@app.command()
def openapi() -> None:
    """Print the API's OpenAPI schema (JSON), e.g. for the dashboard's generated client."""
    import json

    from quantdesk.app import create_app

    typer.echo(json.dumps(create_app(load_settings()).openapi(), indent=2, sort_keys=False))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
