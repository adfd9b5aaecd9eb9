"""`quantdesk universe ...`: universes over the REST API, authenticated with an API token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import confirm, err, fail, out, split_symbols
from quantdesk.cli.output import Column, Output, OutputFormat, emit, make_table, print_table

app = typer.Typer(
    help="Manage universes through the API (needs an API token).", no_args_is_help=True
)

UniverseRef = Annotated[str, typer.Argument(help="Universe id or exact name")]
Symbols = Annotated[list[str], typer.Argument(help="Symbols, space or comma separated")]

# Said in the help of every command that takes symbols; `assets validate` keeps the same rule.
EXIT_CODES = (
    "Exit code: 0 when every symbol was recognised, 1 when any is unknown or not a symbol "
    "(the others are still applied) or the call failed, 2 on a usage or configuration error."
)
_FINISHED = ("succeeded", "failed", "cancelled")
_POLL_SECONDS = 0.2
_PROBLEMS = ("already_present", "not_present", "unknown_symbol", "invalid_format")
_UNRECOGNISED = ("unknown_symbol", "invalid_format")


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


def _report_outcome(result: dict[str, Any], row_key: str | None = None) -> None:
    """Print the counts and each problem; exit 1 when a symbol was not recognised."""
    counts = result["counts"]
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items() if n)
    out().print(
        f"{summary or 'nothing to do'}; the universe now has {result['asset_count']} assets",
        highlight=False,
        soft_wrap=True,
    )
    problems = [r for r in result["results"] if r["status"] in _PROBLEMS]
    if problems:
        columns = (
            Column(row_key or "input", "Row" if row_key else "Input", whole=True),
            Column("symbol", "Symbol", whole=True),
            Column("status", "Status"),
            Column("reason", "Reason"),
        )
        print_table(make_table(columns, problems))
    if any(counts.get(status) for status in _UNRECOGNISED):
        raise typer.Exit(1)


_LIST_COLUMNS = (
    Column("id", "Id", whole=True),
    Column("name", "Name"),
    Column("asset_count", "Assets", justify="right"),
    Column("created_at", "Created", show=_when),
)


@app.command("list")
def list_universes(
    output: Output = OutputFormat.TABLE, api_url: ApiUrl = None, token: Token = None
) -> None:
    """List your universes."""
    universes = ApiClient(api_url, token).all_universes()
    empty = "No universes yet: create one with `quantdesk universe create NAME`."
    emit(output, _LIST_COLUMNS, universes, empty=empty)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Name of the new universe")],
    symbols: Annotated[list[str] | None, typer.Argument(help="Initial symbols")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
    from_index: Annotated[
        str | None, typer.Option("--from-index", help="Start with an index's members")
    ] = None,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Create a universe, optionally with symbols and/or an index's members.

    Every symbol must be known, or nothing is created (exit code 1).
    """
    body: dict[str, Any] = {"name": name, "description": description, "from_index": from_index}
    if symbols:
        body["symbols"] = split_symbols(symbols)
    data = ApiClient(api_url, token).data("POST", "/universes", json=body)
    out().print(
        f"Created universe {escape(repr(data['name']))} ({data['id']}) "
        f"with {data['asset_count']} assets",
        highlight=False,
        soft_wrap=True,
    )


@app.command(help=f"Add assets to a universe.\n\n{EXIT_CODES}")
def add(
    universe: UniverseRef, symbols: Symbols, api_url: ApiUrl = None, token: Token = None
) -> None:
    client = ApiClient(api_url, token)
    path = f"/universes/{client.universe_id(universe)}/assets"
    _report_outcome(client.data("POST", path, json={"add": split_symbols(symbols)}))


@app.command(help=f"Remove assets from a universe.\n\n{EXIT_CODES}")
def remove(
    universe: UniverseRef, symbols: Symbols, api_url: ApiUrl = None, token: Token = None
) -> None:
    client = ApiClient(api_url, token)
    path = f"/universes/{client.universe_id(universe)}/assets"
    _report_outcome(client.data("POST", path, json={"remove": split_symbols(symbols)}))


_MEMBER_COLUMNS = (
    Column("position", "#", justify="right", show=lambda p: str(p + 1)),
    Column("symbol", "Symbol", whole=True),
    Column("name", "Name"),
    Column("asset_class", "Class"),
    Column("exchange", "Exchange"),
    Column("sector", "Sector"),
    Column("validation_status", "Validation"),
)


# The API's largest page: a 5,000-member universe is read in 5 requests.
_MEMBERS_PAGE = 1000


def _breakdown(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n)


