"""`quantdesk order buy|sell|list|cancel` and `quantdesk positions`: paper orders over the API."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from rich.markup import escape

from quantdesk.cli.account import _POSITION_COLUMNS, AccountRef, _account_id, _when
from quantdesk.cli.api import ApiClient, ApiUrl, Token
from quantdesk.cli.common import fail, out
from quantdesk.cli.output import (
    Column,
    Output,
    OutputFormat,
    ResultFormat,
    ResultOutput,
    emit,
    emit_json,
)

app = typer.Typer(help="Paper orders through the API (needs an API token).", no_args_is_help=True)

Symbol = Annotated[str, typer.Argument(help="The asset, e.g. AAPL or BTC-USD")]
Qty = Annotated[
    str | None,
    typer.Option("--qty", "-q", help="Quantity (fractional allowed)", show_default=False),
]
Notional = Annotated[
    str | None,
    typer.Option(
        "--notional", "-n", help="USD to spend or raise (market orders)", show_default=False
    ),
]
Limit = Annotated[
    str | None, typer.Option("--limit", help="Limit price: a limit (or stop-limit) order")
]
Stop = Annotated[
    str | None, typer.Option("--stop", help="Stop price: a stop (or stop-limit) order")
]
Tif = Annotated[str, typer.Option("--tif", help="Time in force: day, gtc, ioc or fok")]
ClientId = Annotated[
    str | None,
    typer.Option(
        "--client-id",
        help="Your order id; without it one is made up and printed, so a retry whose answer "
        "was lost can pass it and never place the order twice",
        show_default=False,
    ),
]

_ORDER_COLUMNS = (
    Column("id", "Id", whole=True),
    Column("created_at", "Placed (UTC)", show=_when),
    Column("side", "Side"),
    Column("symbol", "Symbol", whole=True),
    Column("type", "Type"),
    Column("qty", "Qty", justify="right"),
    Column("notional", "Notional", justify="right"),
    Column("limit_price", "Limit", justify="right"),
    Column("stop_price", "Stop", justify="right"),
    Column("status", "Status"),
    Column("filled_avg_price", "Filled at", justify="right"),
    Column("reject_reason", "Reason"),
)


def _place(
    side: str,
    account: str,
    symbol: str,
    order: dict[str, str | None],
    tif: str,
    client_id: str | None,
    output: ResultFormat,
    client: ApiClient,
) -> None:
    if (order["qty"] is None) == (order["notional"] is None):
        fail("give exactly one of --qty and --notional", code=2)
    has_limit, has_stop = order["limit_price"] is not None, order["stop_price"] is not None
    kind = {(False, False): "market", (True, False): "limit", (False, True): "stop"}.get(
        (has_limit, has_stop), "stop_limit"
    )
    client_order_id = client_id or f"cli-{uuid.uuid4().hex}"
    if client_id is None:
        typer.echo(f"client order id: {client_order_id}", err=True)
    body: dict[str, Any] = {
        "symbol": symbol, "side": side, "type": kind, "time_in_force": tif,
        "client_order_id": client_order_id, **{k: v for k, v in order.items() if v is not None},
    }  # fmt: skip
    answer = client.send("POST", f"/accounts/{_account_id(client, account)}/orders", json=body)
    found = answer.json()
    if output is ResultFormat.JSON:
        emit_json(found["data"])
        return
    out().print(escape(found["message"]), highlight=False, soft_wrap=True)
    if found["data"]["status"] == "rejected":
        raise typer.Exit(1)


@app.command()
def buy(
    account: AccountRef,
    symbol: Symbol,
    qty: Qty = None,
    notional: Notional = None,
    limit: Limit = None,
    stop: Stop = None,
    tif: Tif = "day",
    client_id: ClientId = None,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Buy: a market order by default; --limit, --stop (or both) for resting orders."""
    order = {"qty": qty, "notional": notional, "limit_price": limit, "stop_price": stop}
    _place("buy", account, symbol, order, tif, client_id, output, ApiClient(api_url, token))


@app.command()
def sell(
    account: AccountRef,
    symbol: Symbol,
    qty: Qty = None,
    notional: Notional = None,
    limit: Limit = None,
    stop: Stop = None,
    tif: Tif = "day",
    client_id: ClientId = None,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Sell what the account holds: a market order by default; --limit, --stop for resting ones."""
    order = {"qty": qty, "notional": notional, "limit_price": limit, "stop_price": stop}
    _place("sell", account, symbol, order, tif, client_id, output, ApiClient(api_url, token))


@app.command("list")
def list_orders(
    account: AccountRef,
    status: Annotated[str, typer.Option("--status", help="open, closed or all")] = "open",
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this asset")] = None,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """List an account's orders, newest first (open ones by default)."""
    client = ApiClient(api_url, token)
    params = {"status": status, **({"symbol": symbol} if symbol else {})}
    data = client.data("GET", f"/accounts/{_account_id(client, account)}/orders", params=params)
    emit(output, _ORDER_COLUMNS, data["orders"], empty=f"No {status} orders.")


@app.command()
def cancel(
    account: AccountRef,
    order_id: Annotated[str, typer.Argument(help="The order's id")],
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Cancel an open order (what it reserved is released)."""
    client = ApiClient(api_url, token)
    path = f"/accounts/{_account_id(client, account)}/orders/{order_id}"
    found = client.send("DELETE", path).json()
    if output is ResultFormat.JSON:
        emit_json(found["data"])
        return
    out().print(escape(found["message"]), highlight=False, soft_wrap=True)


def positions(
    account: AccountRef,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """An account's open positions, valued at their latest quotes."""
    client = ApiClient(api_url, token)
    data = client.data("GET", f"/accounts/{_account_id(client, account)}")
    emit(output, _POSITION_COLUMNS, data["positions"], empty="No open positions.")
