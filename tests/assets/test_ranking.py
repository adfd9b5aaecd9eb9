"""The search order computed at catalog load: the listing a person means comes first."""

from __future__ import annotations

from quantdesk.assets.ranking import Listing, search_orders


def _equity(
    symbol: str, name: str, exchange: str, country: str, indices: int = 0, weight: int = 0
) -> Listing:
    return Listing(symbol, name, "equity", exchange, country, None, indices, weight)


def _first(orders: dict[str, int], symbols: list[str]) -> list[str]:
    return sorted(symbols, key=orders.__getitem__)


# A US company listed everywhere, and an obscure namesake.
US_COMPANY = [
    _equity("QDAP.F", "Quillodz Inc.", "Frankfurt", "Germany"),
    _equity("QDAP.DE", "QUILLODZ INC.", "XETRA", "Germany"),
    _equity("QDAP.MX", "Quillodz Inc.", "BMV", "Mexico"),
    _equity("QDAP.SW", "Quillodz Inc.", "SIX Swiss", "Switzerland"),
    _equity("QDAP34.SA", "Quillodz Inc.", "B3", "Brazil"),
    _equity("0QDA.L", "Quillodz Inc.", "LSE", "United Kingdom"),
    _equity("QDAP", "Quillodz Inc.", "NASDAQ", "United States"),
    _equity("QDAPF", "Quillodz Inc.", "OTC", "United States"),
]
NAMESAKE = [_equity("QDZF.BO", "Quillodz Finance Ltd", "BSE", "India")]
# A Japanese company with a NYSE receipt, German lines and an OTC line.
JAPANESE = [
    _equity("QDJY", "Quillodz Motor Co., Ltd.", "OTC", "United States"),
    _equity("QDJ.DE", "Quillodz Motor Co., Ltd.", "XETRA", "Germany"),
    _equity("QDJ", "Quillodz Motor Co., Ltd.", "NYSE", "United States"),
    _equity("9999.T", "Quillodz Motor Co., Ltd.", "Tokyo", "Japan"),
]


def test_a_us_company_is_found_on_its_us_listing_before_any_namesake() -> None:
    orders = search_orders(US_COMPANY + NAMESAKE)
    ranked = _first(orders, [item.symbol for item in US_COMPANY + NAMESAKE])
    assert ranked[0] == "QDAP"
    # The namesake's own primary listing comes next: one line per company first...
    assert ranked[1] == "QDZF.BO"
    # ...and receipts, foreign lines and OTC never before the US listing.
    assert ranked.index("QDAP.F") > ranked.index("QDAP")


def test_a_foreign_company_is_found_at_home_then_on_its_us_receipt() -> None:
    orders = search_orders(JAPANESE)
    assert _first(orders, [item.symbol for item in JAPANESE])[:2] == ["9999.T", "QDJ"]


def test_index_membership_decides_between_companies_and_listings() -> None:
    small_but_indexed = [_equity("QDX.PA", "Quillodz Bank SA", "Euronext Paris", "France", 1)]
    orders = search_orders(US_COMPANY + small_but_indexed)
    # Eight venues list the US company, yet the index member is the better-known company.
    assert orders["QDX.PA"] < orders["QDAP"]
    # Inside one company, the index member is the primary listing...
    single = [
        _equity("QDD.AS", "Quillodz NV", "Euronext Amsterdam", "Netherlands"),
        _equity("QDD.L", "Quillodz NV", "LSE", "United Kingdom", 1, 8),
    ]
    assert _first(search_orders(single), ["QDD.AS", "QDD.L"]) == ["QDD.L", "QDD.AS"]
    # ...and of two members of national indices, the one in the larger market.
    dual = [
        _equity("QDE.ST", "Quillodz AB", "Nasdaq Stockholm", "Sweden", 1, 4),
        _equity("QDE.L", "Quillodz AB", "LSE", "United Kingdom", 1, 8),
    ]
    assert _first(search_orders(dual), ["QDE.ST", "QDE.L"]) == ["QDE.L", "QDE.ST"]


def test_a_home_listing_under_its_us_ticker_is_not_a_foreign_line() -> None:
    group = [
        _equity("QDI", "Quillodz Systems Limited", "NYSE", "United States"),
        _equity("QDI.NS", "Quillodz Systems Limited", "NSE", "India"),
        _equity("QDI.BO", "Quillodz Systems Limited", "BSE", "India"),
        _equity("QDI.PA", "Quillodz Systems Limited", "Euronext Paris", "France"),
    ]
    orders = search_orders(group)
    assert _first(orders, [item.symbol for item in group])[0] == "QDI.NS"
    assert orders["QDI.PA"] > orders["QDI"]  # Paris under the US ticker: a foreign line


def test_orders_are_a_permutation_and_stable() -> None:
    listings = US_COMPANY + NAMESAKE + JAPANESE
    orders = search_orders(listings)
    assert sorted(orders.values()) == list(range(1, len(listings) + 1))
    assert search_orders(list(reversed(listings))) == orders
