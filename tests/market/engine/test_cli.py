"""`quantdesk market status` and `quantdesk market data SYMBOL` against a real server (its own
app on the test database, providers ``sim``), as a person and as a script would run them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from quantdesk.cli.market import app as market_cli
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.schemas import Fetched
from quantdesk.market.providers.datasets import Quote
from tests.factories import Account, create_api_token
from tests.jobs.live_server import LiveServer, live_server
from tests.market.engine.test_status import _seed
from tests.market.providers.recordings import closed_port_url


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as running:
        yield running


@pytest.fixture
async def token(db: Database, alice: Account) -> str:
    _, secret = await create_api_token(db, alice.user)
    return secret


def _run(server: LiveServer, token: str, *args: str) -> Result:
    return CliRunner().invoke(
        market_cli,
        [*args, "--api-url", server.http_url, "--token", token],
        env={"COLUMNS": "200"},
    )


async def test_status_as_a_table_and_as_json(
    server: LiveServer, edb: Database, alice: Account, token: str
) -> None:
    await _seed(edb, alice, utcnow())

    shown = _run(server, token, "status", "--minutes", "10")

    assert shown.exit_code == 0, shown.output
    assert "Market-data engine: on" in shown.output
    lines = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if "│" in line}
    assert lines["pending"].split("│")[2].strip() == "3"
    assert lines["provider unrouted"].split("│")[2].strip() == "2"
    assert "oldest due: 1" in shown.output  # about 120 s
    assert "last 10 min: 2 completed (0.2/min), 1 failed (0.1/min)" in shown.output
    assert "quota: no configured provider has a limit" in shown.output  # sim only
    assert "freshness: 2 of 5 watched pair(s) fresh (40 %)" in shown.output

    as_json = _run(server, token, "status", "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert body["engine_enabled"] is True
    assert body["queue"]["by_status"]["failed"] == 1
    assert body["freshness"]["watched_pairs"] == 5


async def test_status_says_what_is_wrong(
    server: LiveServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = _run(server, "qd_not-a-real-token", "status")
    assert refused.exit_code == 1
    assert "quantdesk user token" in refused.output
    unreachable = CliRunner().invoke(
        market_cli, ["status", "--api-url", closed_port_url(), "--token", "x"]
    )
    assert unreachable.exit_code == 1
    assert "cannot reach the API" in unreachable.output
    monkeypatch.delenv("QUANTDESK_API_TOKEN", raising=False)
    no_token = CliRunner().invoke(market_cli, ["status", "--api-url", server.http_url])
    assert no_token.exit_code == 2
    assert "no API token" in no_token.output


async def test_data_shows_stored_values_and_queues_the_stale_ones(
    server: LiveServer, edb: Database, token: str
) -> None:
    now = utcnow()
    quote = Quote(symbol="AAPL", price=Decimal("189.50"), change_percent=Decimal("1.25"),
                  currency="USD", as_of=now, source="yahoo")  # fmt: skip
    async with edb.transaction(system=True) as session:
        fetched = Fetched(symbol="AAPL", data_type="quote", provider="yahoo", value=quote,
                          fetched_at=now)  # fmt: skip
        await store.store_values(session, [fetched], ttls={"quote": 60})

    shown = _run(server, token, "data", "aapl", "--type", "quote", "-t", "profile")

    assert shown.exit_code == 0, shown.output
    rows = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if "│" in line}
    assert "189.50 USD (1.25 %)" in rows["quote"]
    assert "yahoo" in rows["quote"]
    assert rows["quote"].split("│")[5].strip() == "no"  # not stale
    assert rows["profile"].split("│")[5].strip() == "yes"
    assert rows["profile"].split("│")[6].strip() == "queued"
    async with edb.transaction(system=True, readonly=True) as session:
        queued = await session.execute(
            text("SELECT symbol, data_type FROM market_refresh_queue WHERE status = 'pending'")
        )
        assert queued.all() == [("AAPL", "profile")]

    as_json = _run(server, token, "data", "AAPL", "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    (value,) = json.loads(as_json.stdout)["values"]
    assert (value["data_type"], value["source"], value["value"]["price"]) == (
        "quote", "yahoo", "189.50"
    )  # fmt: skip

    bad = _run(server, token, "data", "AAPL", "-t", "quotes")
    assert bad.exit_code == 1
    assert "types[0]" in bad.output


async def test_data_with_the_engine_off_fetches_simulated_values_and_says_so(
    server: LiveServer, restore_registry: Database, token: str
) -> None:
    async with restore_registry.transaction(system=True) as session:
        await session.execute(text("UPDATE market_flags SET enabled = false"))

    shown = _run(server, token, "data", "MSFT", "-t", "quote", "-t", "financial-statements")

    assert shown.exit_code == 0, shown.output
    rows = {line.split("│")[1].strip(): line for line in shown.output.splitlines() if "│" in line}
    for data_type in ("quote", "financial-statements"):
        assert "sim (simulated)" in rows[data_type]
        assert "fetched now" in rows[data_type]
    assert "5 item(s), latest" in rows["financial-statements"]

    as_csv = _run(server, token, "data", "MSFT", "-o", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    [row] = csv.DictReader(io.StringIO(as_csv.stdout))
    assert (row["symbol"], row["data_type"], row["source"], row["stale"]) == (
        "MSFT", "quote", "sim", "false"
    )  # fmt: skip
    assert json.loads(row["value"])["source"] == "sim"
