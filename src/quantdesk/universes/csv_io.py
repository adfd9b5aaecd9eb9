"""CSV in and out of a universe: one row per member, membership metadata as extra columns."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from quantdesk.kit.errors import InvalidInput
from quantdesk.universes.schemas import UniverseMember

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
MAX_METADATA_COLUMNS = 50
MAX_HEADER_LENGTH = 100
MAX_ECHOED_INPUT = 64
# Written by export from the catalog, so import ignores them instead of storing them as metadata.
CATALOG_COLUMNS = ("symbol", "name", "asset_class", "exchange", "sector")
# A cell starting like a formula is prefixed with ' on export (spreadsheet formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?%?$")
_DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class CsvRow:
    row: int
    symbol: str
    metadata: dict[str, str]


def _looks_like_formula(value: str) -> bool:
    core = value.lstrip("'")
    return core.startswith(_FORMULA_START) and not _NUMBER.match(core)


def escape_cell(value: str) -> str:
    return "'" + value if _looks_like_formula(value) else value


def unescape_cell(value: str) -> str:
    return value[1:] if value.startswith("'") and _looks_like_formula(value) else value


def echo(value: str) -> str:
    """An input as echoed back in a result, cut short so a huge cell cannot bloat the answer."""
    return value if len(value) <= MAX_ECHOED_INPUT else value[:MAX_ECHOED_INPUT] + "…"


def content_disposition(universe_name: str) -> str:
    """An attachment header: an ASCII file name for old clients, the exact one as filename*."""
    ascii_name = unicodedata.normalize("NFKD", universe_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-.")[:80] or "universe"
    exact = quote(f"{universe_name}.csv", safe="")
    return f"attachment; filename=\"{slug}.csv\"; filename*=UTF-8''{exact}"


def render_members(members: Sequence[UniverseMember]) -> str:
    """symbol,name,asset_class,exchange,sector, then every metadata key in alphabetical order.

    Alphabetical because PostgreSQL's JSONB does not keep the order keys were written in.
    """
    found = {key for m in members for key in m.metadata if key.lower() not in CATALOG_COLUMNS}
    keys = sorted(found, key=lambda key: (key.lower(), key))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CATALOG_COLUMNS, *keys])
    for m in members:
        catalog = [m.symbol, m.name, m.asset_class, m.exchange or "", m.sector or ""]
        extra = [m.metadata.get(key, "") for key in keys]
        writer.writerow([escape_cell(value) for value in (*catalog, *extra)])
    return buffer.getvalue()


def _bad_file(message: str, reason: str | None = None) -> InvalidInput:
    return InvalidInput(message, field="file", reason=reason or message)


def _decode(content: bytes) -> str:
    if len(content) > MAX_IMPORT_BYTES:
        raise _bad_file(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad_file(
            "The file is not UTF-8 text", f"not UTF-8 at byte {exc.start}; save it as CSV UTF-8"
        ) from exc
    if "\x00" in text:
        raise _bad_file("The file is not CSV text", "it contains NUL bytes (a binary file?)")
    if not text.strip():
        raise _bad_file("The file is empty")
    return text


def _delimiter(text: str) -> str:
    """Comma, or the semicolon/tab that some spreadsheets write, whichever the header uses most."""
    header = text.lstrip().splitlines()[0]
    return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","


def _columns(header: list[str]) -> tuple[int, dict[int, str]]:
    """The symbol column's index and {index: metadata key} for the other kept columns."""
    names = [cell.strip() for cell in header]
    lowered = [name.lower() for name in names if name]
    repeated = sorted({name for name in lowered if lowered.count(name) > 1})
    if repeated:
        raise _bad_file("The header repeats a column", f"repeated columns: {', '.join(repeated)}")
    if "symbol" not in lowered:
        raise _bad_file(
            "The file needs a 'symbol' column",
            "the first row must be a header with a 'symbol' column (any case)",
        )
    too_long = [name for name in names if len(name) > MAX_HEADER_LENGTH]
    if too_long:
        raise _bad_file(f"Column names have at most {MAX_HEADER_LENGTH} characters")
    symbol_index = next(i for i, name in enumerate(names) if name.lower() == "symbol")
    keys = {i: name for i, name in enumerate(names) if name and name.lower() not in CATALOG_COLUMNS}
    if len(keys) > MAX_METADATA_COLUMNS:
        raise _bad_file(f"At most {MAX_METADATA_COLUMNS} metadata columns are kept")
    return symbol_index, keys


def parse_members(content: bytes) -> list[CsvRow]:
    """Rows of an uploaded CSV (header = row 1); 422 on field ``file`` for an unusable file."""
    text = _decode(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[CsvRow] = []
    records = enumerate(reader, start=1)
    try:
        header = next((cells for _, cells in records if any(c.strip() for c in cells)), None)
        if header is None:
            raise _bad_file("The file is empty")
        symbol_index, keys = _columns(header)
        for number, cells in records:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_IMPORT_ROWS:
                raise _bad_file(f"The file has more than {MAX_IMPORT_ROWS} rows")
            values = [unescape_cell(cell.strip()) for cell in cells]
            symbol = values[symbol_index] if symbol_index < len(values) else ""
            metadata = {key: values[i] for i, key in keys.items() if i < len(values) and values[i]}
            rows.append(CsvRow(row=number, symbol=symbol, metadata=metadata))
    except csv.Error as exc:
        raise _bad_file("The file is not valid CSV", f"line {reader.line_num}: {exc}") from exc
    if not rows:
        raise _bad_file("The file has no rows below its header")
    return rows
