"""`quantdesk universe ...`: universes over the REST API, authenticated with an API token."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantdesk.kit.config import Settings, get_settings

app = typer.Typer(
    help="Manage universes through the API (needs an API token).", no_args_is_help=True
)

ApiUrl = Annotated[
    str | None,
    typer.Option("--api-url", help="API base URL [default: QUANTDESK_API_URL]", show_default=False),
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="API token [default: QUANTDESK_API_TOKEN]", show_default=False),
]
UniverseRef = Annotated[str, typer.Argument(help="Universe id or exact name")]
Symbols = Annotated[list[str], typer.Argument(help="Symbols, space or comma separated")]

_TIMEOUT = httpx.Timeout(120.0, connect=10.0)
_FINISHED = ("succeeded", "failed", "cancelled")
_POLL_SECONDS = 0.2
_PROBLEMS = ("already_present", "not_present", "unknown_symbol", "invalid_format")


def _out() -> Console:
    return Console()  # made per call, so it writes to whatever stdout is current


def _fail(message: str, *lines: str, code: int = 1) -> NoReturn:
    err = Console(stderr=True)
    err.print(f"[red]Error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    for line in lines:
        err.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        reasons = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()]
        _fail("configuration error", *reasons, code=2)


class ApiClient:
    """A thin synchronous client: unwraps envelopes and turns every failure into a message."""

    def __init__(self, api_url: str | None, token: str | None) -> None:
        settings = _settings() if api_url is None or token is None else None
        secret = settings.api_token.get_secret_value() if settings and settings.api_token else None
        token = token or secret
        if not token:
            _fail(
                "no API token",
                "pass --token or set QUANTDESK_API_TOKEN (create one with create_api_token)",
                code=2,
            )
        self.base_url = (api_url or (settings.api_url if settings else "")).rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "quantdesk-cli"},
            timeout=_TIMEOUT,
        )

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach the API at {self.base_url}: {exc}")
        if response.is_success:
            return response
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            _fail(f"HTTP {response.status_code} from {self.base_url}: {response.text[:200]}")
        error = body.get("error") or {}
        details = [
            f"{d.get('field', '?')}: {d.get('reason', '')}" for d in error.get("details") or []
        ]
        code = f" ({error['code']})" if error.get("code") else ""
        _fail(f"{body.get('message') or f'HTTP {response.status_code}'}{code}", *details)

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.send(method, path, **kwargs).json()["data"]

    def universe_id(self, ref: str) -> str:
        """An id as given, or the id of the one universe with exactly this name."""
        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
        for universe in self.all_universes():
            if universe["name"] == ref:
                return str(universe["id"])
        _fail(f"you have no universe named {ref!r}", "see `quantdesk universe list`")

    def all_universes(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self.data("GET", "/universes", params=params)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def _split(symbols: list[str]) -> list[str]:
    return [s for raw in symbols for s in re.split(r"[,\s]+", raw) if s]


def _print_outcome(result: dict[str, Any], row_key: str | None = None) -> None:
    out = _out()
    counts = result["counts"]
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items() if n)
    out.print(
        f"{summary or 'nothing to do'}; the universe now has {result['asset_count']} assets",
        soft_wrap=True,
    )
    problems = [r for r in result["results"] if r["status"] in _PROBLEMS]
    if not problems:
        return
    table = Table("Row" if row_key else "Input", "Symbol", "Status", "Reason")
    for r in problems:
        first = str(r[row_key]) if row_key else r["input"]
        cells = (first, r["symbol"] or "", r["status"], r.get("reason") or "")
        table.add_row(*(escape(cell) for cell in cells))
    out.print(table)


@app.command("list")
def list_universes(api_url: ApiUrl = None, token: Token = None) -> None:
    """List your universes."""
    universes = ApiClient(api_url, token).all_universes()
    if not universes:
        _out().print(
            "No universes yet: create one with `quantdesk universe create NAME`.", soft_wrap=True
        )
        return
    table = Table("Name", "Assets", "Id", "Created")
    for u in universes:
        table.add_row(escape(u["name"]), str(u["asset_count"]), u["id"], u["created_at"][:19])
    _out().print(table)


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
    """Create a universe, optionally with symbols and/or an index's members."""
    body: dict[str, Any] = {"name": name, "description": description, "from_index": from_index}
    if symbols:
        body["symbols"] = _split(symbols)
    data = ApiClient(api_url, token).data("POST", "/universes", json=body)
    _out().print(
        f"Created universe {escape(repr(data['name']))} ({data['id']}) "
        f"with {data['asset_count']} assets",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def add(
    universe: UniverseRef, symbols: Symbols, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Add assets to a universe."""
    client = ApiClient(api_url, token)
    path = f"/universes/{client.universe_id(universe)}/assets"
    _print_outcome(client.data("POST", path, json={"add": _split(symbols)}))


@app.command()
def remove(
    universe: UniverseRef, symbols: Symbols, api_url: ApiUrl = None, token: Token = None
) -> None:
    """Remove assets from a universe."""
    client = ApiClient(api_url, token)
    path = f"/universes/{client.universe_id(universe)}/assets"
    _print_outcome(client.data("POST", path, json={"remove": _split(symbols)}))


@app.command()
def show(universe: UniverseRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """Show a universe and its assets in order."""
    client = ApiClient(api_url, token)
    data = client.data("GET", f"/universes/{client.universe_id(universe)}")
    out = _out()
    out.print(
        f"[bold]{escape(data['name'])}[/bold] ({data['id']}): {data['asset_count']} assets",
        soft_wrap=True,
    )
    if data["description"]:
        out.print(data["description"], highlight=False, markup=False, soft_wrap=True)
    if not data["assets"]:
        return
    table = Table("#", "Symbol", "Name", "Class", "Exchange", "Sector")
    for a in data["assets"]:
        cells = (a["symbol"], a["name"], a["asset_class"], a["exchange"], a["sector"])
        table.add_row(str(a["position"] + 1), *(escape(cell or "") for cell in cells))
    out.print(table)


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
        _fail(f"cannot write {output}: {exc.strerror}")
    rows = max(response.text.count("\n") - 1, 0)
    Console(stderr=True).print(f"Wrote {rows} assets to {escape(str(output))}", highlight=False)


@app.command("import")
def import_csv(
    universe: UniverseRef,
    file: Annotated[Path, typer.Argument(help="CSV file with a 'symbol' column")],
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Add the rows of a CSV file to a universe (other columns become membership metadata)."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
    client = ApiClient(api_url, token)
    path = f"/universes/{client.universe_id(universe)}/import"
    operation = client.data("POST", path, files={"file": (file.name, content, "text/csv")})
    # The import runs as a background job: follow its operation until it finishes.
    with Console(stderr=True).status("Importing…"):
        while operation["status"] not in _FINISHED:
            time.sleep(_POLL_SECONDS)
            operation = client.data("GET", f"/operations/{operation['id']}")
    if operation["status"] != "succeeded":
        error = operation.get("error") or {}
        _fail(f"the import {operation['status']}: {error.get('message') or 'no details'}")
    _print_outcome(operation["result"], row_key="row")
