"""`quantdesk market ...`: watch live market data (``/ws/market``) and the engine's data types
and flags, through the API."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import err, fail, out
from quantdesk.cli.output import (
    Column,
    Output,
    OutputFormat,
    ResultFormat,
    ResultOutput,
    emit_csv,
    emit_json,
    make_table,
    print_table,
)

CLOSE_UNAUTHORIZED = 4401

app = typer.Typer(
    help="Live market data: watch symbols as fresh values arrive.", no_args_is_help=True
)


def _line(frame: dict[str, Any]) -> str:
    value = frame.get("value")
    shown = value.get("price", value) if isinstance(value, dict) else value
    source = frame.get("source")
    label = " (simulated)" if source == "sim" else f" ({source})" if source else ""
    return f"{frame.get('as_of', '')}  {frame['symbol']}  {frame['data_type']}  {shown}{label}"


@app.command("watch")
def watch_market(
    symbols: Annotated[list[str], typer.Argument(help="Symbols to watch, e.g. AAPL BTC-USD")],
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Data type to watch (repeatable); default: quote"),
    ] = None,
    count: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many values (default: until ^C)")
    ] = None,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Print each fresh value of the symbols as it arrives (a line each; --output json: one JSON
    object per line). Watching also tells the engine to keep these symbols fresh."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    client = ApiClient(api_url, token)
    ws_url = client.base_url.replace("http", "ws", 1) + "/ws/market"
    request = {"action": "subscribe", "symbols": symbols, "types": types or ["quote"]}
    seen = 0
    try:
        with connect(
            ws_url, additional_headers={"Authorization": f"Bearer {client.token}"}, open_timeout=10
        ) as ws:
            ws.send(json.dumps(request))
            for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "error":
                    fail(f"{frame.get('field')}: {frame.get('message')}", code=2)
                if frame.get("type") == "subscribed":
                    pairs = ", ".join(f"{p['symbol']} {p['data_type']}" for p in frame["pairs"])
                    err().print(f"watching {pairs} (^C to stop)", highlight=False, soft_wrap=True)
                    continue
                if frame.get("type") != "data":
                    continue
                if output is ResultFormat.JSON:
                    typer.echo(json.dumps(frame, separators=(",", ":")))
                else:
                    out().print(_line(frame), highlight=False, soft_wrap=True)
                seen += 1
                if count is not None and seen >= count:
                    return
    except ConnectionClosed as exc:
        if exc.rcvd is not None and exc.rcvd.code == CLOSE_UNAUTHORIZED:
            fail("the API refused the token", "make one with: quantdesk user token EMAIL")
        fail(f"the API closed the connection: {exc}")
    except InvalidStatus as exc:
        fail(f"the API refused the WebSocket: HTTP {exc.response.status_code}")
    except (OSError, WebSocketException) as exc:
        fail(f"cannot reach the API at {client.base_url}: {exc or type(exc).__name__}")
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


_TYPE_COLUMNS = (
    Column("name", "Data type", whole=True),
    Column("enabled", "On"),
    Column("ttl_seconds", "TTL (s)", justify="right"),
    Column("kind", "Kind"),
    Column("schedule_seconds", "Every (s)", justify="right"),
    Column("default_priority", "Priority", justify="right"),
    Column("providers", "Providers"),
)


@app.command("flags")
def market_flags(
    data_type: Annotated[str | None, typer.Argument(help="A data type to change")] = None,
    on: Annotated[
        bool | None, typer.Option("--on/--off", help="Switch the data type on or off")
    ] = None,
    ttl: Annotated[int | None, typer.Option("--ttl", min=1, help="Its TTL in seconds")] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="Switch the whole engine: on or off")
    ] = None,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Show the engine's data types and flags; admins change them (every change is audited):
    `market flags quote --ttl 30`, `market flags grades-historical --off`, `--engine off`."""
    client = ApiClient(api_url, token)
    if engine is not None:
        if engine not in ("on", "off"):
            fail("--engine is on or off", code=2)
        client.data("PUT", "/market/engine", json={"enabled": engine == "on"})
    if data_type is not None:
        changes = {k: v for k, v in (("enabled", on), ("ttl_seconds", ttl)) if v is not None}
        if not changes:
            fail(f"say what to change of {data_type}: --on/--off or --ttl N", code=2)
        client.data("PATCH", f"/market/data-types/{data_type}", json=changes)
    found = client.data("GET", "/market/data-types")
    items = [
        {**t, "providers": " ".join(t["providers"]), "enabled": "on" if t["enabled"] else "off"}
        for t in found["data_types"]
    ]
    if output is OutputFormat.JSON:
        emit_json(found)
    elif output is OutputFormat.CSV:
        emit_csv(_TYPE_COLUMNS, items)
    else:
        title = f"Market-data engine: {'on' if found['engine'] else 'OFF'}"
        print_table(make_table(_TYPE_COLUMNS, items, title=title))
