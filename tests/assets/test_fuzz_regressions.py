"""Inputs the API fuzzer (tests/test_api_fuzz.py) found answered with a 500: now a 422 naming
the field, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import httpx
import pytest

from quantdesk.assets.service import MAX_CURSOR_OFFSET
from quantdesk.kit.db import Database
from quantdesk.kit.pagination import decode_cursor, encode_cursor
from tests.factories import Account, ensure_assets

SEARCH = "/api/v1/assets/search"


def _error_field(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_error"
    field: str = body["error"]["details"][0]["field"]
    return field


async def test_a_search_cursor_past_any_catalog_is_a_422_not_an_integer_overflow(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db)
    first = await client.get(SEARCH, params={"q": "a", "limit": 1}, headers=alice.headers)
    assert first.status_code == 200, first.text
    position = decode_cursor(first.json()["data"]["next_cursor"])

    # Past 64 bits, the OFFSET overflowed SQLite's and asyncpg's integers: a 500.
    for offset in (2**63, 10**30, MAX_CURSOR_OFFSET + 1):
        forged = encode_cursor({**position, "o": offset})
        response = await client.get(
            SEARCH, params={"q": "a", "limit": 1, "cursor": forged}, headers=alice.headers
        )
        assert _error_field(response) == "cursor"

    # The largest offset still allowed is answered: past the end of its tier (exact symbols,
    # then ranked matches), so only the tiers after it can fill the page.
    last = encode_cursor({**position, "o": MAX_CURSOR_OFFSET})
    response = await client.get(
        SEARCH, params={"q": "a", "limit": 1, "cursor": last}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    items = response.json()["data"]["items"]
    later_tiers = {0: {"prefix", "name", "fuzzy"}, 1: set()}[position["t"]]
    assert {item["match"] for item in items} <= later_tiers


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "a", "sector": "\x00"}, "sector"),
        ({"exchange": "NASDAQ\x00"}, "exchange"),
        ({"q": "a\x00b"}, "q"),
    ],
)
async def test_a_nul_in_a_search_filter_is_a_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, str], field: str
) -> None:
    # PostgreSQL refuses NUL in text: the filter used to reach it and fail with a 500.
    response = await client.get(SEARCH, params=params, headers=alice.headers)
    assert _error_field(response) == field


@pytest.mark.parametrize("path", ["/api/v1/indices/%00", "/api/v1/indices/S%26P%00500"])
async def test_a_nul_in_an_index_name_is_a_422(
    client: httpx.AsyncClient, alice: Account, path: str
) -> None:
    response = await client.get(path, headers=alice.headers)
    assert _error_field(response) == "path"
    assert response.json()["error"]["details"][0]["location"] == "path"
