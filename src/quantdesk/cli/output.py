"""How commands print: a table for people, JSON or CSV for scripts; ids and symbols never cut."""

from __future__ import annotations

import csv
import enum
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from quantdesk.cli.common import out


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


Output = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="table for people; json or csv (on stdout, nothing else) for scripts",
    ),
]


class ResultFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


ResultOutput = Annotated[
    ResultFormat,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="text: a summary for people; json: the result (on stdout, nothing else)",
    ),
]


@dataclass(frozen=True)
class Column:
    key: str  # the field of each item, and the CSV header
    label: str  # the table header
    whole: bool = False  # an id or symbol someone pastes back: never wrapped nor cut
    justify: Literal["left", "right"] = "left"
    show: Callable[[Any], str] | None = None  # how the table shows the value (CSV keeps it raw)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def emit_json(data: Any) -> None:
    """Plain JSON on stdout: no colours, no wrapping, whatever the terminal."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def emit_csv(columns: Sequence[Column], items: Sequence[Mapping[str, Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    writer.writerows([_cell(item.get(c.key)) for c in columns] for item in items)


def make_table(
    columns: Sequence[Column], items: Sequence[Mapping[str, Any]], *, title: str | None = None
) -> Table:
    table = Table(title=title)
    for c in columns:
        table.add_column(c.label, no_wrap=c.whole, justify=c.justify)
    for item in items:
        cells = ((c.show or _cell)(item.get(c.key)) for c in columns)
        table.add_row(*(escape(cell) for cell in cells))
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print ``table``, widening the output past the terminal rather than cutting a column that
    must stay whole (Rich would otherwise shorten an id to fit)."""
    console = console or out()
    needed = Measurement.get(console, console.options.update_width(10_000), table).minimum
    if needed > console.width:
        console = Console(width=needed, stderr=console.stderr)
    console.print(table)


def emit(
    output: OutputFormat,
    columns: Sequence[Column],
    items: Sequence[Mapping[str, Any]],
    *,
    data: Any = None,
    csv_columns: Sequence[Column] | None = None,
    title: str | None = None,
    empty: str | None = None,
) -> None:
    """Items as a table, CSV (``csv_columns``, by default the table's) or JSON (``data``, by
    default the items in full)."""
    if output is OutputFormat.JSON:
        emit_json(items if data is None else data)
    elif output is OutputFormat.CSV:
        emit_csv(csv_columns or columns, items)
    elif not items and empty:
        out().print(empty, highlight=False, markup=False, soft_wrap=True)
    else:
        print_table(make_table(columns, items, title=title))
