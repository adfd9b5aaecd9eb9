"""What an order trades and at what price: the asset from the catalog, and its quote from the
market-data engine's store, fetched on demand when older than ``QUANTDESK_TRADING_QUOTE_MAX_AGE_
SECONDS`` (a market order fills now; it cannot wait for the refresh queue).

Assets quoted in a currency other than the account's are refused (``currency_not_supported``):
converting at a recorded FX rate needs an FX dataset the providers do not serve yet, and a
conversion nobody can check is worse than a clear refusal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.events import EventBus
from quantdesk.kit.orm import utcnow
from quantdesk.market.engine import store
from quantdesk.market.engine.reads import fresh_value
from quantdesk.market.runtime import MarketRuntime

QUOTE = "quote"


@dataclass(frozen=True)
class Tradable:
    """An asset as an order needs it."""

    symbol: str
    asset_class: str
    exchange: str | None
    currency: str | None


@dataclass(frozen=True)
class TradeQuote:
    """The price an order is measured against, with where and when it came from."""

    price: Decimal
    as_of: datetime
    source: str
    fresh: bool  # no older than the trading maximum age
    volume: Decimal | None = None  # as the provider reports it (dollars for crypto pairs)


async def tradable(
    session: AsyncSession, *, viewer_id: uuid.UUID, symbol: str, currency: str
) -> Tradable:
    """The catalog's asset (404 if unknown, 422 if quoted in another currency)."""
    asset = await asset_service.get_visible_asset(session, symbol=symbol, viewer_id=viewer_id)
    if asset.currency is not None and asset.currency.upper() != currency:
        raise InvalidInput(
            f"{asset.symbol} trades in {asset.currency}; this account holds {currency} and "
            "quantdesk does not convert currencies yet",
            field="symbol",
            reason="currency_not_supported",
        )
    return Tradable(asset.symbol, asset.asset_class, asset.exchange, asset.currency)


async def stored_quote(
    session: AsyncSession, symbol: str, *, settings: Settings
) -> TradeQuote | None:
    """The store's quote of ``symbol`` as the trade quote, read in the caller's transaction
    (fresh when no older than the trading maximum age); None when it was never priced."""
    (stored,) = await store.read_values(
        session, [(symbol, QUOTE)],
        ttls={QUOTE: max(1, int(settings.trading_quote_max_age_seconds))}, now=utcnow(),
    )  # fmt: skip
    return from_stored(stored.value, stored.as_of, stored.source, fresh=not stored.stale)


async def trade_quote(
    db: Database,
    runtime: MarketRuntime,
    symbol: str,
    *,
    settings: Settings,
    bus: EventBus | None = None,
) -> TradeQuote | None:
    """The quote to trade ``symbol`` at, fetched now if the stored one is too old; None when
    no provider has ever priced it. Call it with no transaction open."""
    found = await fresh_value(
        db,
        runtime=runtime,
        symbol=symbol,
        data_type=QUOTE,
        max_age_seconds=settings.trading_quote_max_age_seconds,
        budget_seconds=settings.market_read_budget_seconds,
        bus=bus,
    )
    return from_stored(found.value, found.as_of, found.source, fresh=not found.stale)


def from_stored(
    value: object, as_of: datetime | None, source: str | None, *, fresh: bool
) -> TradeQuote | None:
    """A stored quote value (JSON: decimals as strings) as a trade quote; None without a price."""
    if not isinstance(value, dict) or as_of is None or source is None:
        return None
    try:
        price = Decimal(str(value["price"]))
    except (KeyError, InvalidOperation):
        return None
    if not price.is_finite() or price <= 0:
        return None
    return TradeQuote(price=price, as_of=as_of, source=source, fresh=fresh, volume=_volume(value))


def _volume(value: dict[str, object]) -> Decimal | None:
    raw = value.get("volume")
    if raw is None:
        return None
    try:
        volume = Decimal(str(raw))
    except InvalidOperation:
        return None
    return volume if volume.is_finite() and volume > 0 else None
