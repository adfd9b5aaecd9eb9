"""`quantdesk universe ...` against a real uvicorn server on a free local port."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from quantdesk.cli.universe import app as universe_cli
from quantdesk.kit.config import get_settings
from quantdesk.kit.db import Database
from tests.cli.support import cli_env, quantdesk
from tests.factories import Account, ensure_assets
from tests.universes.helpers import ensure_bulk_assets, snapshot

runner = CliRunner()


def cli(api_url: str, token: str, *args: str) -> Result:
    # A wide terminal, so that a name is not wrapped across table lines.
    return runner.invoke(
        universe_cli, [*args, "--api-url", api_url, "--token", token], env={"COLUMNS": "200"}
    )


async def _members(db: Database, account: Account) -> dict[str, list[str]]:
    state = await snapshot(db, account.user.id)
    names = {uid: name for uid, name, _ in state.universes}
    found: dict[str, list[str]] = {name: [] for name in names.values()}
    for uid, symbol, _, _ in state.members:
        found[names[uid]].append(symbol)
    return found


async def test_create_list_and_show(api_url: str, token: str, db: Database, alice: Account) -> None:
    await ensure_assets(db)
    empty = cli(api_url, token, "list")
    assert empty.exit_code == 0, empty.output
    assert "No universes yet" in empty.output

    created = cli(api_url, token, "create", "Tech", "AAPL,msft", "NVDA", "-d", "Big ones")
    assert created.exit_code == 0, created.output
    assert "Created universe 'Tech'" in created.output
    assert "with 3 assets" in created.output
    assert await _members(db, alice) == {"Tech": ["AAPL", "MSFT", "NVDA"]}

    listed = cli(api_url, token, "list")
    assert listed.exit_code == 0, listed.output
    assert "Tech" in listed.output
    assert "3" in listed.output

    shown = cli(api_url, token, "show", "Tech")
    assert shown.exit_code == 0, shown.output
    assert "Big ones" in shown.output
    body = shown.output
    assert body.index("AAPL") < body.index("MSFT") < body.index("NVDA")


async def test_show_prints_every_member_of_a_universe_longer_than_a_page(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 1005)  # the CLI reads pages of 1,000
    created = cli(api_url, token, "create", "Long", ",".join(symbols))
    assert created.exit_code == 0, created.output

    as_json = cli(api_url, token, "show", "Long", "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["asset_count"] == 1005
    assert data["by_validation_status"]["valid"] == 1005
    assert [a["symbol"] for a in data["assets"]] == symbols
    assert [a["position"] for a in data["assets"]] == list(range(1005))

    as_csv = cli(api_url, token, "show", "Long", "-o", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    assert [row["symbol"] for row in csv.DictReader(io.StringIO(as_csv.stdout))] == symbols

    table = cli(api_url, token, "show", "Long")
    assert table.exit_code == 0, table.output
    assert "1005 assets" in table.output
    assert "1005 valid; 1005 equity" in table.output
    assert table.output.index(symbols[0]) < table.output.index(symbols[999])
    assert table.output.index(symbols[999]) < table.output.index(symbols[-1])


async def test_add_and_remove_by_name_report_each_problem(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    assert cli(api_url, token, "create", "Mixed", "AAPL").exit_code == 0

    added = cli(api_url, token, "add", "Mixed", "MSFT", "AAPL", "ZZZZZZ", "A$B")
    assert added.exit_code == 1, added.output  # applied, but two inputs were not symbols
    assert "1 added" in added.output
    assert "now has 2 assets" in added.output
    for problem in ("already_present", "unknown_symbol", "invalid_format", "ZZZZZZ"):
        assert problem in added.output
    assert await _members(db, alice) == {"Mixed": ["AAPL", "MSFT"]}

    removed = cli(api_url, token, "remove", "Mixed", "AAPL", "JPM")
    assert removed.exit_code == 0, removed.output  # JPM is not present: nothing to do, no error
    assert "1 removed" in removed.output
    assert await _members(db, alice) == {"Mixed": ["MSFT"]}


async def test_export_to_a_file_and_import_it_into_another_universe(
    api_url: str, token: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    await ensure_assets(db)
    assert cli(api_url, token, "create", "Source", "JPM", "BTC", "VOD.L").exit_code == 0
    target = tmp_path / "source.csv"
    exported = cli(api_url, token, "export", "Source", "-o", str(target))
    assert exported.exit_code == 0, exported.output
    lines = target.read_text().splitlines()
    assert lines[0] == "symbol,name,asset_class,exchange,sector"
    assert [line.split(",")[0] for line in lines[1:]] == ["JPM", "BTC", "VOD.L"]

    to_stdout = cli(api_url, token, "export", "Source")
    assert to_stdout.exit_code == 0
    assert to_stdout.output.splitlines()[1].startswith("JPM,")

    target.write_text(target.read_text() + "NOPE99\n")
    assert cli(api_url, token, "create", "Copy").exit_code == 0
    imported = cli(api_url, token, "import", "Copy", str(target))
    assert imported.exit_code == 1, imported.output  # NOPE99 is unknown
    assert "3 added" in imported.output
    assert "unknown_symbol" in imported.output
    members = await _members(db, alice)
    assert members["Copy"] == members["Source"] == ["JPM", "BTC", "VOD.L"]


async def test_errors_are_clear_and_exit_non_zero(
    api_url: str, token: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    bad_token = cli(api_url, "qd_not-a-real-token", "list")
    assert bad_token.exit_code == 1
    assert "Invalid or expired credentials" in bad_token.output

    unknown = cli(api_url, token, "show", "No such universe")
    assert unknown.exit_code == 1
    assert "no universe named 'No such universe'" in unknown.output

    invalid = cli(api_url, token, "create", "x" * 201)
    assert invalid.exit_code == 1
    assert "validation_error" in invalid.output
    assert "name:" in invalid.output

    assert cli(api_url, token, "create", "Dup").exit_code == 0
    duplicate = cli(api_url, token, "create", "Dup")
    assert duplicate.exit_code == 1
    assert "universe_name_taken" in duplicate.output

    bad_file = tmp_path / "bad.csv"
    bad_file.write_text("symbol,weight\nAAPL,1\n")
    rejected = cli(api_url, token, "import", "Dup", str(bad_file))
    assert rejected.exit_code == 1
    assert "file:" in rejected.output

    missing_file = cli(api_url, token, "import", "Dup", str(tmp_path / "absent.csv"))
    assert missing_file.exit_code == 1
    assert "cannot read" in missing_file.output

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    unreachable = cli(dead_url, token, "list")
    assert unreachable.exit_code == 1
    assert "cannot reach the API" in unreachable.output
    assert await _members(db, alice) == {"Dup": []}


def test_a_missing_token_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QUANTDESK_API_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env with a token either
    get_settings.cache_clear()
    try:
        result = runner.invoke(universe_cli, ["list", "--api-url", "http://127.0.0.1:9"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "no API token" in result.output
    assert "QUANTDESK_API_TOKEN" in result.output
    assert "quantdesk user token EMAIL" in result.output


async def test_names_that_look_like_markup_are_printed_verbatim(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    name = "[bold]Weird[/] [/red] name"
    created = cli(api_url, token, "create", name, "AAPL")
    assert created.exit_code == 0, created.output
    listed = cli(api_url, token, "list")
    assert listed.exit_code == 0, listed.output
    assert "[bold]Weird[/]" in listed.output
    shown = cli(api_url, token, "show", name)
    assert shown.exit_code == 0, shown.output
    assert name in shown.output


# The real command in a subprocess: exit codes, what lands on stdout, and output formats.


def sh(
    api_url: str, token: str, cwd: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    settings = {"QUANTDESK_API_URL": api_url, "QUANTDESK_API_TOKEN": token, **env}
    return quantdesk(*args, env=cli_env(**settings), cwd=cwd, stdin=stdin)


async def test_lists_print_whole_ids_in_every_format(
    api_url: str, token: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    await ensure_assets(db)
    created = sh(
        api_url, token, tmp_path, "universe", "create", "A universe with a long name", "AAPL"
    )
    assert created.returncode == 0, created.stderr
    [universe_id] = re.findall(r"\(([0-9a-f-]{36})\)", created.stdout)

    narrow = sh(api_url, token, tmp_path, "universe", "list", COLUMNS="40")
    assert narrow.returncode == 0, narrow.stderr
    assert universe_id in narrow.stdout  # whole, on one line, even in a narrow terminal

    as_json = sh(api_url, token, tmp_path, "universe", "list", "--output", "json")
    assert [u["id"] for u in json.loads(as_json.stdout)] == [universe_id]
    as_csv = sh(api_url, token, tmp_path, "universe", "list", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["id"], r["name"], r["asset_count"]) for r in rows] == [
        (universe_id, "A universe with a long name", "1")
    ]

    members = sh(api_url, token, tmp_path, "universe", "show", universe_id, "-o", "csv")
    assert members.stdout.splitlines()[0] == (
        "position,symbol,name,asset_class,exchange,sector,validation_status"
    )
    [member] = csv.DictReader(io.StringIO(members.stdout))
    assert (member["position"], member["symbol"], member["name"]) == ("0", "AAPL", "Apple Inc.")


async def test_add_exits_1_when_a_symbol_is_unknown_and_0_when_all_are_known(
    api_url: str, token: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    await ensure_assets(db)
    assert sh(api_url, token, tmp_path, "universe", "create", "Codes").returncode == 0

    known = sh(api_url, token, tmp_path, "universe", "add", "Codes", "AAPL,MSFT")
    assert known.returncode == 0, known.stderr
    assert known.stdout.startswith("2 added; the universe now has 2 assets")

    unknown = sh(api_url, token, tmp_path, "universe", "add", "Codes", "NVDA", "QQQQZZ")
    assert unknown.returncode == 1
    assert "1 added, 1 unknown symbol" in unknown.stdout
    assert "QQQQZZ" in unknown.stdout
    assert await _members(db, alice) == {"Codes": ["AAPL", "MSFT", "NVDA"]}


async def test_delete_asks_first_unless_yes(
    api_url: str, token: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    for name in ("Keep", "Drop", "Gone"):
        assert sh(api_url, token, tmp_path, "universe", "create", name).returncode == 0

    no_answer = sh(api_url, token, tmp_path, "universe", "delete", "Keep")
    assert no_answer.returncode == 2
    assert "pass --yes" in no_answer.stderr
    refused = sh(api_url, token, tmp_path, "universe", "delete", "Keep", stdin="n\n")
    assert refused.returncode == 1
    assert "Delete universe 'Keep'" in refused.stderr
    assert refused.stdout == ""

    confirmed = sh(api_url, token, tmp_path, "universe", "delete", "Drop", stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.startswith("Deleted universe 'Drop'")
    unasked = sh(api_url, token, tmp_path, "universe", "delete", "Gone", "--yes")
    assert unasked.returncode == 0, unasked.stderr
    assert await _members(db, alice) == {"Keep": []}


async def test_reorder_and_turnover(
    api_url: str, token: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    await ensure_assets(db)
    assert (
        sh(api_url, token, tmp_path, "universe", "create", "Order", "AAPL,MSFT,NVDA").returncode
        == 0
    )

    reordered = sh(api_url, token, tmp_path, "universe", "reorder", "Order", "NVDA", "AAPL,MSFT")
    assert reordered.returncode == 0, reordered.stderr
    assert reordered.stdout.startswith("Order saved for 'Order': NVDA, AAPL, MSFT\n")
    assert await _members(db, alice) == {"Order": ["NVDA", "AAPL", "MSFT"]}
    partial = sh(api_url, token, tmp_path, "universe", "reorder", "Order", "NVDA")
    assert partial.returncode == 1
    assert "missing members" in partial.stderr
    assert await _members(db, alice) == {"Order": ["NVDA", "AAPL", "MSFT"]}

    assert sh(api_url, token, tmp_path, "universe", "remove", "Order", "MSFT").returncode == 0
    as_json = sh(api_url, token, tmp_path, "universe", "turnover", "Order", "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    turnover = json.loads(as_json.stdout)
    assert (turnover["addition_count"], turnover["removal_count"]) == (3, 1)
    as_csv = sh(api_url, token, tmp_path, "universe", "turnover", "Order", "-o", "csv")
    changes = [(r["change"], r["symbol"]) for r in csv.DictReader(io.StringIO(as_csv.stdout))]
    assert sorted(changes) == [
        ("added", "AAPL"),
        ("added", "MSFT"),
        ("added", "NVDA"),
        ("removed", "MSFT"),
    ]
    table = sh(api_url, token, tmp_path, "universe", "turnover", "Order")
    assert "3 added, 1 removed, size 0 → 2" in table.stdout

    empty = sh(
        api_url,
        token,
        tmp_path,
        "universe",
        "turnover",
        "Order",
        "--start",
        "2020-01-01",
        "--end",
        "2020-01-02",
        "-o",
        "csv",
    )
    assert empty.stdout == "change,symbol,occurred_at\n"
    backwards = sh(
        api_url,
        token,
        tmp_path,
        "universe",
        "turnover",
        "Order",
        "--start",
        "2020-01-02",
        "--end",
        "2020-01-01",
    )
    assert backwards.returncode == 1
    assert "start must be before end" in backwards.stderr


def test_without_a_token_the_hint_names_the_command_that_makes_one(tmp_path: Path) -> None:
    result = quantdesk(
        "universe", "list", env=cli_env(QUANTDESK_API_URL="http://127.0.0.1:9"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: no API token",
        "  pass --token or set QUANTDESK_API_TOKEN; make one with: quantdesk user token EMAIL",
    ]
