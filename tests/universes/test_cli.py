"""`quantdesk universe ...` against a real uvicorn server on a free local port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import Result
from typer.testing import CliRunner

from quantdesk.app import create_app
from quantdesk.cli.universe import app as universe_cli
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database
from tests.factories import Account, create_api_token, ensure_assets
from tests.universes.helpers import snapshot

runner = CliRunner()


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    """A real HTTP server for the CLI to talk to, on the test database."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


@pytest.fixture
async def token(db: Database, alice: Account) -> str:
    _, secret = await create_api_token(db, alice.user, name="cli")
    return secret


def cli(api_url: str, token: str, *args: str) -> Result:
    return runner.invoke(universe_cli, [*args, "--api-url", api_url, "--token", token])


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


async def test_add_and_remove_by_name_report_each_problem(
    api_url: str, token: str, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    assert cli(api_url, token, "create", "Mixed", "AAPL").exit_code == 0

    added = cli(api_url, token, "add", "Mixed", "MSFT", "AAPL", "ZZZZZZ", "A$B")
    assert added.exit_code == 0, added.output
    assert "1 added" in added.output
    assert "now has 2 assets" in added.output
    for problem in ("already_present", "unknown_symbol", "invalid_format", "ZZZZZZ"):
        assert problem in added.output
    assert await _members(db, alice) == {"Mixed": ["AAPL", "MSFT"]}

    removed = cli(api_url, token, "remove", "Mixed", "AAPL")
    assert removed.exit_code == 0, removed.output
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
    assert imported.exit_code == 0, imported.output
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
