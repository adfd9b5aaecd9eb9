from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from quantdesk.kit.db import Database
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import utcnow
from quantdesk.universes.csv_io import (
    CsvRow,
    escape_cell,
    parse_members,
    render_members,
    unescape_cell,
)
from quantdesk.universes.schemas import UniverseMember
from tests.factories import Account, ensure_assets
from tests.jobs.tasks_support import wait_finished
from tests.universes.helpers import (
    API,
    create_universe,
    ensure_bulk_assets,
    members_of,
    snapshot,
)


async def _import(
    client: httpx.AsyncClient,
    account: Account,
    universe_id: str,
    content: bytes,
    filename: str = "members.csv",
) -> httpx.Response:
    return await client.post(
        f"{API}/{universe_id}/import",
        files={"file": (filename, content, "text/csv")},
        headers=account.headers,
    )


async def _import_done(
    client: httpx.AsyncClient, account: Account, universe_id: str, content: bytes
) -> dict[str, Any]:
    """Import through the 202 job flow; the finished operation's result."""
    response = await _import(client, account, universe_id, content)
    assert response.status_code == 202, response.text
    operation = await wait_finished(client, account.headers, response.json()["data"]["id"])
    assert operation["status"] == "succeeded", operation
    result: dict[str, Any] = operation["result"]
    return result


async def test_export_then_import_round_trips_members_order_and_metadata(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    source = await create_universe(client, alice, "Source")
    upload = (
        b"Symbol,meta.Weight,META.Note,name\n"
        b"MSFT,0.4,core,ignored catalog column\n"
        b"VOD.L,0.1,=HYPERLINK(1),\n"
        b"AAPL,,-5,\n"
    )
    await _import_done(client, alice, source["id"], upload)

    export = await client.get(f"{API}/{source['id']}/export", headers=alice.headers)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert 'filename="Source.csv"' in export.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(export.text)))
    # Metadata columns follow the catalog ones in alphabetical order, named meta.<key>.
    assert rows[0] == [
        "symbol",
        "name",
        "asset_class",
        "exchange",
        "sector",
        "meta.Note",
        "meta.Weight",
    ]
    assert rows[1] == ["MSFT", "Microsoft Corporation", "equity", "", "Technology", "core", "0.4"]
    # A formula-looking cell is defused for spreadsheets; a plain negative number is not.
    assert rows[2][0] == "VOD.L"
    assert rows[2][5] == "'=HYPERLINK(1)"
    assert rows[3][5:] == ["-5", ""]

    target = await create_universe(client, alice, "Target")
    await _import_done(client, alice, target["id"], export.content)
    original, copy = (
        await members_of(client, alice, source["id"]),
        await members_of(client, alice, target["id"]),
    )
    assert [(a["symbol"], a["metadata"]) for a in copy] == [
        (a["symbol"], a["metadata"]) for a in original
    ]
    assert copy[1]["metadata"] == {"Weight": "0.1", "Note": "=HYPERLINK(1)"}
    assert copy[2]["metadata"] == {"Note": "-5"}


