"""`quantdesk catalog load|stats` as run from a shell."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from quantdesk.assets.catalog import CatalogLoadReport
from quantdesk.cli.main import app as cli
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.migrations import upgrade


@pytest.fixture
def clear_settings() -> Iterator[None]:
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

    stats = _invoke(["catalog", "stats"], env)
    assert stats.exit_code == 0, stats.output
    counts = {
        cells[0]: cells[1]
        for line in stats.output.splitlines()
        if len(cells := [c.strip() for c in line.strip("│ ").split("│")]) == 2
    }
    assert int(counts["crypto"]) >= 30
    assert int(counts["equity"]) >= 15


def test_unknown_source_is_a_usage_error(tmp_path: Path, clear_settings: None) -> None:
    result = _invoke(
        ["catalog", "load", "--sources", "bonds"],
        _env(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path),
    )
    assert result.exit_code == 2
    assert "bonds" in result.output


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
