"""`quantdesk catalog ...`: the offline asset catalog."""

import typer

app = typer.Typer(help="Load and inspect the offline asset catalog.", no_args_is_help=True)
