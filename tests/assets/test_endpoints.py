from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import update

from quantdesk.assets.catalog import CatalogLoadReport
from quantdesk.kit.db import Database
from quantdesk.models import Asset
from tests.factories import Account, ensure_assets, ensure_index

SECTOR_FAMILY: list[tuple[str, str, str, str | None]] = [
    ("QDS1", "Sector Count One", "equity", "Test Sector Count"),
    ("QDS2", "Sector Count Two", "equity", "Test Sector Count"),
    ("QDS3", "Sector Count Three", "etf", "Test Sector Count"),
]
INDEX_NAME = "QD Test & Co 7"


async def test_asset_detail_has_catalog_fields_and_memberships(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db, SECTOR_FAMILY)
    await ensure_index(db, INDEX_NAME, ["QDS1", "QDS2"])
    async with db.transaction() as session:
        await session.execute(
            update(Asset)
            .where(Asset.symbol == "QDS1")
            .values(market_cap=Decimal("1234567890.12"), dividend_yield=Decimal("0.0315"))
        )
    response = await client.get("/api/v1/assets/qds1", headers=alice.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["symbol"] == "QDS1"
    assert data["sector"] == "Test Sector Count"
    assert data["indices"] == [INDEX_NAME]
    # Decimals travel as strings, exactly.
    assert isinstance(data["market_cap"], str)
    assert Decimal(data["market_cap"]) == Decimal("1234567890.12")
    assert Decimal(data["dividend_yield"]) == Decimal("0.0315")
    assert data["pe_ratio"] is None
    assert {"industry", "is_validated", "validation_source", "metadata", "exchange"} <= set(data)


async def test_asset_is_found_by_any_class_separator(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db)
    response = await client.get("/api/v1/assets/brk.b", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["symbol"] == "BRK-B"


async def test_index_quote_symbols_work_in_the_path(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport
) -> None:
    response = await client.get(f"/api/v1/assets/{quote('^GSPC')}", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["asset_class"] == "index"


async def test_unknown_asset_is_404(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/api/v1/assets/ZZQQ9X", headers=alice.headers)
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "asset_not_found"
    assert "search_assets" in body["next_actions"]


@pytest.mark.parametrize("symbol", ["DROP TABLE;--", "ÄPFEL", "A" * 200, "a b", "'; --"])
async def test_malformed_symbol_is_422(
    client: httpx.AsyncClient, alice: Account, symbol: str
) -> None:
    response = await client.get(f"/api/v1/assets/{quote(symbol)}", headers=alice.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "symbol"


async def test_search_and_sectors_are_not_read_as_symbols(
    client: httpx.AsyncClient, alice: Account
) -> None:
    search = await client.get("/api/v1/assets/search", headers=alice.headers)
    assert search.status_code == 422  # a search without q or filter, not asset "SEARCH"
    sectors = await client.get("/api/v1/assets/sectors", headers=alice.headers)
    assert sectors.status_code == 200


async def test_sectors_count_assets(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db, SECTOR_FAMILY)
    response = await client.get("/api/v1/assets/sectors", headers=alice.headers)
    assert response.status_code == 200, response.text
    counts = {s["sector"]: s["asset_count"] for s in response.json()["data"]["items"]}
    assert counts["Test Sector Count"] == 3
    assert None not in counts


async def test_indices_list_with_member_counts(
    client: httpx.AsyncClient, alice: Account, db: Database, catalog_subset: CatalogLoadReport
) -> None:
    await ensure_assets(db, SECTOR_FAMILY)
    await ensure_index(db, INDEX_NAME, ["QDS1", "QDS2"])
    response = await client.get("/api/v1/indices", headers=alice.headers)
    assert response.status_code == 200, response.text
    counts = {i["name"]: i["member_count"] for i in response.json()["data"]["items"]}
    assert counts[INDEX_NAME] == 2
    assert counts["OMX Helsinki 25"] >= 20


async def test_index_detail_by_encoded_case_insensitive_name(
    client: httpx.AsyncClient, alice: Account, db: Database
) -> None:
    await ensure_assets(db, SECTOR_FAMILY)
    await ensure_index(db, INDEX_NAME, ["QDS1", "QDS2"])
    path = f"/api/v1/indices/{quote(INDEX_NAME.lower())}"
    assert "%26" in path
    response = await client.get(path, headers=alice.headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["name"] == INDEX_NAME
    assert data["member_count"] == 2
    assert [m["symbol"] for m in data["members"]] == ["QDS1", "QDS2"]


async def test_an_unknown_index_is_a_422_listing_the_valid_names(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport
) -> None:
    response = await client.get("/api/v1/indices/No%20Such%20Index", headers=alice.headers)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    detail = error["details"][0]
    assert detail["field"] == "name"
    assert "OMX Helsinki 25" in detail["valid"]
    assert "OMX Helsinki 25" in detail["reason"]
    assert "list_indices" in response.json()["next_actions"]


@pytest.mark.parametrize(
    "spelling", ["omx helsinki 25", "OMX-Helsinki-25", "OMXHelsinki25", "^OMXH25", "omxh25"]
)
async def test_an_index_is_found_by_common_spellings(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport, spelling: str
) -> None:
    response = await client.get(f"/api/v1/indices/{quote(spelling)}", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "OMX Helsinki 25"


async def test_a_universe_from_an_index_spelling_or_an_unknown_one(
    client: httpx.AsyncClient, alice: Account, catalog_subset: CatalogLoadReport
) -> None:
    created = await client.post(
        "/api/v1/universes",
        json={"name": "Helsinki", "from_index": "^OMXH25"},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["data"]["asset_count"] >= 20
    unknown = await client.post(
        "/api/v1/universes",
        json={"name": "Nope", "from_index": "OMX Tallinn"},
        headers=alice.headers,
    )
    assert unknown.status_code == 422, unknown.text
    detail = unknown.json()["error"]["details"][0]
    assert detail["field"] == "from_index"
    assert "OMX Helsinki 25" in detail["valid"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/assets/AAPL",
        "/api/v1/assets/sectors",
        "/api/v1/indices",
        "/api/v1/indices/DAX",
    ],
)
async def test_catalog_needs_authentication(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.json()["success"] is False
