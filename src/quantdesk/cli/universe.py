"""`quantdesk universe ...`: universes over the REST API, authenticated with an API token."""

import typer

app = typer.Typer(
    help="Manage universes through the API (needs an API token).", no_args_is_help=True
)
