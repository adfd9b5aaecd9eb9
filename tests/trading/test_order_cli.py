"""`quantdesk order ...` and `quantdesk positions` against a real uvicorn server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from click.testing import Result
from typer.testing import CliRunner

from quantdesk.cli.main import app as main_cli
from quantdesk.kit.db import Database
from tests.factories import Account, create_api_token, ensure_assets
from tests.market.engine.conftest import empty_engine_tables
from tests.trading.test_orders import COIN, _quote

runner = CliRunner()


@pytest.fixture
async def token(db: Database, alice: Account) -> AsyncIterator[str]:
    await empty_engine_tables(db)
    await ensure_assets(db, [(COIN, "Test coin", "crypto", None)])
    _, secret = await create_api_token(db, alice.user, name="cli")
    yield secret
    await empty_engine_tables(db)


def cli(api_url: str, token: str, *args: str) -> Result:
    return runner.invoke(
        main_cli, [*args, "--api-url", api_url, "--token", token], env={"COLUMNS": "200"}
    )


async def test_buy_list_cancel_and_positions(api_url: str, token: str, db: Database) -> None:
    opened = cli(api_url, token, "account", "create", "Trading", "--cash", "1000", "-o", "json")
    assert opened.exit_code == 0, opened.output
    account = json.loads(opened.stdout)["id"]
    await _quote(db, COIN, "10")

    bought = cli(api_url, token, "order", "buy", account, COIN, "--qty", "3")
    assert bought.exit_code == 0, bought.output
    assert f"Filled: buy 3 {COIN} at 10.005" in bought.stdout
    assert "client order id: cli-" in bought.stderr

    resting = cli(
        api_url, token, "order", "buy", account, COIN, "--qty", "1", "--limit", "5",
        "--tif", "gtc", "-o", "json",
    )  # fmt: skip
    assert resting.exit_code == 0, resting.output
    order = json.loads(resting.stdout)
    assert order["status"] == "accepted"

    listed = cli(api_url, token, "order", "list", account, "-o", "json")
    assert [o["id"] for o in json.loads(listed.stdout)] == [order["id"]]

    canceled = cli(api_url, token, "order", "cancel", account, order["id"])
    assert canceled.exit_code == 0, canceled.output
    assert "Canceled" in canceled.stdout

    held = cli(api_url, token, "positions", account, "-o", "json")
    assert held.exit_code == 0, held.output
    (position,) = json.loads(held.stdout)
    assert (position["symbol"], Decimal(position["qty"])) == (COIN, Decimal(3))

    both = cli(api_url, token, "order", "buy", account, COIN, "--qty", "1", "--notional", "5")
    assert both.exit_code == 2
    assert "exactly one of --qty and --notional" in both.output
    too_much = cli(api_url, token, "order", "sell", account, COIN, "--qty", "50")
    assert too_much.exit_code != 0
    assert "insufficient_quantity" in too_much.output
