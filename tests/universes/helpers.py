"""Helpers for universe tests: bulk test assets, API shortcuts and a snapshot of stored state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, insert, select

from quantdesk.assets.symbols import lookup_key
from quantdesk.kit.db import Database
from quantdesk.models import Asset, Universe, UniverseAsset, UniverseChange
from quantdesk.models.asset import AssetClass
from tests.factories import Account

API = "/api/v1/universes"
BULK_PREFIX = "TST"


def bulk_symbol(n: int) -> str:
    return f"{BULK_PREFIX}{n:05d}"


async def ensure_bulk_assets(db: Database, count: int) -> list[str]:
    """TST00001..TST<count> in the catalog (created once, in one bulk insert); their symbols."""
    symbols = [bulk_symbol(n) for n in range(1, count + 1)]
    async with db.transaction() as session:
        existing = set(
            (
                await session.execute(
                    select(Asset.symbol).where(Asset.symbol.like(f"{BULK_PREFIX}%"))
                )
            ).scalars()
        )
        missing = [s for s in symbols if s not in existing]
        if missing:
            await session.execute(
                insert(Asset),
                [
                    {
                        "symbol": s,
                        "lookup_key": lookup_key(s),
                        "name": f"Test Asset {s[len(BULK_PREFIX) :]}",
                        "asset_class": str(AssetClass.EQUITY),
                        "exchange": "TEST",
                        "sector": "Testing",
                        "validation_source": "test",
                        "metadata_": {},
                    }
                    for s in missing
                ],
            )
    return symbols


async def create_universe(
    client: httpx.AsyncClient, account: Account, name: str = "Core", **body: Any
) -> dict[str, Any]:
    response = await client.post(API, json={"name": name, **body}, headers=account.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def change(
    client: httpx.AsyncClient,
    account: Account,
    universe_id: str,
    add: list[Any] | None = None,
    remove: list[Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {}
    if add is not None:
        body["add"] = add
    if remove is not None:
        body["remove"] = remove
    return await client.post(f"{API}/{universe_id}/assets", json=body, headers=account.headers)


async def get_detail(
    client: httpx.AsyncClient, account: Account, universe_id: str
) -> dict[str, Any]:
    response = await client.get(f"{API}/{universe_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def member_pages(
    client: httpx.AsyncClient, account: Account, universe_id: str, limit: int | None = None
) -> list[list[dict[str, Any]]]:
    """Every page of the universe's members, following ``next_cursor`` to the last one."""
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {} if limit is None else {"limit": limit}
    while True:
        response = await client.get(
            f"{API}/{universe_id}/assets", params=params, headers=account.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        pages.append(page["items"])
        if page["next_cursor"] is None:
            return pages
        params = {**params, "cursor": page["next_cursor"]}


async def members_of(
    client: httpx.AsyncClient, account: Account, universe_id: str, limit: int = 1000
) -> list[dict[str, Any]]:
    pages = await member_pages(client, account, universe_id, limit)
    return [member for page in pages for member in page]


async def symbols_of(client: httpx.AsyncClient, account: Account, universe_id: str) -> list[str]:
    return [a["symbol"] for a in await members_of(client, account, universe_id)]


@dataclass(frozen=True)
class Snapshot:
    """Everything stored about a user's universes, for 'nothing changed' assertions."""

    universes: list[tuple[str, str, str | None]]
    members: list[tuple[str, str, int, dict[str, Any]]]
    change_count: int


async def snapshot(db: Database, owner_id: uuid.UUID) -> Snapshot:
    async with db.transaction(user_id=owner_id) as session:
        universes = (
            await session.execute(
                select(Universe.id, Universe.name, Universe.description)
                .where(Universe.owner_id == owner_id)
                .order_by(Universe.name)
            )
        ).all()
        members = (
            await session.execute(
                select(UniverseAsset.universe_id, Asset.symbol, UniverseAsset.position)
                .add_columns(UniverseAsset.metadata_)
                .join(Asset, Asset.id == UniverseAsset.asset_id)
                .where(UniverseAsset.owner_id == owner_id)
                .order_by(UniverseAsset.universe_id, UniverseAsset.position)
            )
        ).all()
        changes = (
            await session.execute(select(func.count()).where(UniverseChange.owner_id == owner_id))
        ).scalar_one()
    return Snapshot(
        universes=[(str(u.id), u.name, u.description) for u in universes],
        members=[(str(m[0]), m[1], m[2], dict(m[3])) for m in members],
        change_count=int(changes),
    )
