from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update

from quantdesk.assets.catalog import CatalogLoadReport, CatalogSources, load_catalog
from quantdesk.assets.sources import CatalogReader, read_index_compositions
from quantdesk.kit.db import Database
from quantdesk.models import Asset, IndexMember, MarketIndex
from tests.assets.conftest import SUBSET


async def _asset(db: Database, symbol: str) -> Asset:
    async with db.transaction() as session:
        return (await session.execute(select(Asset).where(Asset.symbol == symbol))).scalar_one()


async def test_subset_load_creates_real_listings(
    catalog_subset: CatalogLoadReport, db: Database
) -> None:
    assert catalog_subset.created > 300
    assert catalog_subset.entries == (
        catalog_subset.created + catalog_subset.updated + catalog_subset.unchanged
    )
    stock = await _asset(db, "VIS.IC")
    assert stock.name == "Vátryggingafélag Íslands hf."
    assert stock.asset_class == "equity"
    assert stock.lookup_key == "VIS-IC"
    assert stock.country == "Iceland"
    assert stock.exchange == "Nasdaq Iceland"  # Yahoo's "ICE", kept in metadata
    assert stock.metadata_["exchange_code"] == "ICE"
    assert (stock.mic, stock.currency) == ("XICE", "ISK")  # from the venue table
    # What search reads: the folded words, and a place in the ranking.
    assert stock.search_text == "vatryggingafelag islands hf"
    assert stock.search_order is not None
    assert stock.validation_source == "catalog"
    assert stock.is_validated is True
    assert stock.last_validated_at is not None


async def test_crypto_list_wins_over_the_index_quote_of_the_same_pair(
    catalog_subset: CatalogLoadReport, db: Database
) -> None:
    bitcoin = await _asset(db, "BTC-USD")
    assert (bitcoin.name, bitcoin.asset_class) == ("Bitcoin", "crypto")
    assert catalog_subset.duplicates >= 5  # BTC/ETH/BNB/SOL/XRP-USD are also index quotes
    index_quote = await _asset(db, "^GSPC")
    assert (index_quote.name, index_quote.asset_class) == ("S&P 500", "index")
    assert index_quote.country == "United States"


async def test_index_members_are_placed_on_their_primary_listing(
    catalog_subset: CatalogLoadReport, db: Database
) -> None:
    assert catalog_subset.indices == 1
    async with db.transaction() as session:
        index = (
            await session.execute(select(MarketIndex).where(MarketIndex.name == "OMX Helsinki 25"))
        ).scalar_one()
        members = (
            (
                await session.execute(
                    select(Asset)
                    .join(IndexMember, IndexMember.asset_id == Asset.id)
                    .where(IndexMember.index_id == index.id)
                )
            )
            .scalars()
            .all()
        )
    assert index.country == "Finland"
    assert len(members) >= 20
    assert all(m.symbol.endswith(".HE") for m in members)
    # Members the stock files lack are created from the index data, on the Helsinki listing.
    assert catalog_subset.members_created > 0
    created = [m for m in members if m.metadata_.get("source") == "pytickersymbols"]
    assert created
    assert all(m.exchange == "Nasdaq Helsinki" for m in created)
    assert all(m.country == "Finland" for m in created)
    # The index data names sectors: every member gets one.
    assert all(m.sector for m in members)


async def test_reloading_changes_nothing_and_duplicates_nothing(
    catalog_subset: CatalogLoadReport, db: Database
) -> None:
    async def counts() -> tuple[int, int]:
        async with db.transaction() as session:
            assets = (await session.execute(select(func.count(Asset.id)))).scalar_one()
            members = (
                await session.execute(select(func.count()).select_from(IndexMember))
            ).scalar_one()
        return assets, members

    before = await counts()
    first = await load_catalog(db, sources=SUBSET)  # settles anything another test changed
    second = await load_catalog(db, sources=SUBSET)
    assert (second.created, second.updated) == (0, 0)
    assert second.unchanged == second.entries == first.entries
    assert (second.memberships_added, second.memberships_removed) == (0, 0)
    assert second.memberships == catalog_subset.memberships
    assert await counts() == before
    async with db.transaction() as session:
        duplicated = (
            await session.execute(
                select(Asset.lookup_key).group_by(Asset.lookup_key).having(func.count() > 1)
            )
        ).all()
    assert duplicated == []


async def test_reload_keeps_what_providers_filled(
    catalog_subset: CatalogLoadReport, db: Database
) -> None:
    async with db.transaction() as session:
        # A row a provider took over: its validation and its own values stay.
        await session.execute(
            update(Asset)
            .where(Asset.symbol == "EIM.IC")
            .values(
                market_cap=Decimal("123456789.25"),
                validation_source="yahoo",
                is_validated=False,
                name="Eimskip (provider name)",
            )
        )
        # A catalog row: values the catalog does not know are never blanked.
        await session.execute(
            update(Asset)
            .where(Asset.symbol == "VOICE.IC")
            .values(pe_ratio=Decimal("12.5"), sector="Communication Services")
        )
    report = await load_catalog(db, sources=SUBSET)
    assert report.created == 0

    provider_row = await _asset(db, "EIM.IC")
    assert provider_row.market_cap == Decimal("123456789.25")
    assert provider_row.validation_source == "yahoo"
    assert provider_row.is_validated is False
    assert provider_row.name == "Eimskip (provider name)"
    catalog_row = await _asset(db, "VOICE.IC")
    assert catalog_row.pe_ratio == Decimal("12.5")
    assert catalog_row.sector == "Communication Services"
    assert catalog_row.validation_source == "catalog"


async def test_a_slice_without_sources_reads_nothing(db: Database) -> None:
    nothing = CatalogSources(
        stock_countries=(),
        etfs=False,
        index_quotes=False,
        currencies=False,
        crypto=False,
        indices=(),
    )
    report = await load_catalog(db, sources=nothing)
    assert (report.entries, report.created, report.indices) == (0, 0, 0)


def test_invalid_symbols_are_skipped_and_counted() -> None:
    reader = CatalogReader()
    reader.read_stocks(["canada"])
    assert reader.stats.invalid > 0
    assert "-X.TO" in reader.stats.invalid_examples
    assert all(not s.startswith("-") for s in reader.entries)
    stats = reader.stats
    assert stats.rows == len(reader.entries) + stats.invalid + stats.unnamed + stats.duplicates


def test_index_member_candidates_use_yahoo_spellings() -> None:
    (sp500,) = read_index_compositions(["S&P 500"])
    berkshire = next(m for m in sp500.members if "Berkshire" in m.name)
    assert berkshire.candidates[0] == "BRK-B"  # BRK.B is Yahoo's BRK-B
    (dax,) = read_index_compositions(["DAX"])
    adidas = next(m for m in dax.members if m.name == "Adidas")
    assert adidas.candidates[0] == "ADS.DE"
    airbus = next(m for m in dax.members if m.name == "Airbus")
    assert "AIR.PA.DE" not in airbus.candidates
    assert "AIR.PA" in airbus.candidates


def test_stock_rows_get_readable_exchanges_countries_and_sectors() -> None:
    reader = CatalogReader()
    reader.read_stocks(["usa"])
    apple = reader.entries["AAPL"]
    assert (apple.exchange, apple.metadata["exchange_code"]) == ("NASDAQ", "NMS")
    assert apple.country == "United States"
    assert (apple.industry, apple.sector) == ("Electronic Equipment", "Technology")
    bank = reader.entries["BAC"]
    assert (bank.exchange, bank.sector) == ("NYSE", "Financials")
