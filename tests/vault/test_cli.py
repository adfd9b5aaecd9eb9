"""`quantdesk vault ...` against a real uvicorn server: add, list, scan, files, dupes (with a
clean-up), organize (dry run, then applied) and rollback back to the same tree."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from quantdesk.cli.vault import app as vault_cli
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from tests.factories import Account, create_api_token, ensure_assets
from tests.jobs.live_server import live_server
from tests.vault.helpers import PDF, fresh_folder, manifest, write

runner = CliRunner()


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    with live_server(settings) as server:
        yield server.http_url


@pytest.fixture
async def token(db: Database, alice: Account) -> str:
    _, secret = await create_api_token(db, alice.user, name="cli")
    return secret


def cli(api_url: str, token: str, *args: str) -> Result:
    return runner.invoke(
        vault_cli, [*args, "--api-url", api_url, "--token", token], env={"COLUMNS": "250"}
    )


async def test_the_vault_commands_end_to_end(
    api_url: str, token: str, db: Database, settings: Settings, tmp_path: Path
) -> None:
    await ensure_assets(db)
    root = fresh_folder(settings, "cli")
    write(
        root,
        {
            "inbox/AAPL_10-K_2023.pdf": PDF,
            "inbox/AAPL 10-K copy.pdf": PDF,
            "inbox/notes.md": b"# notes\n",
        },
        mtime=1_700_000_000,
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: pdfs\n"
        "    category: filings\n"
        "    match: {extensions: [pdf]}\n"
        "    target: '{category}/{symbol}/{name}'\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    category: x\n    target: '{nope}'\n")
    refused = cli(api_url, token, "add", "Bad", "--root", str(root), "--rules", str(bad))
    assert refused.exit_code == 2
    assert "nope" in refused.output

    added = cli(api_url, token, "add", "Research", "--root", str(root), "--rules", str(rules))
    assert added.exit_code == 0, added.output
    assert "Registered vault 'Research'" in added.output
    listed = cli(api_url, token, "list")
    assert listed.exit_code == 0, listed.output
    assert "Research" in listed.output
    assert str(root) in listed.output

    scanned = cli(api_url, token, "scan", "Research")
    assert scanned.exit_code == 0, scanned.output
    assert "3 files: 3 new" in scanned.output
    found = cli(api_url, token, "files", "Research", "--symbol", "AAPL", "-o", "json")
    assert found.exit_code == 0, found.output
    assert sorted(f["path"] for f in json.loads(found.stdout)) == [
        "inbox/AAPL 10-K copy.pdf",
        "inbox/AAPL_10-K_2023.pdf",
    ]

    before = manifest(root)
    dupes = cli(api_url, token, "dupes", "Research", "--clean")
    assert dupes.exit_code == 0, dupes.output
    assert "1 group(s)" in dupes.output
    assert ".quarantine/" in dupes.output
    assert manifest(root) == before  # --clean alone only plans

    dry = cli(api_url, token, "organize", "Research")
    assert dry.exit_code == 0, dry.output
    assert "filings/AAPL/AAPL_10-K_2023.pdf" in dry.output
    assert "dry run" in dry.output
    assert manifest(root) == before

    applied = cli(api_url, token, "organize", "Research", "--apply")
    assert applied.exit_code == 0, applied.output
    assert (root / "filings/AAPL/AAPL_10-K_2023.pdf").read_bytes() == PDF
    operation = re.search(r"quantdesk vault rollback ([0-9a-f-]{36})", applied.output)
    assert operation is not None, applied.output

    undone = cli(api_url, token, "rollback", operation.group(1))
    assert undone.exit_code == 0, undone.output
    assert "2 restored" in undone.output
    assert manifest(root) == before
