"""What the loader derives from the sources before writing: each listing's venue (exchange,
country, MIC, currency), sectors its company's other listings agree on, and the search fields
(folded words, place in the ranking)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace

from quantdesk.assets import reference, venues
from quantdesk.assets.catalog_repository import AssetState
from quantdesk.assets.names import company_key, search_words
from quantdesk.assets.ranking import Listing, search_orders
from quantdesk.assets.sources import CatalogEntry
from quantdesk.models.asset import AssetClass

_CURRENCY_PAIR = re.compile(r"(?:[A-Z]{3})?([A-Z]{3})=X")
SearchFields = tuple[str, int]  # search_text, search_order


def place_listing(entry: CatalogEntry) -> None:
    """Exchange, country, MIC and currency from the listing's venue: its symbol's suffix (MSF.DE
    trades on XETRA whatever exchange code the source gives), else the source's exchange code.
    Crypto and currency pairs trade in their quote currency; an index quote in its country's."""
    if entry.asset_class in (AssetClass.EQUITY, AssetClass.ETF):
        by_suffix = venues.suffix_venue(entry.symbol)
        by_code = venues.venue(entry.exchange)
        same = by_code is not None and by_suffix is not None and by_code.mic == by_suffix.mic
        venue = by_code if same else by_suffix or by_code
        if venue is None:
            return
        entry.exchange, entry.country, entry.mic = venue.name, venue.country, venue.mic
        # LSE's "0..." lines are foreign shares traded in their own currency.
        foreign_line = venue.name == "LSE" and entry.symbol[:1] == "0"
        entry.currency = None if foreign_line else venue.currency
    elif entry.asset_class == AssetClass.CRYPTO:
        entry.currency = entry.metadata.get("quote_currency") or entry.symbol.rpartition("-")[2]
    elif entry.asset_class == AssetClass.CURRENCY:
        match = _CURRENCY_PAIR.fullmatch(entry.symbol)
        entry.currency = match.group(1) if match else None
    elif entry.asset_class == AssetClass.INDEX:
        entry.currency = venues.country_currency().get(entry.country or "")


def fill_sectors(entries: dict[str, CatalogEntry]) -> None:
    """A listing without a sector takes the one its company's other listings agree on."""
    groups: dict[str, list[CatalogEntry]] = defaultdict(list)
    for entry in entries.values():
        if entry.asset_class == AssetClass.EQUITY:
            groups[company_key(entry.name)].append(entry)
    for members in groups.values():
        sectors = Counter(m.sector for m in members if m.sector)
        if not sectors or all(m.sector for m in members):
            continue
        sector = sectors.most_common(1)[0][0]
        for member in members:
            member.sector = member.sector or sector


def search_text(name: str) -> str:
    """The words search finds a listing by: its name's folded words and compounds, and its
    company's aliases (see ``names.search_words``); the symbol is indexed beside them."""
    aliases = reference.COMPANY_ALIASES.get(company_key(name), ())
    return search_words(name, aliases)[:512]


def search_fields(
    entries: dict[str, CatalogEntry],
    states: dict[str, AssetState],
    memberships: dict[str, set[str]],
) -> dict[str, SearchFields]:
    """Search text and order of every asset: this load's entries and the stored rest."""
    listings = [
        Listing(e.symbol, e.name, e.asset_class, e.exchange, e.country, e.sector, 0)
        for e in entries.values()
    ]
    listings += [
        Listing(s.symbol, s.name, s.asset_class, s.exchange, s.country, s.sector, 0)
        for s in states.values()
        if s.symbol not in entries
    ]
    weights = reference.INDEX_WEIGHTS
    listings = [
        replace(
            item,
            indices=len(memberships.get(item.symbol, ())),
            index_weight=sum(weights.get(name, 1) for name in memberships.get(item.symbol, ())),
        )
        for item in listings
    ]
    orders = search_orders(listings)
    return {item.symbol: (search_text(item.name), orders[item.symbol]) for item in listings}
