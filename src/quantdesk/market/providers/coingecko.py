"""CoinGecko (https://docs.coingecko.com/reference/introduction) over httpx, for crypto assets.

CoinGecko prices coins by *id* ("bitcoin"), not by ticker, and tickers are not unique across
coins ("acc" is two coins, "eth" dozens of tokens). A ticker resolves to an id in this order:
1. ``PREFERRED_IDS``, shipped, for the majors (every coin of our catalog): no request needed;
2. ``/coins/list`` (fetched once, cached ``COIN_LIST_TTL_SECONDS``): the only coin with that
   ticker, or among several the one whose id is its own name ("acchain" = "ACChain"), then the
   shortest id; ties broken by id, so the choice is stable.
Symbols are accepted as our catalog spells them ("BTC-USD") or bare ("BTC"). A pair against
another currency, or anything shaped like a listed security (``VOD.L``, ``^GSPC``), is
``ProviderUnsupported``; so is a bare ticker that is no coin ("AAPL": CoinGecko cannot say it
does not exist). A ``-USD`` pair whose base is no coin is unknown (``None``).

Quotes are asked for many coins at once: ``/simple/price?ids=a,b,...`` is one call; only ``-USD``
pairs are covered (a stock never costs a CoinGecko call).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from quantdesk.market.providers._http import HttpApi, retry_after_seconds
from quantdesk.market.providers._values import from_epoch, to_decimal, utcnow
from quantdesk.market.providers.base import (
    BatchFetcher,
    Fetcher,
    Provider,
    ProviderAuthError,
    ProviderThrottled,
    ProviderUnavailable,
    ProviderUnsupported,
)
from quantdesk.market.providers.datasets import (
    Dataset,
    Quote,
    SymbolInfo,
    SymbolQuery,
    SymbolsQuery,
)

NAME = "coingecko"
COIN_LIST_TTL_SECONDS = 24 * 3600
# Free plan: a 429 without Retry-After clears within the minute window.
_DEFAULT_RETRY_SECONDS = 60.0
_BASE = re.compile(r"^[A-Z0-9]{1,20}$")
# Coin ids per /simple/price call (the URL stays well under common length limits).
PRICE_BATCH = 100

# Ticker -> (CoinGecko id, name) of the majors: every coin of assets/catalog_data/crypto.json.
PREFERRED_IDS: dict[str, tuple[str, str]] = {
    "BTC": ("bitcoin", "Bitcoin"),
    "ETH": ("ethereum", "Ethereum"),
    "USDT": ("tether", "Tether"),
    "XRP": ("ripple", "XRP"),
    "BNB": ("binancecoin", "BNB"),
    "SOL": ("solana", "Solana"),
    "USDC": ("usd-coin", "USD Coin"),
    "DOGE": ("dogecoin", "Dogecoin"),
    "ADA": ("cardano", "Cardano"),
    "TRX": ("tron", "TRON"),
    "TON": ("the-open-network", "Toncoin"),
    "AVAX": ("avalanche-2", "Avalanche"),
    "SHIB": ("shiba-inu", "Shiba Inu"),
    "LINK": ("chainlink", "Chainlink"),
    "DOT": ("polkadot", "Polkadot"),
    "BCH": ("bitcoin-cash", "Bitcoin Cash"),
    "LTC": ("litecoin", "Litecoin"),
    "XLM": ("stellar", "Stellar"),
    "UNI": ("uniswap", "Uniswap"),
    "ATOM": ("cosmos", "Cosmos"),
    "XMR": ("monero", "Monero"),
    "ETC": ("ethereum-classic", "Ethereum Classic"),
    "NEAR": ("near", "NEAR Protocol"),
    "APT": ("aptos", "Aptos"),
    "FIL": ("filecoin", "Filecoin"),
    "ICP": ("internet-computer", "Internet Computer"),
    "HBAR": ("hedera-hashgraph", "Hedera"),
    "ARB": ("arbitrum", "Arbitrum"),
    "OP": ("optimism", "Optimism"),
    "AAVE": ("aave", "Aave"),
    "ALGO": ("algorand", "Algorand"),
    "SUI": ("sui", "Sui"),
    "DAI": ("dai", "Dai"),
    "WBTC": ("wrapped-bitcoin", "Wrapped Bitcoin"),
    "MATIC": ("matic-network", "Polygon"),
    "POL": ("polygon-ecosystem-token", "POL (ex-MATIC)"),
}


@dataclass(frozen=True)
class CoinRef:
    symbol: str  # the symbol as asked ("BTC-USD" or "BTC")
    base: str  # the ticker ("BTC")
    is_pair: bool  # asked as a -USD pair: it claims to be a coin


@dataclass(frozen=True)
class Coin:
    id: str
    name: str


def parse_symbol(symbol: str) -> CoinRef:
    """``BTC-USD`` or ``BTC``; anything else is not a symbol CoinGecko can price in USD."""
    text = symbol.strip().upper()
    base, is_pair = (text[:-4], True) if text.endswith("-USD") else (text, False)
    if not _BASE.match(base):
        raise ProviderUnsupported(NAME, f"{symbol!r} is not a crypto symbol (BASE or BASE-USD)")
    return CoinRef(symbol=text, base=base, is_pair=is_pair)


def choose_coin(candidates: list[dict[str, Any]]) -> Coin | None:
    """Among coins sharing a ticker: the one whose id is its name, then the shortest id."""

    def rank(entry: dict[str, Any]) -> tuple[bool, bool, int, str]:
        coin_id, name = str(entry["id"]), str(entry.get("name") or "")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        return (coin_id != name.lower(), coin_id != slug, len(coin_id), coin_id)

    valid = [entry for entry in candidates if isinstance(entry.get("id"), str) and entry["id"]]
    if not valid:
        return None
    best = min(valid, key=rank)
    return Coin(id=str(best["id"]), name=str(best.get("name") or best["id"]))


class CoinGeckoApi(HttpApi):
    def __init__(self, *, base_url: str, timeout: float, api_key: str | None, **kwargs: Any):
        # Demo keys go in x-cg-demo-api-key; the paid plans use their own host and header.
        header = "x-cg-pro-api-key" if "pro-api." in base_url else "x-cg-demo-api-key"
        headers = {header: api_key} if api_key else {}
        super().__init__(
            NAME, base_url=base_url, timeout=timeout, api_key=api_key, headers=headers, **kwargs
        )
        self._coins_by_symbol: dict[str, list[dict[str, Any]]] | None = None
        self._coins_loaded_at = 0.0
        self._coins_lock = asyncio.Lock()

    async def call(self, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self.get(path, params)
        status = response.status_code
        if status == 200:
            return self.json(response)
        if status == 429:
            retry_after = retry_after_seconds(response.headers)
            raise ProviderThrottled(
                NAME,
                "HTTP 429 (rate limited)",
                retry_after=_DEFAULT_RETRY_SECONDS if retry_after is None else retry_after,
            )
        if status in (401, 403):
            raise ProviderAuthError(NAME, f"HTTP {status}: {self.quote(response.text)}")
        raise self.server_error(response)

    async def coins_by_symbol(self) -> dict[str, list[dict[str, Any]]]:
        """``/coins/list`` grouped by upper-case ticker, refreshed once a day."""
        async with self._coins_lock:
            fresh = time.monotonic() - self._coins_loaded_at < COIN_LIST_TTL_SECONDS
            if self._coins_by_symbol is None or not fresh:
                body = await self.call("/coins/list")
                if not isinstance(body, list):
                    raise ProviderUnavailable(NAME, "unexpected /coins/list answer (not a list)")
                grouped: dict[str, list[dict[str, Any]]] = {}
                for entry in body:
                    if isinstance(entry, dict) and isinstance(entry.get("symbol"), str):
                        grouped.setdefault(entry["symbol"].upper(), []).append(entry)
                self._coins_by_symbol = grouped
                self._coins_loaded_at = time.monotonic()
            return self._coins_by_symbol

    async def resolve(self, ref: CoinRef) -> Coin | None:
        """The coin behind a ticker; ``None`` when CoinGecko lists no coin with it."""
        preferred = PREFERRED_IDS.get(ref.base)
        if preferred is not None:
            return Coin(id=preferred[0], name=preferred[1])
        coins = await self.coins_by_symbol()
        return choose_coin(coins.get(ref.base, []))


def _no_coin(ref: CoinRef) -> None:
    """A -USD pair with no coin behind it does not exist; a bare ticker may still be a stock."""
    if not ref.is_pair:
        raise ProviderUnsupported(NAME, f"{ref.symbol} is not a coin CoinGecko knows")


class CoinGeckoLookupFetcher(Fetcher[SymbolQuery, SymbolInfo | None]):
    def __init__(self, api: CoinGeckoApi) -> None:
        self.api = api

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"ref": parse_symbol(query.symbol)}

    async def extract(self, params: dict[str, Any]) -> Any:
        ref: CoinRef = params["ref"]
        coin = await self.api.resolve(ref)
        if coin is None:
            _no_coin(ref)
        return {"ref": ref, "coin": coin}

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        ref: CoinRef = raw["ref"]
        coin: Coin | None = raw["coin"]
        if coin is None:
            return None
        return SymbolInfo(
            symbol=ref.symbol, name=coin.name, asset_class="crypto", currency="USD", source=NAME
        )


def _price(market: dict[str, Any]) -> Decimal:
    price = to_decimal(market.get("usd"))
    if price is None:
        raise ProviderUnsupported(NAME, "no USD price")
    return price


def is_usd_pair(symbol: str) -> bool:
    try:
        return parse_symbol(symbol).is_pair
    except ProviderUnsupported:
        return False


class CoinGeckoQuoteFetcher(BatchFetcher[Quote | None]):
    """Quotes of ``-USD`` pairs; the change is over 24 h and the volume is traded USD."""

    max_symbols: ClassVar[int] = PRICE_BATCH

    def __init__(self, api: CoinGeckoApi) -> None:
        self.api = api

    def covers_symbol(self, symbol: str) -> bool:
        return is_usd_pair(symbol)

    def transform_batch_query(self, query: SymbolsQuery) -> dict[str, Any]:
        return {"refs": {asked: parse_symbol(asked) for asked in query.symbols}}

    async def extract(self, params: dict[str, Any]) -> Any:
        refs: dict[str, CoinRef] = params["refs"]
        coins: dict[str, Coin | None] = {}
        for asked, ref in refs.items():
            coin = await self.api.resolve(ref)
            if coin is None:
                _no_coin(ref)
            coins[asked] = coin
        ids = sorted({coin.id for coin in coins.values() if coin is not None})
        if not ids:
            return {"refs": refs, "coins": coins, "body": {}}
        body = await self.api.call(
            "/simple/price",
            {
                "ids": ",".join(ids),
                "vs_currencies": "usd",
                "include_market_cap": "true",
                "include_24hr_vol": "true",
                "include_24hr_change": "true",
                "include_last_updated_at": "true",
            },
        )
        if not isinstance(body, dict):
            raise ProviderUnavailable(NAME, "unexpected /simple/price answer (not an object)")
        return {"refs": refs, "coins": coins, "body": body}

    def transform_batch(self, query: SymbolsQuery, raw: Any) -> dict[str, Quote | None]:
        found: dict[str, Quote | None] = {}
        for asked, coin in raw["coins"].items():
            # No coin behind the pair, or an id CoinGecko no longer prices (delisted, renamed).
            market = None if coin is None else raw["body"].get(coin.id)
            if market is None:
                found[asked] = None
                continue
            if not isinstance(market, dict):
                raise ProviderUnavailable(NAME, f"unexpected /simple/price entry for {coin.id}")
            found[asked] = Quote(
                symbol=raw["refs"][asked].symbol,
                price=_price(market),
                change_percent=to_decimal(market.get("usd_24h_change")),
                volume=to_decimal(market.get("usd_24h_vol")),  # traded value in USD over 24 h
                market_cap=to_decimal(market.get("usd_market_cap")),
                currency="USD",
                as_of=from_epoch(market.get("last_updated_at")) or utcnow(),
                source=NAME,
            )
        return found


class CoinGeckoProvider(Provider):
    name = NAME

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.coingecko.com/api/v3",
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api = CoinGeckoApi(base_url=base_url, timeout=timeout, api_key=api_key, http=http)
        super().__init__(
            {
                Dataset.LOOKUP: CoinGeckoLookupFetcher(self.api),
                Dataset.QUOTE: CoinGeckoQuoteFetcher(self.api),
            }
        )

    async def aclose(self) -> None:
        await self.api.aclose()
