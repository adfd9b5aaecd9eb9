"""Run from any directory, a command that needs the database finds it in one place, and a missing
or unmigrated one is a single line that says what to run: no traceback, no file created."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from quantdesk.kit.config import default_data_dir
from quantdesk.kit.migrations import alembic_config, upgrade
from tests.cli.support import cli_env, quantdesk

CHECKOUT = Path(__file__).resolve().parents[2]
DB_COMMANDS = (
    ("catalog", "stats"),
    ("user", "token", "someone@example.com"),
    ("assets", "validate", "AAPL"),
    ("demo", "seed"),
    ("serve", "--port", "0"),  # checked before uvicorn starts (else this would hang)
)


def _sqlite_env(path: Path) -> dict[str, str]:
    return cli_env(QUANTDESK_DATABASE_URL=f"sqlite+aiosqlite:///{path}")


def _assert_one_error_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [expected]


def test_the_default_data_dir_is_the_checkouts_whatever_the_working_directory(
    tmp_path: Path,
) -> None:
    assert default_data_dir() == CHECKOUT / "data"
    result = quantdesk("db", "status", env=cli_env(), cwd=tmp_path)
    assert result.stdout.splitlines()[0] == f"data directory: {CHECKOUT / 'data'}"
    assert list(tmp_path.iterdir()) == []


def test_installed_as_a_package_the_default_is_the_user_data_dir(tmp_path: Path) -> None:
    import platformdirs

    module = tmp_path / "site-packages" / "quantdesk" / "kit" / "config.py"
    expected = Path(platformdirs.user_data_dir("quantdesk", appauthor=False))
    assert default_data_dir(module) == expected
    checkout = tmp_path / "checkout"
    (checkout / "src").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\n")
    assert default_data_dir(checkout / "src" / "quantdesk" / "kit" / "config.py") == (
        checkout / "data"
    )


@pytest.mark.parametrize("command", DB_COMMANDS, ids=" ".join)
def test_a_missing_database_is_one_line_and_is_not_created(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    data_dir = tmp_path / "nowhere"
    env = cli_env(QUANTDESK_DATA_DIR=str(data_dir))
    result = quantdesk(*command, env=env, cwd=tmp_path)
    database = data_dir / "quantdesk.db"
    _assert_one_error_line(
        result, f"error: the database at {database} is not set up; run: quantdesk db upgrade"
    )
    assert not data_dir.exists()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_database_file_says_what_to_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    result = quantdesk("catalog", "stats", env=_sqlite_env(path), cwd=tmp_path)
    _assert_one_error_line(
        result, f"error: the database at {path} is not set up; run: quantdesk db upgrade"
    )


def test_an_older_schema_says_what_to_run_and_upgrade_fixes_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    script = ScriptDirectory.from_config(alembic_config())
    first = list(script.walk_revisions())[-1].revision
    head = script.get_current_head()
    upgrade(f"sqlite+aiosqlite:///{path}", first)
    env = _sqlite_env(path)

    old = quantdesk("catalog", "stats", env=env, cwd=tmp_path)
    _assert_one_error_line(
        old,
        f"error: the database at {path} is at revision {first}, this quantdesk needs {head}; "
        "run: quantdesk db upgrade",
    )
    assert quantdesk("db", "status", env=env, cwd=tmp_path).returncode == 1

    upgraded = quantdesk("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    status = quantdesk("db", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"database (sqlite): {path}, up to date" in status.stdout
    stats = quantdesk("catalog", "stats", "--output", "csv", env=env, cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout == "asset_class,assets\n"


def test_an_unreachable_server_is_one_line_without_its_password(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql+asyncpg://quantdesk:hunter2secret@127.0.0.1:{port}/quantdesk"
    result = quantdesk("catalog", "stats", env=cli_env(QUANTDESK_DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"error: cannot open the database at postgresql+asyncpg://quantdesk:***@127.0.0.1:{port}/"
    )
    assert "hunter2secret" not in result.stderr