async def test_import_reports_a_result_per_row_and_adds_the_valid_ones(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Rows", symbols=["AAPL"])
    content = (
        b"symbol;meta.sector_view\n"  # semicolon-delimited, as some spreadsheets write
        b"nvda;growth\n"
        b"AAPL;value\n"
        b"\n"
        b"ZZZZZZ;x\n"
        b"DROP TABLE x;--\n"
        b";orphan\n"
        b"jpm\n"
    )
    data = await _import_done(client, alice, universe["id"], content)
    assert [(r["row"], r["symbol"], r["status"]) for r in data["results"]] == [
        (2, "NVDA", "added"),
        (3, "AAPL", "already_present"),
        (5, "ZZZZZZ", "unknown_symbol"),
        (6, None, "invalid_format"),
        (7, None, "invalid_format"),
        (8, "JPM", "added"),
    ]
    assert data["counts"]["added"] == 2
    assert data["asset_count"] == 3
    members = await members_of(client, alice, universe["id"])
    assert [(a["symbol"], a["metadata"]) for a in members] == [
        ("AAPL", {}),
        ("NVDA", {"sector_view": "growth"}),
        ("JPM", {}),
    ]


async def test_import_of_ten_thousand_rows_works_and_one_more_is_422(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 10_000)
    universe = await create_universe(client, alice, "Big import")
    content = ("symbol\n" + "\n".join(symbols) + "\n").encode()
    result = await _import_done(client, alice, universe["id"], content)
    assert result["counts"]["added"] == 10_000

    other = await create_universe(client, alice, "Too big import")
    before = await snapshot(db, alice.user.id)
    too_many = await _import(client, alice, other["id"], content + b"AAPL\n")
    assert too_many.status_code == 422
    assert too_many.json()["error"]["details"][0]["field"] == "file"
    assert await snapshot(db, alice.user.id) == before


async def test_bad_files_are_422_on_file_and_change_nothing(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Bad files", symbols=["AAPL"])
    before = await snapshot(db, alice.user.id)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
    bad = {
        "no symbol column": b"name,meta.weight\nApple,1\n",
        "an unknown column": b"symbol,weight\nAAPL,1\n",
        "both symbol and ticker": b"symbol,ticker\nAAPL,AAPL\n",
        "a value without a column": b"symbol\nAAPL,0.5\n",
        "several columns without a header": b"AAPL,0.5\nMSFT,0.5\n",
        "a one-column header that is not a symbol": b"Company name\nApple\n",
        "meta. without a key": b"symbol,meta.\nAAPL,x\n",
        "latin-1": "symbol,meta.note\nMSFT,caf\xe9\n".encode("latin-1"),
        "binary": png,
        "nul bytes": b"symbol\nMSFT\x00\n",
        "empty": b"",
        "blank": b"  \n\n",
        "header only": b"symbol\n",
        "repeated column": b"symbol,meta.note,META.NOTE\nMSFT,a,b\n",
        "repeated metadata key": b"symbol,meta.note,meta. note\nMSFT,a,b\n",
        "unterminated quote": b'symbol,meta.note\nMSFT,"open\n',
        "too large": b"symbol\n" + b"MSFT\n" * (5 * 1024 * 1024 // 5 + 1),
    }
    for label, content in bad.items():
        response = await _import(client, alice, universe["id"], content)
        assert response.status_code == 422, (label, response.text)
        error = response.json()["error"]
        assert error["details"][0]["field"] == "file", label
        assert error["details"][0]["reason"], label
    missing = await client.post(f"{API}/{universe['id']}/import", headers=alice.headers)
    assert missing.status_code == 422
    assert missing.json()["error"]["details"][0]["field"] == "file"
    assert await snapshot(db, alice.user.id) == before


async def test_export_of_an_empty_universe_is_just_the_header(
    client: httpx.AsyncClient, alice: Account
) -> None:
    universe = await create_universe(client, alice, "Énergie 🌱 / 2026")
    export = await client.get(f"{API}/{universe['id']}/export", headers=alice.headers)
    assert export.status_code == 200
    assert export.text == "symbol,name,asset_class,exchange,sector\r\n"
    disposition = export.headers["content-disposition"]
    assert 'filename="Energie-2026.csv"' in disposition
    assert "filename*=UTF-8''%C3%89nergie%20%F0%9F%8C%B1%20%2F%202026.csv" in disposition


def test_formula_escaping_round_trips() -> None:
    for value in ["=1+1", "'=1", "''@x", "+cmd", "-5", "plain", "'quoted", "", "@"]:
        assert unescape_cell(escape_cell(value)) == value
    assert escape_cell("=1+1") == "'=1+1"
    assert escape_cell("-5") == "-5"
    assert escape_cell("-x") == "'-x"


def _reason(content: bytes) -> str:
    with pytest.raises(InvalidInput) as refused:
        parse_members(content)
    assert refused.value.details[0]["field"] == "file"
    reason: str = refused.value.details[0]["reason"]
    return reason


def test_a_headerless_one_column_file_is_a_list_of_symbols() -> None:
    assert parse_members(b"nvda\nBRK.B\n\n  ^GSPC \n") == [
        CsvRow(row=1, symbol="nvda", metadata={}),
        CsvRow(row=2, symbol="BRK.B", metadata={}),
        CsvRow(row=4, symbol="^GSPC", metadata={}),
    ]
    # Trailing delimiters, as a spreadsheet writes them, leave it one column.
    assert [r.symbol for r in parse_members(b"AAPL;\r\nMSFT;\r\n")] == ["AAPL", "MSFT"]
    # A lone column name is a header, not a symbol.
    assert [r.symbol for r in parse_members(b"Symbol\nAAPL\n")] == ["AAPL"]
    assert [r.row for r in parse_members(b"TICKER\nAAPL\n")] == [2]


def test_a_ticker_header_works_like_symbol() -> None:
    rows = parse_members(b"name,Ticker,meta.note\nApple,AAPL,core\nMicrosoft,MSFT,\n")
    assert rows == [
        CsvRow(row=2, symbol="AAPL", metadata={"note": "core"}),
        CsvRow(row=3, symbol="MSFT", metadata={}),
    ]


def test_an_extra_column_is_refused_by_name_with_the_allowed_ones() -> None:
    reason = _reason(b"symbol,weight,sector\nAAPL,0.5,Tech\n")
    assert "'weight'" in reason
    assert "'sector'" not in reason  # the catalog's columns are known, and ignored
    assert "symbol (or ticker), name, asset_class, exchange, sector" in reason
    assert "meta.<name>" in reason
    with pytest.raises(InvalidInput) as refused:
        parse_members(b"symbol,Weight,Note\nAAPL,0.5,x\n")
    assert refused.value.message == "Unknown columns 'Weight', 'Note'"


def test_a_value_under_no_column_name_is_refused_not_dropped() -> None:
    assert "row 3 has a value in column 2" in _reason(b"symbol\nAAPL\nMSFT,0.5\n")
    assert "row 2 has a value in column 2" in _reason(b"AAPL\nMSFT,0.5\n")
    assert "row 2 has a value in column 2" in _reason(b"symbol,,meta.x\nAAPL,1,y\n")
    # An unnamed column left empty is harmless.
    assert parse_members(b"symbol,,meta.x\nAAPL,,y\n")[0].metadata == {"x": "y"}


def test_export_round_trips_any_metadata_key_through_import() -> None:
    # Keys that look like catalog columns or carry the prefix themselves survive too.
    metadata = [{"name": "mine", "Weight": "0.5", "meta.x": "=1+1"}, {"note": "-5"}]
    members = [
        UniverseMember(
            symbol=symbol,
            name=f"{symbol} Inc.",
            asset_class="equity",
            exchange=None,
            sector="Technology",
            position=position,
            added_at=utcnow(),
            metadata=meta,
            validation_status="valid",
        )
        for position, (symbol, meta) in enumerate(zip(["AAPL", "MSFT"], metadata, strict=True))
    ]
    rendered = render_members(members)
    assert rendered.splitlines()[0] == (
        "symbol,name,asset_class,exchange,sector,meta.meta.x,meta.name,meta.note,meta.Weight"
    )
    rows = parse_members(rendered.encode())
    assert [(r.symbol, r.metadata) for r in rows] == [
        ("AAPL", metadata[0]),
        ("MSFT", metadata[1]),
    ]


async def test_a_headerless_file_imports_over_http(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Bare list")
    data = await _import_done(client, alice, universe["id"], b"nvda\nJPM\nZZZZZZ\n")
    assert [(r["row"], r["symbol"], r["status"]) for r in data["results"]] == [
        (1, "NVDA", "added"),
        (2, "JPM", "added"),
        (3, "ZZZZZZ", "unknown_symbol"),
    ]


async def test_an_unknown_column_is_a_422_at_once_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Weights", symbols=["AAPL"])
    before = await snapshot(db, alice.user.id)
    response = await _import(client, alice, universe["id"], b"ticker,weight\nMSFT,0.4\n")
    assert response.status_code == 422
    error = response.json()
    assert error["message"] == "Unknown column 'weight'"
    assert error["error"]["details"][0]["field"] == "file"
    assert await snapshot(db, alice.user.id) == before
