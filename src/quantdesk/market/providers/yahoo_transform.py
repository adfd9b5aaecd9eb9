"""Yahoo Finance's raw JSON shapes as our models: pure functions, tested on recorded answers.

Traps handled here: ``regularMarketChangePercent`` is in percent on the v7 quote endpoint (and in
``Ticker.info``, which is built from it) but a fraction in quoteSummary's ``price`` module; numbers
may come wrapped as ``{"raw", "fmt"}``; an unknown symbol is ``result: []`` (v7) or
``result: null`` with a "Not Found" error (quoteSummary); search results include entries with no
``symbol`` (news-like "quotes"), which are skipped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from quantdesk.market.providers._values import from_epoch, to_decimal, to_text, utcnow
from quantdesk.market.providers.base import ProviderUnavailable
from quantdesk.market.providers.datasets import Dividend, Profile, Quote, SymbolInfo

NAME = "yahoo"
_HUNDRED = Decimal(100)
_QUOTE_TYPES = {
    "EQUITY": "equity",
    "ETF": "etf",
    "MUTUALFUND": "fund",
    "MONEYMARKET": "fund",
    "INDEX": "index",
    "CRYPTOCURRENCY": "crypto",
    "CURRENCY": "currency",
    "FUTURE": "future",
    "OPTION": "option",
}


def asset_class(quote_type: Any) -> str | None:
    text = to_text(quote_type)
    return _QUOTE_TYPES.get(text.upper(), text.lower()) if text else None


def _same(symbol: Any, wanted: str) -> bool:
    return isinstance(symbol, str) and symbol.upper() == wanted.upper()


def _name(entry: dict[str, Any]) -> str | None:
    return to_text(
        entry.get("longName")
        or entry.get("longname")
        or entry.get("shortName")
        or entry.get("shortname")
    )


def _result_list(body: Any, envelope: str) -> list[Any] | None:
    """``body[envelope]["result"]``; raises when the answer is not that shape or carries an error.

    ``None`` means Yahoo said the symbol is not found.
    """
    section = body.get(envelope) if isinstance(body, dict) else None
    if not isinstance(section, dict):
        raise ProviderUnavailable(NAME, f"unexpected answer (no {envelope})")
    error = section.get("error")
    if error:
        code = str(error.get("code", "")) if isinstance(error, dict) else str(error)
        if code.lower().replace(" ", "") == "notfound":
            return None
        raise ProviderUnavailable(NAME, f"{envelope} error: {code[:80]}")
    result = section.get("result")
    if result is None:
        return None
    if not isinstance(result, list):
        raise ProviderUnavailable(NAME, f"unexpected answer ({envelope}.result is not a list)")
    return result


def _v7_entry(symbol: str, body: Any) -> dict[str, Any] | None:
    results = _result_list(body, "quoteResponse")
    entries = [entry for entry in results or [] if isinstance(entry, dict)]
    for entry in entries:
        if _same(entry.get("symbol"), symbol):
            return entry
    return entries[0] if entries else None


def quote_from_flat(
    symbol: str, data: dict[str, Any], *, percent_unit: Literal["percent", "fraction"]
) -> Quote:
    """A quote from a flat dict: a v7 result, quoteSummary's ``price`` module or ``Ticker.info``.

    ``percent_unit`` says how ``regularMarketChangePercent`` is expressed in that shape.
    """
    price = to_decimal(data.get("regularMarketPrice"))
    if price is None:
        price = to_decimal(data.get("currentPrice"))
    if price is None:
        raise ProviderUnavailable(NAME, f"no price for {symbol}")
    change_percent = to_decimal(data.get("regularMarketChangePercent"))
    if change_percent is not None and percent_unit == "fraction":
        change_percent *= _HUNDRED
    return Quote(
        symbol=to_text(data.get("symbol")) or symbol,
        price=price,
        change=to_decimal(data.get("regularMarketChange")),
        change_percent=change_percent,
        volume=to_decimal(data.get("regularMarketVolume")),
        market_cap=to_decimal(data.get("marketCap")),
        currency=to_text(data.get("currency")),
        as_of=from_epoch(data.get("regularMarketTime")) or utcnow(),
        source=NAME,
    )


def quote_from_v7(symbol: str, body: Any) -> Quote | None:
    """``/v7/finance/quote`` answer: ``quoteResponse.result[]``, percent in percent units."""
    entry = _v7_entry(symbol, body)
    return None if entry is None else quote_from_flat(symbol, entry, percent_unit="percent")


def quotes_from_v7(body: Any) -> dict[str, Quote]:
    """A many-symbol v7 answer: one quote per entry, keyed by the upper-case symbol Yahoo gives
    (unknown symbols are simply absent)."""
    found: dict[str, Quote] = {}
    for entry in _result_list(body, "quoteResponse") or []:
        if not isinstance(entry, dict):
            continue
        symbol = to_text(entry.get("symbol"))
        if symbol is None:
            continue
        if (
            to_decimal(entry.get("regularMarketPrice")) is None
            and entry.get("currentPrice") is None
        ):
            continue  # listed but never priced (a delisted line): nothing to show
        found[symbol.upper()] = quote_from_flat(symbol, entry, percent_unit="percent")
    return found


def dividends_from_chart(symbol: str, body: Any) -> list[Dividend]:
    """``/v8/finance/chart?events=div``: ``result[0].events.dividends`` is an object keyed by
    epoch-seconds strings; a range without data has no ``events`` at all. Newest first."""
    results = _result_list(body, "chart")
    first = results[0] if results else None
    if not isinstance(first, dict):
        return []
    events = first.get("events")
    dividends = events.get("dividends") if isinstance(events, dict) else None
    if not isinstance(dividends, dict):
        return []
    found = []
    for event in dividends.values():
        if not isinstance(event, dict):
            continue
        moment, amount = from_epoch(event.get("date")), to_decimal(event.get("amount"))
        if moment is None or amount is None:
            continue
        found.append(Dividend(symbol=symbol, ex_date=moment.date(), amount=amount, source=NAME))
    return sorted(found, key=lambda d: d.ex_date, reverse=True)


def quote_from_summary(symbol: str, body: Any) -> Quote | None:
    """``/v10/finance/quoteSummary?modules=price`` answer: percent as a fraction."""
    module = _summary_modules(symbol, body).get("price")
    if module is None:
        return None
    return quote_from_flat(symbol, module, percent_unit="fraction")


def symbol_info_from_v7(symbol: str, body: Any) -> SymbolInfo | None:
    entry = _v7_entry(symbol, body)
    if entry is None:
        return None
    return SymbolInfo(
        symbol=to_text(entry.get("symbol")) or symbol,
        name=_name(entry),
        exchange=to_text(entry.get("fullExchangeName") or entry.get("exchange")),
        asset_class=asset_class(entry.get("quoteType")),
        currency=to_text(entry.get("currency")),
        source=NAME,
    )


def symbol_info_from_search(symbol: str, body: Any) -> SymbolInfo | None:
    """The search hit spelt exactly ``symbol``; ``None`` if none (no proof of absence)."""
    quotes = body.get("quotes") if isinstance(body, dict) else None
    if not isinstance(quotes, list):
        raise ProviderUnavailable(NAME, "unexpected search answer (no quotes)")
    for entry in quotes:
        if isinstance(entry, dict) and _same(entry.get("symbol"), symbol):
            return SymbolInfo(
                symbol=str(entry["symbol"]),
                name=_name(entry),
                exchange=to_text(entry.get("exchDisp") or entry.get("exchange")),
                asset_class=asset_class(entry.get("quoteType")),
                source=NAME,
            )
    return None


def _summary_modules(symbol: str, body: Any) -> dict[str, dict[str, Any]]:
    results = _result_list(body, "quoteSummary")
    first = results[0] if results else None
    if not isinstance(first, dict):
        return {}
    return {key: value for key, value in first.items() if isinstance(value, dict)}


def profile_from_summary(symbol: str, body: Any) -> Profile | None:
    """quoteSummary with modules ``price``, ``assetProfile`` and ``summaryDetail``."""
    modules = _summary_modules(symbol, body)
    if not modules:
        return None
    price = modules.get("price", {})
    company = modules.get("assetProfile", {})
    detail = modules.get("summaryDetail", {})
    return Profile(
        symbol=to_text(price.get("symbol")) or symbol,
        name=_name(price),
        exchange=to_text(price.get("exchangeName") or price.get("exchange")),
        asset_class=asset_class(price.get("quoteType")),
        sector=to_text(company.get("sector")),
        industry=to_text(company.get("industry")),
        country=to_text(company.get("country")),
        currency=to_text(price.get("currency") or detail.get("currency")),
        market_cap=to_decimal(price.get("marketCap") or detail.get("marketCap")),
        pe_ratio=to_decimal(detail.get("trailingPE")),
        dividend_yield=to_decimal(detail.get("dividendYield")),  # a fraction in quoteSummary
        description=to_text(company.get("longBusinessSummary")),
        website=to_text(company.get("website")),
        source=NAME,
    )
