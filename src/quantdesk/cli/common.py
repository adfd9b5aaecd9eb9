"""What every CLI command shares: settings, logging, one-line errors, the database check.

Only the standard library, Typer and Rich are imported here at module level: SQLAlchemy,
pydantic, httpx and the app are imported inside the functions that use them, so that
``quantdesk --help`` answers at once.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pydantic import ValidationError

    from quantdesk.kit.config import Settings
    from quantdesk.kit.db import Database

T = TypeVar("T")

UPGRADE_HINT = "run: quantdesk db upgrade"


def out() -> Console:
    """The command's real output: stdout, made per call so it follows a redirected stdout."""
    return Console()


def err() -> Console:
    """Diagnostics, progress bars and prompts: stderr, so stdout stays clean for pipes."""
    return Console(stderr=True)


def fail(message: str, *lines: str, code: int = 1) -> NoReturn:
    """One ``error: ...`` line on stderr (plus indented details, if any), then exit ``code``."""
    console = err()
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    for line in lines:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def confirm(question: str, *, unanswered: str) -> bool:
    """Ask on stderr, read the answer from stdin (so ``echo y | quantdesk ...`` works too)."""
    err().print(escape(f"{question} [y/N]: "), end="", highlight=False, soft_wrap=True)
    answer = sys.stdin.readline()
    if not sys.stdin.isatty():
        err().print()  # the answer came from a pipe, so no newline was echoed
    if not answer:  # end of input: nobody to ask
        fail("no answer", unanswered, code=2)
    return answer.strip().lower() in ("y", "yes")


def validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors()
    )


def load_settings() -> Settings:
    """Settings from the environment (and ``.env``), or a one-line message and exit code 2."""
    from pydantic import ValidationError

    from quantdesk.kit.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        fail(f"configuration: {validation_message(exc)}", code=2)


def configure_cli_logging(*, verbose: bool = False) -> None:
    """Send every log line to stderr before a command runs (structlog's default is stdout).

    A one-off command's result is what it prints, so it logs only warnings and errors unless
    ``verbose`` (then at QUANTDESK_LOG_LEVEL, as the long-running serve, worker and beat do).
    Invalid settings are reported by the command that needs them, not here.
    """
    from pydantic import ValidationError

    from quantdesk.kit.config import get_settings
    from quantdesk.kit.logging import configure_logging

    level, as_json = "INFO", True
    try:
        settings = get_settings()
        level, as_json = settings.log_level, settings.log_json
    except ValidationError:
        pass
    if not verbose:
        level = "WARNING"
    try:
        configure_logging(level, json=as_json)
    except ValueError:  # an unknown QUANTDESK_LOG_LEVEL: log at INFO rather than not at all
        configure_logging("INFO", json=as_json)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_CurrentStderr())


class _CurrentStderr:
    """``sys.stderr`` as it is when a line is written: a test runner swaps it per invocation."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# The database: checked before a command touches it.


def database_location(url: str) -> str:
    """The SQLite file, or the server URL without its password: what a person can look for."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database or ":memory:"))
    return parsed.render_as_string(hide_password=True)


async def open_database(settings: Settings) -> Database:
    """The configured database, at the schema this code expects, or a one-line error.

    A missing SQLite file is reported without being created: only ``quantdesk db upgrade``
    makes the schema (and the file).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from quantdesk.kit.db import Database
    from quantdesk.kit.migrations import current_revision

    url = settings.resolved_database_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        fail("QUANTDESK_DATABASE_URL is not a database URL", code=2)
    where = database_location(url)
    if _missing_sqlite_file(parsed.get_backend_name(), parsed.database):
        fail(f"the database at {where} is not set up; {UPGRADE_HINT}")
    db = Database(settings)
    try:
        current = await current_revision(db.engine)
    except (OSError, SQLAlchemyError) as exc:
        await db.dispose()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"cannot open the database at {where}: {reason}")
    problem = schema_problem(current)
    if problem is not None:
        await db.dispose()
        fail(f"the database at {where} {problem}")
    return db


def _missing_sqlite_file(backend: str, database: str | None) -> bool:
    if backend != "sqlite" or database in (None, "", ":memory:"):
        return False
    return not Path(database or "").is_file()


def schema_problem(current: str | None) -> str | None:
    """Why a database at revision ``current`` cannot be used by this code, or None."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from quantdesk.kit.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    if current == head:
        return None
    if current is None:
        return f"is not set up; {UPGRADE_HINT}"
    try:
        script.get_revision(current)
    except CommandError:
        return f"is at revision {current}, newer than this quantdesk knows; update quantdesk"
    return f"is at revision {current}, this quantdesk needs {head}; {UPGRADE_HINT}"


def run(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, with asyncio imported only by the commands that need it."""
    import asyncio

    return asyncio.run(work)


def check_database(settings: Settings) -> None:
    """Exit with a one-line reason unless the database is there and migrated."""

    async def check() -> None:
        await (await open_database(settings)).dispose()

    run(check())


async def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with the checked database and dispose of its engine afterwards."""
    db = await open_database(settings)
    try:
        return await work(db)
    finally:
        await db.dispose()


def split_symbols(values: Sequence[str]) -> list[str]:
    """Symbols given as separate arguments and/or separated by commas or spaces."""
    return [part for raw in values for part in raw.replace(",", " ").split() if part]
