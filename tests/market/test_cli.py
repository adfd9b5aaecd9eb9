"""`quantdesk assets validate` and `quantdesk providers status` as run from a shell."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from quantdesk.cli import main
from quantdesk.cli.main import app as cli
from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database
from tests.cli.support import cli_env, quantdesk
from tests.factories import Account, create_api_token, ensure_assets
from tests.fakes.http_server import FakeHttpServer, Reply
from tests.market.providers.recordings import closed_port_url
from tests.market.support import asset_row, fmp_profile


@pytest.fixture
def clear_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # In process: leave this process's logging alone (the callback would point it at stderr).
    monkeypatch.setattr(main, "configure_cli_logging", lambda **_: None)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        "QUANTDESK_DATABASE_URL": settings.resolved_database_url,
        "QUANTDESK_DATA_DIR": str(settings.data_dir),
        "QUANTDESK_LOG_LEVEL": "WARNING",
        "QUANTDESK_PROVIDERS": "sim",
        "COLUMNS": "200",
        **extra,
    }


async def _invoke(args: list[str], env: dict[str, str]) -> Result:
    # In a thread: the command runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)


async def test_validate_prints_a_table_and_fails_on_an_invalid_symbol(
    db: Database, settings: Settings, clear_settings: None
) -> None:
    await ensure_assets(db)
    result = await _invoke(["assets", "validate", "aapl,brk.b", "QVCLI"], _env(settings))
    assert result.exit_code == 1, result.output
    assert "Symbol validation" in result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert "yes" in rows["aapl"]
    assert "BRK-B" in rows["brk.b"]
    assert "no" in rows["QVCLI"]
    assert "2 valid, 1 invalid, 0 unknown for now" in result.output


async def test_validate_succeeds_when_all_are_valid_and_speaks_json(
    db: Database, settings: Settings, clear_settings: None
) -> None:
    await ensure_assets(db)
    for output in (["--json"], ["--output", "json"]):  # --json: the option it had first
        result = await _invoke(["assets", "validate", *output, "MSFT", "NVDA"], _env(settings))
        assert result.exit_code == 0, result.output
        body = json.loads(result.output)
        assert [r["canonical_symbol"] for r in body["results"]] == ["MSFT", "NVDA"]
        assert body["counts"] == {"valid": 2, "invalid": 0, "unknown": 0}


async def test_validate_from_a_shell_prints_csv_and_exits_1_on_an_invalid_symbol(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await ensure_assets(db)
    env = cli_env(**_env(settings))
    result = quantdesk("assets", "validate", "brk.b", "QVCSV", "-o", "csv", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    rows = [
        (r["symbol"], r["valid"], r["canonical_symbol"])
        for r in csv.DictReader(io.StringIO(result.stdout))
    ]
    assert rows == [("brk.b", "true", "BRK-B"), ("QVCSV", "false", "QVCSV")]


async def test_validate_with_a_live_provider_writes_the_asset(
    db: Database, settings: Settings, fake: FakeHttpServer, clear_settings: None
) -> None:
    fake.add("/stable/profile", fmp_profile("QVCLIOK", "Command Line Corp"))
    env = _env(
        settings,
        QUANTDESK_PROVIDERS="fmp",
        QUANTDESK_FMP_BASE_URL=fake.url,
        QUANTDESK_FMP_API_KEY="FMPTESTKEY",
    )
    result = await _invoke(["assets", "validate", "qvcliok"], env)
    assert result.exit_code == 0, result.output
    assert "Command Line Corp" in result.output
    row = await asset_row(db, "QVCLIOK")
    assert row is not None
    assert row.validation_source == "fmp"


async def test_providers_status_local(settings: Settings, clear_settings: None) -> None:
    result = await _invoke(["providers", "status", "--local"], _env(settings))
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "sim" in line)
    assert "closed" in line
    assert "simulated" in line
    assert "unlimited" in line
    assert "cache: in process" in result.output
    as_csv = await _invoke(["providers", "status", "--local", "-o", "csv"], _env(settings))
    assert as_csv.exit_code == 0, as_csv.output
    [row] = csv.DictReader(io.StringIO(as_csv.stdout))
    assert (row["provider"], row["breaker"], row["simulated"]) == ("sim", "closed", "true")


async def test_providers_status_asks_the_server(
    client: httpx.AsyncClient, settings: Settings, fake: FakeHttpServer, clear_settings: None
) -> None:
    served = (await client.get("/health/providers")).json()
    fake.add("/health/providers", Reply(body=served))
    result = await _invoke(["providers", "status", "--json", "--api-url", fake.url], _env(settings))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == served["data"]


async def test_providers_status_without_a_server_says_so(
    settings: Settings, clear_settings: None
) -> None:
    result = await _invoke(["providers", "status", "--api-url", closed_port_url()], _env(settings))
    assert result.exit_code == 1
    assert "--local" in result.output


# `assets validate --bulk`: a job of a real server, followed to its end.


async def test_bulk_validation_follows_the_job_and_exits_by_the_results(
    api_url: str, db: Database, alice: Account, tmp_path: Path
) -> None:
    await ensure_assets(db)
    _, secret = await create_api_token(db, alice.user)
    env = cli_env(QUANTDESK_API_URL=api_url, QUANTDESK_API_TOKEN=secret, COLUMNS="200")
    listing = tmp_path / "symbols.txt"
    listing.write_text("AAPL, msft\n# a comment\nQVBULK\n")

    mixed = quantdesk("assets", "validate", "--bulk", str(listing), "NVDA", env=env, cwd=tmp_path)
    assert mixed.returncode == 1, mixed.stderr
    summary, *table = mixed.stdout.splitlines()
    assert re.fullmatch(
        r"bulk_validate_assets [0-9a-f-]{36} succeeded in \d+\.\d s: 3 valid, 1 invalid", summary
    ), summary
    assert any("QVBULK" in line and "no" in line for line in table)

    # A CSV with a 'symbol' column on stdin (what `universe export` writes), every result out.
    exported = "symbol,name\nJPM,JPMorgan\nQVBULKTWO,Nothing\n"
    as_csv = quantdesk(
        "assets", "validate", "--bulk", "-", "-o", "csv", env=env, cwd=tmp_path, stdin=exported
    )
    assert as_csv.returncode == 1, as_csv.stderr
    rows = [(r["symbol"], r["valid"]) for r in csv.DictReader(io.StringIO(as_csv.stdout))]
    assert rows == [("JPM", "true"), ("QVBULKTWO", "false")]

    valid = quantdesk("assets", "validate", "--bulk", "AAPL", "-o", "json", env=env, cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    body = json.loads(valid.stdout)
    assert body["counts"] == {"valid": 1, "invalid": 0, "unknown": 0}
    assert [r["canonical_symbol"] for r in body["results"]] == ["AAPL"]
