"""`quantdesk account ...` against a real uvicorn server on a free local port."""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal

from click.testing import Result
from typer.testing import CliRunner

from quantdesk.cli.account import app as account_cli
from quantdesk.kit.db import Database
from tests.factories import Account
from tests.trading.helpers import assert_invariants, ledger

runner = CliRunner()


def cli(api_url: str, token: str, *args: str) -> Result:
    # A wide terminal, so that a row is not wrapped across lines.
    return runner.invoke(
        account_cli, [*args, "--api-url", api_url, "--token", token], env={"COLUMNS": "200"}
    )


def _id_of(output: str) -> str:
    match = re.search(r"\(([0-9a-f-]{36})\)", output)
    assert match, output
    return match.group(1)


async def test_create_list_and_show(api_url: str, token: str, db: Database, alice: Account) -> None:
    empty = cli(api_url, token, "list")
    assert empty.exit_code == 0, empty.output
    assert "No accounts yet" in empty.output

    created = cli(api_url, token, "create", "Growth", "--cash", "2500.50")
    assert created.exit_code == 0, created.output
    assert "Opened account 'Growth'" in created.output
    assert "2500.5 USD" in created.output
    account_id = _id_of(created.output)
    assert (await assert_invariants(db, alice, account_id)).account.cash == Decimal("2500.50")

    listed = cli(api_url, token, "list")
    assert listed.exit_code == 0, listed.output
    assert "Growth" in listed.output
    assert account_id in listed.output
    as_csv = cli(api_url, token, "list", "-o", "csv")
    [row] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert (row["id"], row["cash"], row["buying_power"]) == (account_id, "2500.5", "2500.5")
    as_json = json.loads(cli(api_url, token, "list", "-o", "json").stdout)
    assert [a["name"] for a in as_json] == ["Growth"]

    shown = cli(api_url, token, "show", "Growth")
    assert shown.exit_code == 0, shown.output
    assert "cash 2500.5 USD" in shown.output
    assert "equity 2500.5" in shown.output
    detail = json.loads(cli(api_url, token, "show", account_id, "-o", "json").stdout)
    assert (detail["id"], detail["positions"]) == (account_id, [])


async def test_deposit_with_a_key_is_done_once(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    account_id = _id_of(cli(api_url, token, "create", "Main").output)
    first = cli(api_url, token, "deposit", "Main", "100.25", "--key", "pay-1", "--memo", "salary")
    assert first.exit_code == 0, first.output
    assert "Deposited 100.25 USD" in first.stdout
    assert "idempotency key" not in first.stderr
    again = cli(api_url, token, "deposit", account_id, "100.25", "--key", "pay-1")
    assert again.exit_code == 0, again.output
    assert "Already done" in again.stdout
    assert "nothing moved again" in again.stdout
    other = cli(api_url, token, "deposit", account_id, "99", "--key", "pay-1")
    assert other.exit_code == 1
    assert "pay-1" in other.stderr
    assert "idempotency_key_reused" in other.stderr
    stored = await assert_invariants(db, alice, account_id)
    assert (stored.account.cash, len(stored.transactions)) == (Decimal("100.25"), 1)
    assert stored.transactions[0].memo == "salary"


async def test_without_a_key_one_is_printed_so_a_retry_can_reuse_it(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    account_id = _id_of(cli(api_url, token, "create", "Main", "--cash", "50").output)
    done = cli(api_url, token, "withdraw", account_id, "20", "-o", "json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)  # stdout is the JSON alone; the key went to stderr
    match = re.search(r"idempotency key: (\w+) \(retry with --key \1\)", done.stderr)
    assert match, done.stderr
    assert data["idempotency_key"] == match.group(1)
    assert (data["net_amount"], data["replayed"]) == ("-20", False)
    retry = cli(api_url, token, "withdraw", account_id, "20", "--key", match.group(1), "-o", "json")
    assert json.loads(retry.stdout)["replayed"] is True
    assert (await assert_invariants(db, alice, account_id)).account.cash == Decimal("30")


async def test_a_withdrawal_beyond_buying_power_fails_with_the_reason(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    account_id = _id_of(cli(api_url, token, "create", "Main", "--cash", "10").output)
    refused = cli(api_url, token, "withdraw", account_id, "10.01", "--key", "w")
    assert refused.exit_code == 1
    assert "amount: insufficient_funds" in refused.stderr
    bad = cli(api_url, token, "deposit", account_id, "1.001")
    assert bad.exit_code == 1
    assert "amount:" in bad.stderr
    assert (await ledger(db, alice, account_id)).account.cash == Decimal("10")


async def test_reconcile_and_activities(api_url: str, token: str, alice: Account) -> None:
    account_id = _id_of(cli(api_url, token, "create", "Main", "--cash", "100").output)
    for n in range(3):
        cli(api_url, token, "deposit", account_id, str(n + 1))
    cli(api_url, token, "withdraw", account_id, "4")

    balanced = cli(api_url, token, "reconcile", account_id)
    assert balanced.exit_code == 0, balanced.output
    assert "balanced: cash 102 stored, 102 in the journal (difference 0)" in balanced.stdout
    report = json.loads(cli(api_url, token, "reconcile", account_id, "-o", "json").stdout)
    assert report["balanced"] is True

    table = cli(api_url, token, "activities", account_id)
    assert table.exit_code == 0, table.output
    assert table.stdout.index("CSW") < table.stdout.index("CSD")  # newest first
    rows = list(
        csv.DictReader(
            io.StringIO(cli(api_url, token, "activities", account_id, "-o", "csv").stdout)
        )
    )
    assert [r["net_amount"] for r in rows] == ["-4", "3", "2", "1", "100"]
    oldest = cli(
        api_url, token, "activities", account_id, "--oldest-first", "--limit", "2", "-o", "json"
    )
    assert [a["net_amount"] for a in json.loads(oldest.stdout)] == ["100", "1"]
    withdrawals = cli(api_url, token, "activities", account_id, "--types", "CSW", "-o", "json")
    assert [a["activity_type"] for a in json.loads(withdrawals.stdout)] == ["CSW"]
    unknown = cli(api_url, token, "activities", account_id, "--types", "NOPE")
    assert unknown.exit_code == 1
    assert "types:" in unknown.stderr


async def test_an_account_is_named_by_id_or_by_a_unique_name(api_url: str, token: str) -> None:
    cli(api_url, token, "create", "Twin")
    cli(api_url, token, "create", "Twin")
    twins = cli(api_url, token, "show", "Twin")
    assert twins.exit_code == 1
    assert "2 accounts are named 'Twin'; use the id" in twins.stderr
    missing = cli(api_url, token, "show", "Nobody")
    assert missing.exit_code == 1
    assert "no account named 'Nobody'" in missing.stderr
    gone = cli(api_url, token, "show", "00000000-0000-4000-8000-000000000000")
    assert gone.exit_code == 1
    assert "account_not_found" in gone.stderr
