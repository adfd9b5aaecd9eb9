"""`quantdesk jobs ...`: background operations over the REST API and the progress WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect

from quantdesk.cli.universe import ApiClient, ApiUrl, Token

app = typer.Typer(help="Background jobs (operations) through the API.", no_args_is_help=True)

OperationRef = Annotated[str, typer.Argument(help="The operation id")]
_FINAL = ("completed", "failed", "cancelled")
_POLL_SECONDS = 1.0


class JobsClient(ApiClient):
    """The universe CLI's client, which also keeps the token for the WebSocket handshake."""

    def __init__(self, api_url: str | None, token: str | None) -> None:
        super().__init__(api_url, token)
        self.token = self._http.headers["Authorization"].removeprefix("Bearer ")


def _out() -> Console:
    return Console()


def _progress_text(operation: dict[str, Any]) -> str:
    progress = operation["progress"]
    total = progress.get("total")
    done = f"{progress['done']}/{total}" if total is not None else str(progress["done"])
    message = progress.get("message")
    return f"{done} {message}" if message else done


@app.command("list")
def list_jobs(
    kind: Annotated[str | None, typer.Option(help="Only this job kind")] = None,
    status: Annotated[str | None, typer.Option(help="pending|running|succeeded|…")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Your operations, newest first."""
    client = JobsClient(api_url, token)
    params: dict[str, Any] = {"limit": limit}
    if kind:
        params["kind"] = kind
    if status:
        params["status"] = status
    page = client.data("GET", "/operations", params=params)
    table = Table("Kind", "Status", "Progress", "Created")
    table.columns.insert(0, Column("Id", no_wrap=True))  # ids are copied whole
    for operation in page["items"]:
        table.add_row(
            operation["id"],
            escape(operation["kind"]),
            operation["status"],
            escape(_progress_text(operation)),
            operation["created_at"][:19].replace("T", " "),
        )
    _out().print(table)
    if not page["items"]:
        _out().print("no operations")


@app.command("show")
def show_job(operation_id: OperationRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """One operation in full (JSON)."""
    client = JobsClient(api_url, token)
    operation = client.data("GET", f"/operations/{operation_id}")
    _out().print_json(json.dumps(operation))


@app.command("cancel")
def cancel_job(operation_id: OperationRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """Cancel an operation: a pending one at once, a running one at its next step."""
    client = JobsClient(api_url, token)
    operation = client.data("POST", f"/operations/{operation_id}/cancel")
    state = "cancelled" if operation["status"] == "cancelled" else "cancellation requested"
    _out().print(f"{operation['kind']} {operation['id']}: {state}")


def _frames(client: JobsClient, operation_id: str, token: str) -> Iterator[dict[str, Any]]:
    """Frames from the WebSocket; if it cannot be used, the same shape by polling the API."""
    ws_url = client.base_url.replace("http", "ws", 1) + f"/ws/operations/{operation_id}"
    try:
        with connect(
            ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
        ) as ws:
            for raw in ws:
                yield json.loads(raw)
            return
    except InvalidStatus:
        client.data("GET", f"/operations/{operation_id}")  # says why (404, 401) and exits
    except (OSError, WebSocketException):
        pass  # no WebSocket (a proxy in the way): poll instead
    while True:
        operation = client.data("GET", f"/operations/{operation_id}")
        status = operation["status"]
        final = {"succeeded": "completed", "failed": "failed", "cancelled": "cancelled"}
        yield {"type": final.get(status, "progress"), "operation": operation}
        if status in final:
            return
        time.sleep(_POLL_SECONDS)


@app.command("watch")
def watch_job(operation_id: OperationRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """Follow an operation live with a progress bar; exit 1 if it fails or is cancelled."""
    client = JobsClient(api_url, token)
    secret = client.token
    last: dict[str, Any] | None = None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_out(), transient=False) as bar:
        task = bar.add_task("waiting", total=None, note="")
        for frame in _frames(client, operation_id, secret):
            operation = frame["operation"]
            progress = operation["progress"]
            bar.update(
                task,
                description=f"{operation['kind']} ({operation['status']})",
                completed=progress["done"],
                total=progress.get("total"),
                note=escape(progress.get("message") or ""),
            )
            last = frame
            if frame["type"] in _FINAL:
                break
    if last is None:
        raise typer.Exit(1)
    operation = last["operation"]
    if operation["status"] == "succeeded":
        _out().print(f"[green]succeeded[/green] {escape(json.dumps(operation.get('result')))}")
        return
    error = operation.get("error") or {}
    reason = f": {error.get('type')}: {error.get('message')}" if error else ""
    _out().print(f"[red]{operation['status']}[/red]{escape(reason)}")
    raise typer.Exit(1)
