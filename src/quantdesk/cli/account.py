"""`quantdesk account ...`: paper accounts over the REST API, authenticated with an API token."""

from __future__ import annotations

import uuid
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
    make_table,
    print_table,
)

app = typer.Typer(
    help="Paper-trading accounts through the API (needs an API token).", no_args_is_help=True
)

AccountRef = Annotated[str, typer.Argument(help="Account id, or the exact name of one account")]
Amount = Annotated[str, typer.Argument(help="USD, e.g. 250 or 99.95 (at most 2 decimals)")]
Key = Annotated[
    str | None,
    typer.Option(
        "--key",
        "-k",
        help="Idempotency key; without it one is made up and printed on stderr, so that a retry "
        "of a call whose answer was lost can pass it and never move money twice",
        show_default=False,
    ),
]
Memo = Annotated[str | None, typer.Option("--memo", help="A note kept in the journal")]
_PAGE = 500  # the API's largest activities page


def _when(value: str | None) -> str:
    return value[:19].replace("T", " ") if value else ""


def _accounts(client: ApiClient) -> list[dict[str, Any]]:
    return client.all_items("/accounts", limit=200)


def _account_id(client: ApiClient, ref: str) -> str:
    """An id as given, or the id of the one account with exactly this name."""
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        pass
    found = [a for a in _accounts(client) if a["name"] == ref]
    if not found:
        fail(f"you have no account named {ref!r}", "see: quantdesk account list")
    if len(found) > 1:
        fail(f"{len(found)} accounts are named {ref!r}; use the id", "see: quantdesk account list")
    return str(found[0]["id"])


_ACCOUNT_COLUMNS = (
    Column("id", "Id", whole=True),
    Column("name", "Name"),
    Column("cash", "Cash", justify="right"),
    Column("reserved", "Reserved", justify="right"),
    Column("buying_power", "Buying power", justify="right"),
    Column("created_at", "Opened (UTC)", show=_when),
)


