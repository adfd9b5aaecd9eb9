from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update

from quantdesk.assets.catalog import CatalogLoadReport
from quantdesk.kit.db import Database
from quantdesk.models import Asset
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


async def test_ranking_is_exact_then_symbol_prefixes_and_names(
    client: httpx.AsyncClient, alice: Account, family: None
) -> None:
    response = await _search(client, alice, q="qdz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    items = [(i["symbol"], i["match"]) for i in body["data"]["items"]]
    assert items[0] == ("QDZ", "exact")
    assert set(items[1:]) == {
        ("QDZA", "prefix"),
        ("QDZ.L", "prefix"),
        ("QDZZZ", "prefix"),
        ("XQD1", "name"),  # a word of the name is the query
        ("XQD2", "name"),  # a word of the name starts with it
    }
    # A name word that only starts with the query comes after whole-word and symbol matches.
    assert items[-1] == ("XQD2", "name")
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
    # QDZ's symbol is also a symbol prefix: the exact row must not come back as a match.
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
    symbols = [i["symbol"] for i in in_sector["items"]]
    assert symbols[0] == "QDZ"
    assert sorted(symbols[1:]) == ["QDZ.L", "XQD1"]


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


async def test_a_crypto_is_found_by_its_short_name_before_a_namesake_ticker(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport, db: Database
) -> None:
    await ensure_assets(db, [("ETH", "Qdz Ethan Furniture", "equity", None)])
    for typed, pair in (("ETH", "ETH-USD"), ("doge", "DOGE-USD"), ("xrp", "XRP-USD")):
        items = (await _search(client, alice, q=typed)).json()["data"]["items"]
        assert (items[0]["symbol"], items[0]["match"]) == (pair, "exact"), typed
    items = (await _search(client, alice, q="eth")).json()["data"]["items"]
    assert [i["symbol"] for i in items[:2]] == ["ETH-USD", "ETH"]  # the equity still follows


@pytest.mark.parametrize(
    "typed", ["vatryggingafelag", "Vátryggingafélag", "VÁTRYGGINGAFÉLAG ÍSLANDS", "vatrygg isl"]
)
async def test_accents_and_case_never_matter(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport, typed: str
) -> None:
    items = (await _search(client, alice, q=typed)).json()["data"]["items"]
    assert items[0]["symbol"] == "VIS.IC"
    assert items[0]["match"] == "name"


async def test_a_misspelt_name_is_found_by_the_typo_tier(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport
) -> None:
    # One letter dropped and two swapped: nothing matches as typed.
    response = await _search(client, alice, q="vatrygingaflag")
    items = response.json()["data"]["items"]
    assert (items[0]["symbol"], items[0]["match"]) == ("VIS.IC", "fuzzy")
    # Its pages go on in the typo tier.
    first = (await _search(client, alice, q="gruop", limit=1)).json()["data"]
    assert first["items"][0]["match"] == "fuzzy"
    second = await _search(client, alice, q="gruop", limit=1, cursor=first["next_cursor"])
    assert second.status_code == 200, second.text
    assert second.json()["data"]["items"][0]["match"] == "fuzzy"
    assert second.json()["data"]["items"][0]["symbol"] != first["items"][0]["symbol"]
    # Short words are never guessed at.
    assert (await _search(client, alice, q="qxzv")).json()["data"]["items"] == []


@pytest.mark.parametrize("exchange", ["Nasdaq Iceland", "nasdaq iceland", "XICE", "ICE"])
async def test_the_exchange_filter_takes_any_case_name_mic_or_code(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport, exchange: str
) -> None:
    response = await _search(client, alice, exchange=exchange, limit=100)
    assert response.status_code == 200, response.text
    items = response.json()["data"]["items"]
    assert len(items) >= 15
    assert {i["exchange"] for i in items} == {"Nasdaq Iceland"}
    assert {i["currency"] for i in items} == {"ISK"}


async def test_a_provider_named_asset_is_found_by_its_new_name(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db, [("QDRN", "Qdz Before Rename", "equity", None)])
    async with db.transaction() as session:
        await session.execute(
            update(Asset).where(Asset.symbol == "QDRN").values(name="Qdzafter Renamed Inc")
        )
    items = (await _search(client, alice, q="qdzafter")).json()["data"]["items"]
    assert [i["symbol"] for i in items] == ["QDRN"]
    async with db.transaction() as session:
        await session.execute(delete(Asset).where(Asset.symbol == "QDRN"))
    assert (await _search(client, alice, q="qdzafter")).json()["data"]["items"] == []
