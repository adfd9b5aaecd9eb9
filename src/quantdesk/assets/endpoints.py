"""HTTP surface of the asset catalog: global data, readable by any authenticated user.

One asset with its market data (`GET /assets/{symbol}`) is served by ``market.endpoints``.

Index names contain spaces and "&" ("S&P 500"): percent-encode them in the path
(``/api/v1/indices/S%26P%20500``); the lookup ignores case and punctuation and knows common
spellings ("SP500", "^GSPC"); an unknown name is a 422 listing the valid ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from quantdesk.assets import service
from quantdesk.assets.schemas import (
    AssetSearchResult,
    AssetSummary,
    IndexDetail,
    IndexList,
    IndexSummary,
    SectorCount,
    SectorList,
)
from quantdesk.auth.dependencies import CurrentUser
from quantdesk.kit.db import DbSession
from quantdesk.kit.envelope import Envelope, ok
from quantdesk.kit.pagination import Page
from quantdesk.models.asset import AssetClass

router = APIRouter(tags=["assets"])

_UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Envelope[None], "description": "Missing or invalid bearer token"}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": Envelope[None], "description": "Invalid input (error.details name the field)"}
}
_UNKNOWN_INDEX: dict[int | str, dict[str, Any]] = {
    422: {
        "model": Envelope[None],
        "description": "Unknown index name: error.details[0].valid lists the names that exist",
    }
}


# Declared before /assets/{symbol} so that "search" and "sectors" are never read as symbols.
@router.get(
    "/assets/search",
    response_model=Envelope[Page[AssetSearchResult]],
    responses={**_UNAUTHORIZED, **_INVALID},
)
async def search_assets(
    session: DbSession,
    user: CurrentUser,
    q: Annotated[
        str,
        Query(
            max_length=service.MAX_QUERY_LENGTH,
            description="Symbol or name words (1-64 characters). May be empty only with a filter.",
        ),
    ] = "",
    sector: Annotated[
        str | None, Query(max_length=128, description="Exact sector name, as list_sectors gives it")
    ] = None,
    asset_class: AssetClass | None = None,
    exchange: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Exchange by name, MIC or Yahoo code, in any case: nasdaq, XETR, LSE",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
) -> Envelope[Page[AssetSearchResult]]:
    """Search the catalog for the company a person means: the exact symbol first (a crypto by
    its short name: btc, eth), then symbols starting with the query and names whose words start
    with the query's words (accents, apostrophes and hyphens ignored; known aliases such as
    "google"), the primary listing of the most prominent company first. When nothing matches,
    words one or two typing errors away are tried. Each result says how it matched. An empty
    query lists, by symbol, every asset the filters allow (a filter is then required)."""
    hits, next_cursor = await service.search_assets(
        session,
        q=q,
        sector=sector,
        asset_class=asset_class.value if asset_class else None,
        exchange=exchange,
        limit=limit,
        cursor=cursor,
    )
    items = [
        AssetSearchResult(**AssetSummary.model_validate(h.asset).model_dump(), match=h.match)
        for h in hits
    ]
    return ok(
        Page[AssetSearchResult](items=items, next_cursor=next_cursor),
        f"{len(items)} asset(s) found",
        next_actions=["get_asset", "search_assets"],
        returned=len(items),
    )


@router.get("/assets/sectors", response_model=Envelope[SectorList], responses=_UNAUTHORIZED)
async def list_sectors(session: DbSession, user: CurrentUser) -> Envelope[SectorList]:
    """Sectors of the catalog with how many assets each holds."""
    sectors = await service.list_sectors(session)
    items = [SectorCount(sector=s, asset_count=n) for s, n in sectors]
    return ok(
        SectorList(items=items),
        f"{len(items)} sector(s)",
        next_actions=["search_assets"],
        sector_count=len(items),
    )


@router.get("/indices", response_model=Envelope[IndexList], responses=_UNAUTHORIZED)
async def list_indices(session: DbSession, user: CurrentUser) -> Envelope[IndexList]:
    """The market indices of the catalog with their member counts."""
    indices = await service.list_indices(session)
    items = [
        IndexSummary(name=index.name, country=index.country, member_count=count)
        for index, count in indices
    ]
    return ok(
        IndexList(items=items),
        f"{len(items)} index(es)",
        next_actions=["get_index"],
        index_count=len(items),
    )


@router.get(
    "/indices/{name}",
    response_model=Envelope[IndexDetail],
    responses={**_UNAUTHORIZED, **_UNKNOWN_INDEX},
)
async def get_index(
    session: DbSession,
    user: CurrentUser,
    name: Annotated[
        str,
        Path(
            max_length=64,
            description='Index name, URL-encoded ("S%26P%20500"); case, spaces and punctuation '
            'do not matter, and common spellings work ("SP500", "^GSPC", "NASDAQ-100")',
        ),
    ],
) -> Envelope[IndexDetail]:
    """An index and its members (every member, by symbol). An unknown name is a 422 that lists
    the valid ones."""
    index, members = await service.get_index(session, name=name)
    detail = IndexDetail(
        name=index.name,
        country=index.country,
        member_count=len(members),
        members=[AssetSummary.model_validate(a) for a in members],
    )
    return ok(
        detail,
        f"{index.name}: {len(members)} member(s)",
        next_actions=["get_asset", "create_universe"],
        member_count=len(members),
    )