@app.command()
def show(
    universe: UniverseRef,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Show a universe and all its assets in order (csv: the assets; json: everything)."""
    client = ApiClient(api_url, token)
    universe_id = client.universe_id(universe)
    data = client.data("GET", f"/universes/{universe_id}")
    # The universe answer carries counts only: the members come page by page.
    assets = client.all_items(f"/universes/{universe_id}/assets", limit=_MEMBERS_PAGE)
    if output is not OutputFormat.TABLE:
        emit(output, _MEMBER_COLUMNS, assets, data={**data, "assets": assets})
        return
    console = out()
    console.print(
        f"[bold]{escape(data['name'])}[/bold] ({data['id']}): {data['asset_count']} assets",
        soft_wrap=True,
    )
    if data["asset_count"]:
        console.print(
            f"{_breakdown(data['by_validation_status'])}; {_breakdown(data['by_asset_class'])}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if data["description"]:
        console.print(data["description"], highlight=False, markup=False, soft_wrap=True)
    if assets:
        print_table(make_table(_MEMBER_COLUMNS, assets))


@app.command()
def delete(
    universe: UniverseRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Delete a universe with its memberships and change log (the catalog assets stay).

    Asks first (on stderr, reading the answer from stdin), unless --yes.
    """
    client = ApiClient(api_url, token)
    universe_id = client.universe_id(universe)
    if not yes:
        data = client.data("GET", f"/universes/{universe_id}")
        question = (
            f"Delete universe {data['name']!r} ({universe_id}, {data['asset_count']} assets)?"
        )
        if not confirm(question, unanswered="pass --yes to delete without asking"):
            fail("not deleted")
    deleted = client.data("DELETE", f"/universes/{universe_id}")
    out().print(
        f"Deleted universe {escape(repr(deleted['name']))} ({deleted['id']}) "
        f"and its {deleted['asset_count']} memberships",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def reorder(
    universe: UniverseRef,
    symbols: Annotated[
        list[str], typer.Argument(help="Every current member exactly once, in the new order")
    ],
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Set the order of a universe's members (list every member once)."""
    client = ApiClient(api_url, token)
    universe_id = client.universe_id(universe)
    path = f"/universes/{universe_id}/assets/order"
    data = client.data("PUT", path, json={"symbols": split_symbols(symbols)})
    page = client.data("GET", f"/universes/{universe_id}/assets", params={"limit": 5})
    first = ", ".join(a["symbol"] for a in page["items"])
    more = ", …" if page["next_cursor"] else ""
    out().print(
        f"Order saved for {escape(repr(data['name']))}: {escape(first)}{more}",
        highlight=False,
        soft_wrap=True,
    )


_CHANGE_COLUMNS = (
    Column("change", "Change"),
    Column("symbol", "Symbol", whole=True),
    Column("occurred_at", "When (UTC)", show=_when),
)


@app.command()
def turnover(
    universe: UniverseRef,
    start: Annotated[
        str | None,
        typer.Option(help="ISO 8601 date or time, e.g. 2026-01-01 [default: end - 30 days]"),
    ] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 date or time [default: now]")] = None,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Additions, removals and the turnover rate of a universe over a window (csv: the changes)."""
    client = ApiClient(api_url, token)
    params = {key: value for key, value in (("start", start), ("end", end)) if value}
    data = client.data("GET", f"/universes/{client.universe_id(universe)}/turnover", params=params)
    changes = sorted(
        [{"change": "added", **event} for event in data["additions"]]
        + [{"change": "removed", **event} for event in data["removals"]],
        key=lambda event: str(event["occurred_at"]),
    )
    if output is not OutputFormat.TABLE:
        emit(output, _CHANGE_COLUMNS, changes, data=data)
        return
    console = out()
    console.print(
        f"{_when(data['start'])} → {_when(data['end'])} UTC: {data['addition_count']} added, "
        f"{data['removal_count']} removed, size {data['size_at_start']} → {data['size_at_end']}, "
        f"turnover {data['turnover_rate']}",
        highlight=False,
        soft_wrap=True,
    )
    if changes:
        print_table(make_table(_CHANGE_COLUMNS, changes))


@app.command()
def export(
    universe: UniverseRef,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file to write [default: stdout]")
    ] = None,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Export a universe's members as CSV."""
    client = ApiClient(api_url, token)
    response = client.send("GET", f"/universes/{client.universe_id(universe)}/export")
    if output is None:
        typer.echo(response.text, nl=False)
        return
    try:
        output.write_bytes(response.content)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")
    rows = max(response.text.count("\n") - 1, 0)
    err().print(f"Wrote {rows} assets to {escape(str(output))}", highlight=False)


@app.command("import", help=f"Add the rows of a CSV file to a universe.\n\n{EXIT_CODES}")
def import_csv(
    universe: UniverseRef,
    file: Annotated[
        Path, typer.Argument(help="CSV file with a 'symbol' column (other columns are kept)")
    ],
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    try:
        content = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    client = ApiClient(api_url, token)
    path = f"/universes/{client.universe_id(universe)}/import"
    operation = client.data("POST", path, files={"file": (file.name, content, "text/csv")})
    # The import runs as a background job: follow its operation until it finishes.
    with err().status("Importing…"):
        while operation["status"] not in _FINISHED:
            time.sleep(_POLL_SECONDS)
            operation = client.data("GET", f"/operations/{operation['id']}")
    if operation["status"] != "succeeded":
        error = operation.get("error") or {}
        fail(f"the import {operation['status']}: {error.get('message') or 'no details'}")
    _report_outcome(operation["result"], row_key="row")