@app.command("list")
def list_accounts(
    output: Output = OutputFormat.TABLE, api_url: ApiUrl = None, token: Token = None
) -> None:
    """List your paper accounts and their cash."""
    accounts = _accounts(ApiClient(api_url, token))
    empty = "No accounts yet: open one with `quantdesk account create NAME --cash 10000`."
    emit(output, _ACCOUNT_COLUMNS, accounts, empty=empty)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Name of the new account")],
    cash: Annotated[
        str | None, typer.Option("--cash", help="Starting cash in USD, recorded as a deposit")
    ] = None,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Open a paper account in USD, optionally with starting cash."""
    body: dict[str, Any] = {"name": name}
    if cash is not None:
        body["starting_cash"] = cash
    data = ApiClient(api_url, token).data("POST", "/accounts", json=body)
    if output is ResultFormat.JSON:
        emit_json(data)
        return
    out().print(
        f"Opened account {escape(repr(data['name']))} ({data['id']}) with {data['cash']} USD",
        highlight=False,
        soft_wrap=True,
    )


_POSITION_COLUMNS = (
    Column("symbol", "Symbol", whole=True),
    Column("qty", "Qty", justify="right"),
    Column("avg_entry_price", "Avg cost", justify="right"),
    Column("price", "Price", justify="right"),
    Column("price_source", "Priced at"),
    Column("market_value", "Value", justify="right"),
    Column("unrealized_pnl", "Unrealized", justify="right"),
    Column("realized_pnl", "Realized", justify="right"),
    Column("reserved_qty", "Reserved", justify="right"),
)


@app.command()
def show(
    account: AccountRef,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Show an account's balances, equity and open positions (csv: the positions)."""
    client = ApiClient(api_url, token)
    data = client.data("GET", f"/accounts/{_account_id(client, account)}")
    if output is not OutputFormat.TABLE:
        emit(output, _POSITION_COLUMNS, data["positions"], data=data)
        return
    console = out()
    console.print(f"[bold]{escape(data['name'])}[/bold] ({data['id']})", soft_wrap=True)
    console.print(
        f"cash {data['cash']} {data['currency']}, reserved {data['reserved']}, "
        f"buying power {data['buying_power']}; long market value {data['long_market_value']}, "
        f"equity {data['equity']}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if data["positions"]:
        print_table(make_table(_POSITION_COLUMNS, data["positions"]))


def _move(
    kind: str,
    account: str,
    amount: str,
    key: str | None,
    memo: str | None,
    output: ResultFormat,
    api_url: str | None,
    token: str | None,
) -> None:
    client = ApiClient(api_url, token)
    account_id = _account_id(client, account)
    if key is None:
        key = uuid.uuid4().hex
        # On stderr, before the call: if its answer is lost, the key is already on screen.
        err().print(f"idempotency key: {key} (retry with --key {key})", highlight=False)
    body = {"amount": amount, "idempotency_key": key, "memo": memo}
    data = client.data("POST", f"/accounts/{account_id}/{kind}", json=body)
    if output is ResultFormat.JSON:
        emit_json(data)
        return
    verb = "Deposited" if kind == "deposits" else "Withdrew"
    money = data["net_amount"].lstrip("-")
    if data["replayed"]:
        out().print(
            f"Already done at {_when(data['created_at'])} UTC under key {key}: {verb.lower()} "
            f"{money} USD (transaction {data['id']}); nothing moved again",
            highlight=False,
            soft_wrap=True,
        )
        return
    out().print(f"{verb} {money} USD (transaction {data['id']})", highlight=False, soft_wrap=True)


@app.command()
def deposit(
    account: AccountRef,
    amount: Amount,
    key: Key = None,
    memo: Memo = None,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Put cash into an account (once per idempotency key)."""
    _move("deposits", account, amount, key, memo, output, api_url, token)


@app.command()
def withdraw(
    account: AccountRef,
    amount: Amount,
    key: Key = None,
    memo: Memo = None,
    output: ResultOutput = ResultFormat.TEXT,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Take cash out of an account, at most its buying power (once per idempotency key)."""
    _move("withdrawals", account, amount, key, memo, output, api_url, token)


_CHECK_COLUMNS = (
    Column("symbol", "Symbol", whole=True),
    Column("ledger_qty", "Journal", justify="right"),
    Column("stored_qty", "Stored", justify="right"),
    Column("difference", "Difference", justify="right"),
)


@app.command()
def reconcile(
    account: AccountRef,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """Rebuild cash and positions from the journal and compare (exit 1 if anything differs)."""
    client = ApiClient(api_url, token)
    data = client.data("GET", f"/accounts/{_account_id(client, account)}/reconcile")
    if output is not OutputFormat.TABLE:
        emit(output, _CHECK_COLUMNS, data["positions"], data=data)
    else:
        console = out()
        verdict = "balanced" if data["balanced"] else "NOT BALANCED"
        console.print(
            f"{verdict}: cash {data['cash_balance']} stored, {data['cash_ledger']} in the journal "
            f"(difference {data['cash_difference']}); {len(data['positions'])} position(s)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        if data["positions"]:
            print_table(make_table(_CHECK_COLUMNS, data["positions"]))
        for transaction_id in data["unbalanced_transactions"]:
            console.print(f"unbalanced transaction {transaction_id}", highlight=False)
    if not data["balanced"]:
        raise typer.Exit(1)


_ACTIVITY_COLUMNS = (
    Column("created_at", "When (UTC)", show=_when),
    Column("activity_type", "Type"),
    Column("net_amount", "Cash", justify="right"),
    Column("symbol", "Symbol", whole=True),
    Column("qty", "Qty", justify="right"),
    Column("price", "Price", justify="right"),
    Column("memo", "Memo"),
    Column("id", "Id", whole=True),
)


@app.command()
def activities(
    account: AccountRef,
    types: Annotated[
        str | None, typer.Option("--types", help="e.g. CSD,CSW (also FILL, FEE, DIV, CORR)")
    ] = None,
    after: Annotated[str | None, typer.Option(help="ISO 8601: only after this time")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601: only before this time")] = None,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Oldest first [default: newest first]")
    ] = False,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many [default: all]")
    ] = None,
    output: Output = OutputFormat.TABLE,
    api_url: ApiUrl = None,
    token: Token = None,
) -> None:
    """List an account's activities: deposits, withdrawals, fills, fees, dividends, corrections."""
    client = ApiClient(api_url, token)
    path = f"/accounts/{_account_id(client, account)}/activities"
    params: dict[str, Any] = {"direction": "asc" if oldest_first else "desc"}
    params.update({k: v for k, v in (("types", types), ("after", after), ("until", until)) if v})
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while limit is None or len(items) < limit:
        page_size = _PAGE if limit is None else min(_PAGE, limit - len(items))
        page = client.data(
            "GET",
            path,
            params={**params, "limit": page_size, **({"cursor": cursor} if cursor else {})},
        )
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    emit(output, _ACTIVITY_COLUMNS, items, empty="No activities.")
