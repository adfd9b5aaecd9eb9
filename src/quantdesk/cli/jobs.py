"""`quantdesk jobs ...`: background operations over the REST API and the progress WebSocket."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import err, fail, out
from quantdesk.cli.output import (
    Column,
    Output,
    OutputFormat,
    ResultFormat,
    ResultOutput,
    emit,
    emit_json,
)

app = typer.Typer(help="Background jobs (operations) through the API.", no_args_is_help=True)

OperationRef = Annotated[str, typer.Argument(help="The operation id")]
_FINAL_STATUSES = ("succeeded", "failed", "cancelled")
_FINAL_EVENTS = {"succeeded": "completed", "failed": "failed", "cancelled": "cancelled"}
_POLL_SECONDS = 1.0


def _progress_text(progress: dict[str, Any]) -> str:
    total = progress.get("total")
    done = f"{progress['done']}/{total}" if total is not None else str(progress["done"])
    message = progress.get("message")
    return f"{done} {message}" if message else done


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


_COLUMNS = (
    Column("id", "Id", whole=True),
    Column("kind", "Kind", whole=True),
    Column("status", "Status"),
    Column("progress", "Progress", show=_progress_text),
    Column("created_at", "Created", show=_when),
)
_CSV_COLUMNS = (
    Column("id", "Id"),
    Column("kind", "Kind"),
    Column("status", "Status"),
    Column("done", "Done"),
    Column("total", "Total"),
    Column("message", "Message"),
    Column("created_at", "Created"),
)


@app.command("list")
def list_jobs(
    kind: Annotated[str | None, typer.Option(help="Only this job kind")] = None,
    status: Annotated[
        str | None, typer.Option(help="pending|running|succeeded|failed|cancelled")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Your operations, newest first."""
    client = ApiClient(api_url, token)
    params: dict[str, Any] = {"limit": limit}
    if kind:
        params["kind"] = kind
    if status:
        params["status"] = status
    items = client.data("GET", "/operations", params=params)["items"]
    rows = [{**operation, **operation["progress"]} for operation in items]
    emit(output, _COLUMNS, rows, data=items, csv_columns=_CSV_COLUMNS, empty="no operations")


@app.command("show")
def show_job(operation_id: OperationRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """One operation in full (JSON)."""
    emit_json(ApiClient(api_url, token).data("GET", f"/operations/{operation_id}"))


@app.command("cancel")
def cancel_job(operation_id: OperationRef, api_url: ApiUrl = None, token: Token = None) -> None:
    """Cancel an operation: a pending one at once, a running one at its next step."""
    operation = ApiClient(api_url, token).data("POST", f"/operations/{operation_id}/cancel")
    state = "cancelled" if operation["status"] == "cancelled" else "cancellation requested"
    out().print(f"{escape(operation['kind'])} {operation['id']}: {state}", highlight=False)


def _poll(client: ApiClient, operation_id: str) -> Iterator[dict[str, Any]]:
    while True:
        operation = client.data("GET", f"/operations/{operation_id}")
        status = operation["status"]
        yield {"type": _FINAL_EVENTS.get(status, "progress"), "operation": operation}
        if status in _FINAL_STATUSES:
            return
        time.sleep(_POLL_SECONDS)


def _frames(client: ApiClient, operation_id: str) -> Iterator[dict[str, Any]]:
    """Frames from the WebSocket; if it cannot be used or ends early, the same shape by polling."""
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    ws_url = client.base_url.replace("http", "ws", 1) + f"/ws/operations/{operation_id}"
    try:
        with connect(
            ws_url, additional_headers={"Authorization": f"Bearer {client.token}"}, open_timeout=10
        ) as ws:
            for raw in ws:
                frame = json.loads(raw)
                yield frame
                if frame["operation"]["status"] in _FINAL_STATUSES:
                    return
    except InvalidStatus:
        client.data("GET", f"/operations/{operation_id}")  # says why (404, 401) and exits
    except (OSError, WebSocketException):
        pass  # no WebSocket (a proxy in the way), or it dropped: poll instead
    yield from _poll(client, operation_id)


def follow(client: ApiClient, operation_id: str) -> dict[str, Any]:
    """Follow an operation to its end with a live progress bar (on stderr); its final state."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    operation: dict[str, Any] | None = None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err(), transient=True) as bar:
        task = bar.add_task("waiting", total=None, note="")
        for frame in _frames(client, operation_id):
            operation = frame["operation"]
            progress = operation["progress"]
            bar.update(
                task,
                description=escape(f"{operation['kind']} ({operation['status']})"),
                completed=progress["done"],
                total=progress.get("total"),
                note=escape(progress.get("message") or ""),
            )
            if operation["status"] in _FINAL_STATUSES:
                break
    if operation is None:
        fail(f"operation {operation_id} sent no progress")
    return operation


def _seconds(operation: dict[str, Any]) -> float | None:
    start = operation.get("started_at") or operation.get("created_at")
    end = operation.get("finished_at")
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def summary(operation: dict[str, Any]) -> str:
    """One line a person reads at the end: kind, id, status, duration, and counts if any."""
    status = operation["status"]
    line = f"{operation['kind']} {operation['id']} {status}"
    seconds = _seconds(operation)
    if seconds is not None:
        line += f" {'in' if status == 'succeeded' else 'after'} {seconds:.1f} s"
    result = operation.get("result") or {}
    counts = result.get("counts") if isinstance(result, dict) else None
    if status == "succeeded" and isinstance(counts, dict):
        shown = [f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n]
        line += f": {', '.join(shown) or 'nothing counted'}"
    error = operation.get("error")
    if status != "succeeded" and error:
        line += f": {error.get('type')}: {error.get('message')}"
    return line


def print_summary(operation: dict[str, Any]) -> None:
    colour = "green" if operation["status"] == "succeeded" else "red"
    out().print(f"[{colour}]{escape(summary(operation))}[/{colour}]", soft_wrap=True)


@app.command("watch")
def watch_job(
    operation_id: OperationRef,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Follow an operation live with a progress bar, then print a one-line summary.

    With --output json, print the operation's result as JSON instead. Exit code 0 when it
    succeeded, 1 when it failed or was cancelled.
    """
    operation = follow(ApiClient(api_url, token), operation_id)
    succeeded = operation["status"] == "succeeded"
    if output is ResultFormat.TEXT:
        print_summary(operation)
    elif succeeded:
        emit_json(operation.get("result"))
    else:
        err().print(escape(summary(operation)), highlight=False, soft_wrap=True)
    if not succeeded:
        raise typer.Exit(1)
