"""Search finds the company a person means, and the catalog's data is right: checked on the whole
shipped catalog (loaded once per database kind, see conftest.full_catalog), SQLite and PostgreSQL.

The evaluation set is tests/assets/search_eval.tsv; ``make bench`` prints the same figures.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quantdesk.assets import service
from quantdesk.kit.db import Database
from quantdesk.models import Asset
from tests.assets.search_eval import load_eval_set, score


async def test_the_primary_listing_comes_first(full_catalog: Database) -> None:
    async with full_catalog.transaction() as session:

        async def search(q: str) -> list[str]:
            hits, _ = await service.search_assets(session, q=q, limit=3)
            return [hit.asset.symbol for hit in hits]

        scores = await score(load_eval_set(), search)
    for part in ("tune", "heldout", "all"):
        result = scores[part]
        assert result.total >= 40, part
        assert result.top1 / result.total >= 0.95, (result.line(part), scores["all"].misses)
        assert result.top3 == result.total, (result.line(part), scores["all"].misses)
    assert scores["all"].total >= 90


# symbol: (exchange, MIC, country, currency, name, sector)
WELL_KNOWN = {
    "AAPL": ("NASDAQ", "XNAS", "United States", "USD", "Apple Inc.", "Technology"),
    "MSFT": ("NASDAQ", "XNAS", "United States", "USD", "Microsoft Corporation", "Technology"),
    "META": ("NASDAQ", "XNAS", "United States", "USD", "Meta Platforms", "Communication Services"),
    "APC.F": ("Frankfurt", "XFRA", "Germany", "EUR", "Apple Inc.", "Technology"),
    "MSF.DE": ("XETRA", "XETR", "Germany", "EUR", "Microsoft Corporation", "Technology"),
    "7203.T": (
        "Tokyo", "XTKS", "Japan", "JPY", "Toyota Motor Corporation", "Consumer Discretionary"
    ),
    "NESN.SW": ("SIX Swiss", "XSWX", "Switzerland", "CHF", "Nestlé S.A.", "Consumer Staples"),
    "VOD.L": (
        "LSE", "XLON", "United Kingdom", "GBP", "Vodafone Group Plc", "Communication Services"
    ),
    "SAP.DE": ("XETRA", "XETR", "Germany", "EUR", "SAP SE", "Technology"),
    "TM": ("NYSE", "XNYS", "United States", "USD", "Toyota Motor Corporation",
           "Consumer Discretionary"),
    "SPY": ("NYSE Arca", "ARCX", "United States", "USD", "SPDR S&P 500 ETF Trust", None),
    "BTC-USD": (None, None, None, "USD", "Bitcoin", None),
    # The sector its company's other listings agree on (the source has none for this line).
    "AAPL.SW": ("SIX Swiss", "XSWX", "Switzerland", "CHF", "Apple Inc.", "Technology"),
}  # fmt: skip


@pytest.mark.parametrize("symbol", sorted(WELL_KNOWN))
async def test_well_known_listings_carry_the_right_data(
    full_catalog: Database, symbol: str
) -> None:
    async with full_catalog.transaction() as session:
        asset = (await session.execute(select(Asset).where(Asset.symbol == symbol))).scalar_one()
    found = (asset.exchange, asset.mic, asset.country, asset.currency, asset.name, asset.sector)
    assert found == WELL_KNOWN[symbol]


@pytest.mark.parametrize("spelling", ["S&P 500", "SP500", "s&p-500", "^GSPC", "S&P 500 index"])
async def test_an_index_is_found_by_its_common_spellings(
    full_catalog: Database, spelling: str
) -> None:
    async with full_catalog.transaction() as session:
        found = await service.get_index_with_assets(session, spelling)
        nasdaq = await service.find_index(session, "NASDAQ-100")
    assert found is not None
    assert found[0].name == "S&P 500"
    assert len(found[1]) > 400
    assert nasdaq is not None
    assert nasdaq.name == "NASDAQ 100"


async def test_every_currency_is_known_for_listings_on_known_venues(
    full_catalog: Database,
) -> None:
    async with full_catalog.transaction() as session:
        rows = (
            await session.execute(
                select(Asset.symbol, Asset.exchange, Asset.currency, Asset.mic).where(
                    Asset.asset_class == "equity", Asset.mic.is_not(None)
                )
            )
        ).all()
    without = [symbol for symbol, _, currency, _ in rows if currency is None]
    # Only LSE's international lines ("0R2V.L"), which trade in their own currency, have none.
    assert all(symbol.startswith("0") and symbol.endswith(".L") for symbol in without)
    assert len(rows) > 80_000
