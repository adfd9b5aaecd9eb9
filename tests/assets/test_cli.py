"""`quantdesk catalog load|stats`, `assets search` and `indices list|show` as run from a shell."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from quantdesk.assets.catalog import CatalogLoadReport
from quantdesk.cli import main
from quantdesk.cli.main import app as cli
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database
from quantdesk.kit.migrations import upgrade
from tests.cli.support import cli_env, quantdesk
from tests.factories import Account, create_api_token, ensure_assets, ensure_index

INDEX_NAME = "QD CLI & Sons 2"


@pytest.fixture
def clear_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # In process: leave this process's logging alone (the callback would point it at stderr).
    monkeypatch.setattr(main, "configure_cli_logging", lambda **_: None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "QUANTDESK_DATABASE_URL": database_url,
        "QUANTDESK_DATA_DIR": str(data_dir),
        "QUANTDESK_LOG_LEVEL": "WARNING",
    }


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


async def test_if_empty_skips_a_loaded_catalog(
    settings: Settings, catalog_subset: CatalogLoadReport, clear_settings: None
) -> None:
    env = _env(settings.resolved_database_url, settings.data_dir)
    # In a thread: the command runs its own event loop, as it does from a shell.
    result = await asyncio.to_thread(_invoke, ["catalog", "load", "--if-empty"], env)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output


def test_load_a_slice_into_a_fresh_database_then_again(
    tmp_path: Path, clear_settings: None
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    env = _env(url, tmp_path)
    args = ["catalog", "load", "--sources", "crypto,stocks", "--countries", "iceland"]

    first = _invoke(args, env)
    assert first.exit_code == 0, first.output
    assert "created" in first.output
    again = _invoke(args, env)
    assert again.exit_code == 0, again.output
    lines = {line.strip("│ ").split("│")[0].strip(): line for line in again.output.splitlines()}
    assert lines["created"].split("│")[-2].strip() == "0"
    assert lines["updated"].split("│")[-2].strip() == "0"
    skipped = _invoke(["catalog", "load", "--if-empty"], env)
    assert "skipped" in skipped.output

    # From a shell, in another directory: the same counts in each format.
    shell_env = cli_env(**env)
    as_json = quantdesk("catalog", "stats", "--output", "json", env=shell_env, cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    stats = json.loads(as_json.stdout)
    assert stats["by_class"]["crypto"] >= 30
    assert stats["by_class"]["equity"] >= 15
    assert stats["total"] == sum(stats["by_class"].values())
    as_csv = quantdesk("catalog", "stats", "-o", "csv", env=shell_env, cwd=tmp_path)
    rows = {r["asset_class"]: int(r["assets"]) for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert rows == stats["by_class"]
    table = quantdesk("catalog", "stats", env=shell_env, cwd=tmp_path)
    total_line = next(line for line in table.stdout.splitlines() if "total" in line)
    assert str(stats["total"]) in total_line


def test_unknown_source_is_a_usage_error(tmp_path: Path, clear_settings: None) -> None:
    result = _invoke(
        ["catalog", "load", "--sources", "bonds"],
        _env(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path),
    )
    assert result.exit_code == 2
    assert "bonds" in result.output


# `assets search` and `indices` go through the API: a real server on the test database.


@pytest.fixture
async def shell_env(api_url: str, db: Database, alice: Account) -> dict[str, str]:
    _, secret = await create_api_token(db, alice.user)
    return cli_env(QUANTDESK_API_URL=api_url, QUANTDESK_API_TOKEN=secret)


def _rows(result: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    assert result.returncode == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout)))


async def test_search_ranks_filters_and_pages(
    shell_env: dict[str, str], db: Database, catalog_subset: CatalogLoadReport, tmp_path: Path
) -> None:
    await ensure_assets(db)
    exact = _rows(quantdesk("assets", "search", "brk.b", "-o", "csv", env=shell_env, cwd=tmp_path))
    assert (exact[0]["symbol"], exact[0]["match"]) == ("BRK-B", "exact")
    table = quantdesk("assets", "search", "brk.b", "--limit", "1", env=shell_env, cwd=tmp_path)
    assert "BRK-B" in table.stdout
    assert "Berkshire Hathaway" in table.stdout

    # More than one API page (100): the command follows the cursor, never repeating a row.
    args = ("assets", "search", "", "--class", "equity", "--limit", "120", "-o", "csv")
    equities = _rows(quantdesk(*args, env=shell_env, cwd=tmp_path))
    assert len(equities) == 120
    assert len({r["symbol"] for r in equities}) == 120
    assert {r["asset_class"] for r in equities} == {"equity"}

    none = quantdesk("assets", "search", "zzqqxxnothing", env=shell_env, cwd=tmp_path)
    assert none.returncode == 0
    assert none.stdout == "no assets match 'zzqqxxnothing'\n"
    bad_class = quantdesk("assets", "search", "a", "--class", "bond", env=shell_env, cwd=tmp_path)
    assert bad_class.returncode == 2


async def test_indices_list_and_show(
    shell_env: dict[str, str], db: Database, catalog_subset: CatalogLoadReport, tmp_path: Path
) -> None:
    await ensure_assets(db)
    await ensure_index(db, INDEX_NAME, ["MSFT", "AAPL"])
    listed = _rows(quantdesk("indices", "list", "-o", "csv", env=shell_env, cwd=tmp_path))
    counts = {r["name"]: int(r["member_count"]) for r in listed}
    assert counts[INDEX_NAME] == 2
    assert counts["OMX Helsinki 25"] >= 20

    # A name with "&" and spaces, in another case: the command encodes it for the URL.
    shown = quantdesk(
        "indices", "show", INDEX_NAME.lower(), "-o", "json", env=shell_env, cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert (detail["name"], detail["member_count"]) == (INDEX_NAME, 2)
    members = _rows(
        quantdesk("indices", "show", INDEX_NAME, "-o", "csv", env=shell_env, cwd=tmp_path)
    )
    assert sorted(m["symbol"] for m in members) == ["AAPL", "MSFT"]
    table = quantdesk("indices", "show", INDEX_NAME, env=shell_env, cwd=tmp_path)
    assert table.stdout.startswith(f"{INDEX_NAME}: 2 members")

    unknown = quantdesk("indices", "show", "No Such Index", env=shell_env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "there is no index named 'No Such Index'" in unknown.stderr
    assert f"valid names: OMX Helsinki 25, {INDEX_NAME}" in unknown.stderr


def test_if_empty_loads_a_catalog_not_yet_ranked_for_search(
    tmp_path: Path, clear_settings: None
) -> None:
    # A catalog loaded before the search columns existed: rows, but no search text.
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    with sqlite3.connect(tmp_path / "old.db") as connection:
        connection.execute(
            "INSERT INTO assets (symbol, lookup_key, name, asset_class, is_validated, "
            "validation_status, metadata, created_at, updated_at) VALUES ('EIM.IC', 'EIM-IC', "
            "'Eimskip', 'equity', 1, 'valid', '{}', '2026-01-01', '2026-01-01')"
        )
    env = _env(url, tmp_path)
    args = ["catalog", "load", "--if-empty", "--sources", "stocks", "--countries", "iceland"]
    loaded = _invoke(args, env)
    assert loaded.exit_code == 0, loaded.output
    assert "already loaded" not in loaded.output
    assert "created" in loaded.output
    assert "already loaded" in _invoke(args, env).output
