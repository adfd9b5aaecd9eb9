from __future__ import annotations

from typing import Any

import httpx
import pytest

from quantdesk.kit.db import Database
from tests.factories import Account, ensure_assets

SEARCH = "/api/v1/assets/search"

# A made-up family, so the ranking is known whatever else the catalog holds.
FAMILY: list[tuple[str, str, str, str | None]] = [
    ("QDZ", "Quillodz Exact Holdings", "equity", "Test Sector QD"),
    ("QDZZZ", "Longer Prefix Corp", "equity", None),
    ("QDZ.L", "Prefix London Plc", "equity", "Test Sector QD"),
    ("QDZA", "Prefix Fund", "etf", None),
    ("XQD1", "Qdz Widgets Ltd", "equity", "Test Sector QD"),
    ("XQD2", "Mega Qdzinc Corp", "equity", None),
    ("XQD3", "Unrelated Name Co", "equity", None),
]


@pytest.fixture
async def family(db: Database) -> None:
    await ensure_assets(db, FAMILY)


async def _search(client: httpx.AsyncClient, account: Account, **params: Any) -> httpx.Response:
    return await client.get(SEARCH, params=params, headers=account.headers)


async def test_ranking_is_exact_then_prefix_then_name(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    response = await _search(client, alice, q="qdz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    items = body["data"]["items"]
    assert [(i["symbol"], i["match"]) for i in items] == [
        ("QDZ", "exact"),
        ("QDZA", "prefix"),  # shorter symbols first
        ("QDZ.L", "prefix"),
        ("QDZZZ", "prefix"),
        ("XQD1", "name"),  # the name starts with the words
        ("XQD2", "name"),  # a word of the name starts with them
    ]
    assert body["data"]["next_cursor"] is None
    assert "get_asset" in body["next_actions"]


async def test_class_separators_do_not_matter_for_symbols(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db)  # the shared samples hold BRK-B
    for typed in ("brk.b", "BRK/B", " brk-b "):
        items = (await _search(client, alice, q=typed)).json()["data"]["items"]
        assert (items[0]["symbol"], items[0]["match"]) == ("BRK-B", "exact"), typed


async def test_results_never_repeat_across_tiers(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    # "QDZ" also matches the name "Quillodz Exact Holdings"? No, but "qdz" words do; the
    # exact and prefix rows must not come back as name matches.
    items = (await _search(client, alice, q="qdz", limit=100)).json()["data"]["items"]
    symbols = [i["symbol"] for i in items]
    assert len(symbols) == len(set(symbols))


async def test_pages_are_disjoint_and_add_up_to_the_whole(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    whole = [
        i["symbol"]
        for i in (await _search(client, alice, q="qdz", limit=100)).json()["data"]["items"]
    ]
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"q": "qdz", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        data = (await _search(client, alice, **params)).json()["data"]
        pages.append([i["symbol"] for i in data["items"]])
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert [s for page in pages for s in page] == whole
    assert all(len(page) == 2 for page in pages[:-1])
    assert len(pages) == 3


async def test_filters_narrow_every_tier(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    etfs = (await _search(client, alice, q="qdz", asset_class="etf")).json()["data"]["items"]
    assert [i["symbol"] for i in etfs] == ["QDZA"]
    in_sector = (await _search(client, alice, q="qdz", sector="Test Sector QD")).json()["data"]
    assert [i["symbol"] for i in in_sector["items"]] == ["QDZ", "QDZ.L", "XQD1"]


async def test_an_empty_query_lists_by_filter_only(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    response = await _search(client, alice, q="", sector="Test Sector QD")
    assert response.status_code == 200, response.text
    items = response.json()["data"]["items"]
    assert [(i["symbol"], i["match"]) for i in items] == [
        ("QDZ", "filter"),
        ("QDZ.L", "filter"),
        ("XQD1", "filter"),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 65}, "q"),
        ({"q": "a", "limit": 0}, "limit"),
        ({"q": "a", "limit": 101}, "limit"),
        ({"q": "a", "asset_class": "bond"}, "asset_class"),
        ({"q": "a", "cursor": "not-a-cursor!"}, "cursor"),
    ],
)
async def test_bad_search_input_is_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, Any], field: str
) -> None:
    response = await _search(client, alice, **params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "validation_error"
    assert field in [d["field"] for d in body["error"]["details"]]


async def test_a_cursor_only_continues_its_own_search(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    cursor = (await _search(client, alice, q="qdz", limit=1)).json()["data"]["next_cursor"]
    assert cursor
    response = await _search(client, alice, q="xqd", limit=1, cursor=cursor)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "q", ['"', "AND OR NOT", "a*", "(", "NEAR(x y)", "':* | !", "\\", "%_%", "qdz^2", "ÄPFEL", "--"]
)
async def test_search_text_never_breaks_the_query(
    client: httpx.AsyncClient, alice: Account, family: None, q: str
) -> None:
    response = await _search(client, alice, q=q)
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["data"]["items"], list)


async def test_search_needs_authentication(client: httpx.AsyncClient) -> None:
    response = await client.get(SEARCH, params={"q": "apple"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
