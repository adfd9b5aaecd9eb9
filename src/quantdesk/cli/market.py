"""`quantdesk market ...`: watch live market data (``/ws/market``), the engine's status, its
stored values, and its data types and flags, through the API (the server's own view: its
providers, its quota ledger, its reads)."""

from __future__ import annotations

import enum
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
    emit,
    emit_csv,
    emit_json,
    make_table,
    print_table,
)

CLOSE_UNAUTHORIZED = 4401

app = typer.Typer(
    help="Market data: watch symbols live, the engine's status, stored values, data types.",
    no_args_is_help=True,
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


# --- The engine's status ----------------------------------------------------------------------


class StatusFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


StatusOutput = Annotated[
    StatusFormat,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="table for people; json (on stdout, nothing else) for scripts",
    ),
]

_COUNT_COLUMNS = (
    Column("name", "", whole=True),
    Column("rows", "Rows", justify="right"),
)


def _window(window: dict[str, Any]) -> str:
    if window.get("limit") is None:
        return f"{window['used']} (no limit)"
    return f"{window['used']}/{window['limit']}, {window['left']} left"


_QUOTA_COLUMNS = (
    Column("provider", "Provider", whole=True),
    Column("minute", "This minute", show=_window),
    Column("day", "Today", show=_window),
    Column("resets_at", "Day resets (UTC)"),
    Column("spent_until", "Refused until"),
)


def _status_text(found: dict[str, Any]) -> None:
    queue, rates, fresh = found["queue"], found["rates"], found["freshness"]
    console = out()
    console.print(
        f"Market-data engine: {'on' if found['engine_enabled'] else 'OFF (reads fetch on demand)'}",
        highlight=False,
    )
    by_status = [{"name": name, "rows": rows} for name, rows in queue["by_status"].items()]
    print_table(make_table(_COUNT_COLUMNS, by_status, title="Refresh queue"))
    active = [
        *(
            {"name": f"provider {name}", "rows": n}
            for name, n in queue["active_by_provider"].items()
        ),
        *({"name": f"type {name}", "rows": n} for name, n in queue["active_by_type"].items()),
    ]
    if active:
        print_table(make_table(_COUNT_COLUMNS, active, title="Pending and processing"))
    oldest = queue.get("oldest_due_seconds")
    console.print(f"oldest due: {'none' if oldest is None else f'{oldest:.1f} s'}", highlight=False)
    ratio = rates.get("error_ratio")
    console.print(
        f"last {rates['window_minutes']} min: {rates['completed']} completed "
        f"({rates['completed_per_minute']}/min), {rates['failed']} failed "
        f"({rates['failed_per_minute']}/min)"
        + ("" if ratio is None else f", error ratio {100 * ratio:.1f} %"),
        highlight=False,
    )
    if found["quota"]:
        rows = [{**q, "resets_at": q["day"]["resets_at"]} for q in found["quota"]]
        print_table(make_table(_QUOTA_COLUMNS, rows, title="Provider quota"))
    else:
        console.print("quota: no configured provider has a limit", highlight=False)
    console.print(
        f"freshness: {fresh['fresh']} of {fresh['watched_pairs']} watched pair(s) fresh "
        f"({fresh['fresh_percent']:g} %)",
        highlight=False,
    )


@app.command("status")
def market_status(
    minutes: Annotated[
        int, typer.Option(min=1, max=1440, help="Window of the completed/failed rates")
    ] = 15,
    output: StatusOutput = StatusFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """The refresh engine at a glance: on or off, the queue (by status, provider and type, the
    oldest due row), refreshes completed and failed per minute, each limited provider's quota,
    and how many watched pairs are fresh."""
    client = ApiClient(api_url, token)
    found = client.data("GET", "/market/status", params={"minutes": minutes})
    if output is StatusFormat.JSON:
        emit_json(found)
    else:
        _status_text(found)


# --- Stored values ------------------------------------------------------------------------------


def _summary(value: Any) -> str:
    """A stored value in a few words: a quote's price, a profile's name, a list's size."""
    if value is None:
        return ""
    if isinstance(value, list):
        dates = [
            str(item.get(key))
            for item in value
            if isinstance(item, dict)
            for key in ("period_end", "ex_date", "date")
            if item.get(key)
        ]
        return f"{len(value)} item(s)" + (f", latest {max(dates)}" if dates else "")
    if isinstance(value, dict):
        if value.get("price") is not None:
            change = value.get("change_percent")
            text = f"{value['price']} {value.get('currency') or ''}".rstrip()
            return text + (f" ({change} %)" if change is not None else "")
        if value.get("name"):
            return " · ".join(str(value[k]) for k in ("name", "sector") if value.get(k))
        shown = [f"{k}={v}" for k, v in value.items() if v is not None and k not in _PLUMBING]
        return ", ".join(shown[:4])
    return str(value)


_PLUMBING = {"symbol", "source"}
_REFRESH = {"fetched": "fetched now", "timed_out": "not in time", "unanswered": "unanswered"}


def _source(source: Any) -> str:
    return "sim (simulated)" if source == "sim" else str(source or "")


def _refresh(item: dict[str, Any]) -> str:
    if item.get("queued"):
        return "queued"
    return _REFRESH.get(str(item.get("on_demand")), "")


_VALUE_COLUMNS = (
    Column("data_type", "Data type", whole=True),
    Column("value", "Value", show=_summary),
    Column("source", "Source", show=_source),
    Column("as_of", "As of"),
    Column("stale", "Stale", show=lambda stale: "yes" if stale else "no"),
    Column("refresh", "Refresh"),
)
_VALUE_CSV_COLUMNS = tuple(
    Column(key, key)
    for key in ("symbol", "data_type", "source", "as_of", "stale", "queued", "on_demand", "value")
)


@app.command("data")
def market_data(
    symbol: Annotated[str, typer.Argument(help="A symbol, e.g. AAPL, BRK.B, BTC-USD")],
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Data type (repeatable); default: quote"),
    ] = None,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """The engine's stored values of a symbol: value, source (sim: simulated), as of, stale. A
    stale value is refreshed as GET market/data does it: queued while the engine and its type
    are on, else fetched from the providers now (within the server's read budget)."""
    from urllib.parse import quote

    client = ApiClient(api_url, token)
    params = {"types": ",".join(types or ["quote"])}
    found = client.data("GET", f"/market/data/{quote(symbol, safe='')}", params=params)
    items = [{**v, "refresh": _refresh(v)} for v in found["values"]]
    emit(
        output,
        _VALUE_COLUMNS,
        items,
        data=found,
        csv_columns=_VALUE_CSV_COLUMNS,
        title=f"{found['symbol']}: stored market data",
    )
