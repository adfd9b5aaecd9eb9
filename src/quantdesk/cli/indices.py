"""`quantdesk indices list|show`: the catalog's market indices, through the API."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer
from rich.markup import escape

from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import out
from quantdesk.cli.output import Column, Output, OutputFormat, emit, make_table, print_table

app = typer.Typer(help="Market indices of the catalog (needs an API token).", no_args_is_help=True)

_INDEX_COLUMNS = (
    Column("name", "Name", whole=True),
    Column("country", "Country"),
    Column("member_count", "Members", justify="right"),
)
_MEMBER_COLUMNS = (
    Column("symbol", "Symbol", whole=True),
    Column("name", "Name"),
    Column("asset_class", "Class"),
    Column("exchange", "Exchange"),
    Column("sector", "Sector"),
)


@app.command("list")
def list_indices(
    output: Output = OutputFormat.TABLE, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Every index with its member count."""
    data = ApiClient(api_url, token).data("GET", "/indices")
    emit(output, _INDEX_COLUMNS, data["items"], empty="no indices: run `quantdesk catalog load`")


@app.command("show")
def show_index(
    name: Annotated[str, typer.Argument(help='Index name, any case, e.g. "S&P 500"')],
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """An index and its members, by symbol (csv: the members; json: everything)."""
    client = ApiClient(api_url, token)
    data = client.data("GET", f"/indices/{quote(name, safe='')}")
    if output is not OutputFormat.TABLE:
        emit(output, _MEMBER_COLUMNS, data["members"], data=data)
        return
    country = f" ({data['country']})" if data.get("country") else ""
    out().print(
        f"[bold]{escape(data['name'])}[/bold]{escape(country)}: {data['member_count']} members",
        soft_wrap=True,
    )
    if data["members"]:
        print_table(make_table(_MEMBER_COLUMNS, data["members"]))
