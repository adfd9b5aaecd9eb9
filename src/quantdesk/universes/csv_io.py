"""CSV in and out of a universe: one row per member, membership metadata as ``meta.`` columns.

Import reads a header naming its columns, or a header-less file of one column of symbols. The
columns are a closed set, so a column the desk would not use (a weight, say) is a 422 instead of
being silently kept: ``symbol`` or ``ticker`` (the one required column), the catalog's ``name``,
``asset_class``, ``exchange`` and ``sector`` (written by export, ignored on import: the catalog
knows them), and ``meta.<key>`` columns, kept as the member's metadata under ``<key>``.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.kit.errors import InvalidInput
from quantdesk.universes.schemas import UniverseMember

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 10_000
MAX_METADATA_COLUMNS = 50
MAX_HEADER_LENGTH = 100
MAX_ECHOED_INPUT = 64
SYMBOL_COLUMNS = ("symbol", "ticker")
# Written by export from the catalog, so import ignores them instead of storing them as metadata.
CATALOG_COLUMNS = ("symbol", "name", "asset_class", "exchange", "sector")
METADATA_PREFIX = "meta."
ALLOWED_COLUMNS = (
    "symbol (or ticker), name, asset_class, exchange, sector, and meta.<key> columns for "
    "membership metadata"
)
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
    """symbol,name,asset_class,exchange,sector, then meta.<key> for every metadata key, sorted.

    Sorted because PostgreSQL's JSONB does not keep the order keys were written in.
    """
    found = {key for m in members for key in m.metadata}
    keys = sorted(found, key=lambda key: (key.lower(), key))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*CATALOG_COLUMNS, *(METADATA_PREFIX + key for key in keys)])
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


@dataclass(frozen=True)
class _Layout:
    has_header: bool
    symbol_index: int
    metadata: dict[int, str]  # column index: metadata key
    ignored: frozenset[int]  # the catalog's columns


def _is_headerless(names: list[str]) -> bool:
    """One column whose first cell reads as a symbol, not as a column name: a bare symbol list."""
    if len(names) != 1:
        return False
    name = names[0].lower()
    if name in (*SYMBOL_COLUMNS, *CATALOG_COLUMNS) or name.startswith(METADATA_PREFIX):
        return False
    try:
        canonical_symbol(names[0])
    except InvalidSymbol:
        return False
    return True


def _layout(header: list[str]) -> _Layout:
    """Where the symbol and the metadata are; 422 for a header the import would misread."""
    names = [cell.strip() for cell in header]
    while names and not names[-1]:
        names.pop()  # trailing delimiters, as spreadsheets write them
    if _is_headerless(names):
        return _Layout(has_header=False, symbol_index=0, metadata={}, ignored=frozenset())
    lowered = [name.lower() for name in names]
    # meta.Note and "meta. note" would both be the key "note": compare what each column means.
    meanings = [
        METADATA_PREFIX + name[len(METADATA_PREFIX) :].strip()
        if name.startswith(METADATA_PREFIX)
        else name
        for name in lowered
    ]
    repeated = sorted({name for name in meanings if name and meanings.count(name) > 1})
    if repeated:
        raise _bad_file("The header repeats a column", f"repeated columns: {', '.join(repeated)}")
    if any(len(name) > MAX_HEADER_LENGTH for name in names):
        raise _bad_file(f"Column names have at most {MAX_HEADER_LENGTH} characters")
    unknown = [
        name
        for name in names
        if name
        and name.lower() not in (*SYMBOL_COLUMNS, *CATALOG_COLUMNS)
        and not (name.lower().startswith(METADATA_PREFIX) and name[len(METADATA_PREFIX) :].strip())
    ]
    if unknown:
        shown = ", ".join(repr(echo(name)) for name in unknown[:10])
        raise _bad_file(
            f"Unknown column {shown}" if len(unknown) == 1 else f"Unknown columns {shown}",
            f"unknown columns: {shown}; allowed: {ALLOWED_COLUMNS} "
            f"(rename a column to meta.<name> to keep it as metadata)",
        )
    symbol_columns = [i for i, name in enumerate(lowered) if name in SYMBOL_COLUMNS]
    if not symbol_columns:
        raise _bad_file(
            "The file needs a 'symbol' (or 'ticker') column",
            "the first row must be a header with a 'symbol' or 'ticker' column (any case), "
            "or the file a single column of symbols without a header",
        )
    if len(symbol_columns) > 1:
        raise _bad_file(
            "The file has both a 'symbol' and a 'ticker' column", "keep one of the two columns"
        )
    metadata = {
        i: name[len(METADATA_PREFIX) :].strip()
        for i, name in enumerate(names)
        if name.lower().startswith(METADATA_PREFIX)
    }
    if len(metadata) > MAX_METADATA_COLUMNS:
        raise _bad_file(f"At most {MAX_METADATA_COLUMNS} metadata columns are kept")
    ignored = {i for i, name in enumerate(lowered) if name in CATALOG_COLUMNS and name != "symbol"}
    return _Layout(
        has_header=True,
        symbol_index=symbol_columns[0],
        metadata=metadata,
        ignored=frozenset(ignored),
    )


def _unnamed_value(layout: _Layout, values: list[str]) -> int | None:
    """The 1-based column of the first value with no column name above it, if any."""
    named = {layout.symbol_index, *layout.metadata, *layout.ignored}
    return next(
        (i + 1 for i, value in enumerate(values) if value and i not in named),
        None,
    )


def parse_members(content: bytes) -> list[CsvRow]:
    """Rows of an uploaded CSV (row 1 is the header, if any); 422 on ``file`` if it is unusable."""
    text = _decode(content)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    rows: list[CsvRow] = []
    records = enumerate(reader, start=1)
    try:
        first = next(((n, cells) for n, cells in records if any(c.strip() for c in cells)), None)
        if first is None:
            raise _bad_file("The file is empty")
        layout = _layout(first[1])
        body = records if layout.has_header else itertools.chain([first], records)
        for number, cells in body:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_IMPORT_ROWS:
                raise _bad_file(f"The file has more than {MAX_IMPORT_ROWS} rows")
            values = [unescape_cell(cell.strip()) for cell in cells]
            column = _unnamed_value(layout, values)
            if column is not None:
                raise _bad_file(
                    "A row has a value in a column without a name",
                    f"row {number} has a value in column {column}, which has no column name; "
                    f"name it meta.<name> to keep it, or remove it",
                )
            symbol = values[layout.symbol_index] if layout.symbol_index < len(values) else ""
            kept = layout.metadata.items()
            metadata = {key: values[i] for i, key in kept if i < len(values) and values[i]}
            rows.append(CsvRow(row=number, symbol=symbol, metadata=metadata))
    except csv.Error as exc:
        raise _bad_file("The file is not valid CSV", f"line {reader.line_num}: {exc}") from exc
    if not rows:
        raise _bad_file("The file has no rows below its header")
    return rows
