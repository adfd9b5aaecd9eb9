"""What every CLI command shares: settings with a clear error, and async work run to completion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from quantdesk.kit.config import Settings, get_settings
from quantdesk.kit.db import Database

T = TypeVar("T")
console = Console(stderr=True)


def validation_message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors()
    )


def load_settings() -> Settings:
    """Settings from the environment, or a clear message and exit code 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        console.print(f"[red]Configuration error[/red]: {validation_message(exc)}")
        raise typer.Exit(2) from exc


async def with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with a Database for this process and dispose of its engine afterwards."""
    db = Database(settings)
    try:
        return await work(db)
    finally:
        await db.dispose()
