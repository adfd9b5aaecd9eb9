"""The catalog's search order, computed once at load: which listing a person means by a name.

Listings of one company (same ``company_key`` and class) form a group. Each group has a
prominence: index memberships first (curated, recent), then how many venues list it (the
German floors and OTC list every company people trade). Inside a group the primary listing is
the index member, else a home-market listing, else the main US one; receipts (BDRs, CEDEARs),
foreign lines (AAPL.MX beside AAPL), regional floors and OTC come last.

``search_order`` sorts: every group's primary listing, best group first; then the groups' other
main listings; then the rest. Search returns matches in this order, so it reads from an index.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from quantdesk.assets import venues
from quantdesk.assets.names import company_key
from quantdesk.models.asset import AssetClass

_BRAZILIAN_RECEIPT = re.compile(r"\d*(3[1-59])F?\.SA$|F\.SA$")  # BDRs and odd-lot lines
_INDEX_POINTS = 100  # one index membership outweighs any number of venues
_MAX_INDICES = 3
_MAX_VENUES = 40
_CLASS_BONUS: dict[str, int] = {AssetClass.CRYPTO: 150, AssetClass.INDEX: 120}


@dataclass(frozen=True)
class Listing:
    symbol: str
    name: str
    asset_class: str
    exchange: str | None
    country: str | None
    sector: str | None
    indices: int  # how many indices count it as a member
    index_weight: int = 0  # how large their markets are (reference.INDEX_WEIGHTS), summed


def _home_country(members: list[Listing]) -> str | None:
    """The country most of the group's listings are in: counting the venues that rarely list
    foreign companies first (Samsung's KRX lines, not its London GDRs), else all but Germany and
    the US, whose floors list companies from everywhere."""
    for hubs_count in (False, True):
        votes = Counter(
            m.country
            for m in members
            if m.country
            and m.country not in ("Germany", venues.US)
            and (hubs_count or m.exchange not in venues.CROSS_LISTING_HUBS)
            and m.exchange not in venues.SECONDARY_VENUES
        )
        if votes:
            return max(votes, key=lambda country: (votes[country], country))
    return None


def _venue_rank(listing: Listing, us_symbols: set[str], abroad_main: bool, home: str | None) -> int:
    """4 home market, 3 main US or a home market's second venue (BSE beside NSE), 2 a hub's
    own listing, 1 secondary or foreign line."""
    name = listing.exchange or ""
    symbol = listing.symbol
    if listing.asset_class in (AssetClass.CRYPTO, AssetClass.INDEX, AssetClass.CURRENCY):
        return 4
    if name in venues.SECONDARY_VENUES or not name:
        return 1
    if name == "LSE" and symbol[:1] == "0":  # LSE's international lines of foreign shares
        return 1
    if name == "B3" and _BRAZILIAN_RECEIPT.search(symbol):
        return 1
    if name in venues.US_MAIN or name in venues.SECOND_HOME_VENUES:
        return 3
    # A foreign line under the US ticker (AAPL.MX, INFY.PA beside AAPL, INFY); INFY.NS is home.
    if symbol.rpartition(".")[0] in us_symbols and (
        name in venues.CROSS_LISTING_HUBS or listing.country != home
    ):
        return 1
    if name in venues.CROSS_LISTING_HUBS:
        return 1 if abroad_main else 2
    return 4


def search_orders(listings: Iterable[Listing]) -> dict[str, int]:
    """Symbol -> position in the search order (1 is the listing most worth showing first)."""
    groups: dict[tuple[str, str], list[Listing]] = defaultdict(list)
    for listing in listings:
        key = company_key(listing.name) or listing.symbol.lower()
        groups[(listing.asset_class, key)].append(listing)

    keyed: list[tuple[tuple[int, ...], int, str, str]] = []
    for (asset_class, _), members in groups.items():
        us_symbols = {m.symbol for m in members if m.exchange in venues.US_MAIN}
        abroad_main = any(
            m.exchange
            and m.exchange not in venues.SECONDARY_VENUES
            and m.exchange not in venues.CROSS_LISTING_HUBS
            and m.exchange not in venues.US_MAIN
            for m in members
        )
        home = _home_country(members)
        indices = max(m.indices for m in members)
        prominence = (
            _INDEX_POINTS * min(indices, _MAX_INDICES)
            + min(len(members), _MAX_VENUES)
            + _CLASS_BONUS.get(asset_class, 0)
        )
        ranked = sorted(
            sorted(members, key=lambda m: m.symbol),  # ties keep symbol order, whatever came in
            key=lambda m: (
                m.index_weight,
                m.indices,
                _venue_rank(m, us_symbols, abroad_main, home),
                m.country == home,
                m.sector is not None,
                -len(m.symbol),
            ),
            reverse=True,
        )
        for position, member in enumerate(ranked):
            venue_rank = _venue_rank(member, us_symbols, abroad_main, home)
            # Index members stay beside the primary listing: GOOG beside GOOGL.
            tier = 2 if position == 0 or member.indices else (1 if venue_rank >= 3 else 0)
            keyed.append(
                ((-tier, -prominence, position), len(member.name), member.symbol, member.symbol)
            )
    keyed.sort()
    return {symbol: order for order, (*_, symbol) in enumerate(keyed, start=1)}
