"""Latest quote and profile of an asset: cache → fresh database row → providers → last known.

The ``quote`` and ``profile`` datasets come from the provider chain (``MarketRuntime.fetch``: the
configured providers in order; CoinGecko answers crypto pairs only). Every live answer is cached
and kept in the database as the last known value; when no provider can answer, that value is
served with ``stale: true``, or null when there is none. Provider trouble never fails the caller.
Simulated data keeps ``source: "sim"``, and a simulated profile is never copied onto the asset row
(its facts are not real).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.kit.db import Database, after_commit
from quantdesk.kit.orm import utcnow
from quantdesk.market import repository
from quantdesk.market.providers.datasets import PROFILE, QUOTE, Profile, Quote, SymbolQuery
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import MarketProfile, MarketQuote
from quantdesk.models import Asset, AssetClass, AssetProfile, AssetQuote

QUOTE_KIND = "quote"
PROFILE_KIND = "profile"
_MAX_STORABLE = Decimal(10) ** 28  # NUMERIC(38, 10): 28 digits before the point
_PROFILE_FACTS = ("sector", "industry", "market_cap", "pe_ratio", "dividend_yield")


def _age_seconds(moment: datetime, now: datetime) -> float:
    return (now - moment).total_seconds()


def _is_crypto(asset: Asset) -> bool:
    return asset.asset_class == AssetClass.CRYPTO.value


def _quote_from_row(row: AssetQuote, *, crypto: bool, stale: bool) -> MarketQuote:
    return MarketQuote(
        price=row.price,
        change=row.change,
        change_percent=row.change_percent,
        change_24h_percent=row.change_percent if crypto else None,
        volume=row.volume,
        market_cap=row.market_cap,
        currency=row.currency,
        as_of=row.as_of,
        source=row.source,
        stale=stale,
    )


def _fits(value: Decimal | None) -> Decimal | None:
    """The value if NUMERIC(38, 10) can hold it; a provider's absurd number becomes unknown."""
    if value is None or not value.is_finite() or abs(value) >= _MAX_STORABLE:
        return None
    return value


def _text(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _quote_values(asset_id: int, value: Quote, now: datetime) -> dict[str, Any] | None:
    """The row for a live quote; None when its price cannot be stored (nothing sensible to show)."""
    price = _fits(value.price)
    if price is None:
        return None
    return {
        "asset_id": asset_id,
        "price": price,
        "change": _fits(value.change),
        "change_percent": _fits(value.change_percent),
        "volume": _fits(value.volume),
        "market_cap": _fits(value.market_cap),
        "currency": _text(value.currency, 8),
        "as_of": _aware(value.as_of),
        "source": value.source[:32],
        "fetched_at": now,
    }


def _profile_from_row(row: AssetProfile, *, stale: bool) -> MarketProfile:
    return MarketProfile(
        sector=row.sector,
        industry=row.industry,
        country=row.country,
        currency=row.currency,
        market_cap=row.market_cap,
        pe_ratio=row.pe_ratio,
        dividend_yield=row.dividend_yield,
        description=row.description,
        website=row.website,
        as_of=row.fetched_at,
        source=row.source,
        stale=stale,
    )


def _profile_values(asset_id: int, value: Profile, now: datetime) -> dict[str, Any]:
    return {
        "asset_id": asset_id,
        "name": _text(value.name, 255),
        "exchange": _text(value.exchange, 32),
        "sector": _text(value.sector, 128),
        "industry": _text(value.industry, 128),
        "country": _text(value.country, 64),
        "currency": _text(value.currency, 8),
        "market_cap": _fits(value.market_cap),
        "pe_ratio": _fits(value.pe_ratio),
        "dividend_yield": _fits(value.dividend_yield),
        "description": value.description,
        "website": _text(value.website, 255),
        "source": value.source[:32],
        "fetched_at": now,
    }


async def _fetch_quote(runtime: MarketRuntime, asset: Asset) -> Quote | None:
    outcome = await runtime.fetch(QUOTE, SymbolQuery(symbol=asset.symbol))
    return outcome.value if outcome.answered else None


async def _fetch_profile(runtime: MarketRuntime, asset: Asset) -> Profile | None:
    outcome = await runtime.fetch(PROFILE, SymbolQuery(symbol=asset.symbol))
    return outcome.value if outcome.answered else None


async def _none() -> None:
    return None


@dataclass
class KnownData:
    """What the database holds for an asset: its last quote and profile (each may be None)."""

    quote: AssetQuote | None
    profile: AssetProfile | None


async def load_known(session: AsyncSession, asset_id: int) -> KnownData:
    return KnownData(
        quote=await repository.get_quote(session, asset_id),
        profile=await repository.get_profile(session, asset_id),
    )


async def market_data(
    db: Database,
    runtime: MarketRuntime,
    asset: Asset,
    known: KnownData,
    *,
    user_id: uuid.UUID | None = None,
) -> tuple[MarketQuote | None, MarketProfile | None]:
    """The asset's latest quote and profile, each with ``source``, ``as_of`` and ``stale``.

    Cache, then the rows in ``known`` (read by the caller), then the providers with no
    transaction open; what they answered is written in one short transaction, and cached once
    it has committed. Call it with no transaction open.
    """
    settings = runtime.settings
    now = utcnow()
    crypto = _is_crypto(asset)
    quote_ttl, profile_ttl = settings.cache_ttl_quote_seconds, settings.cache_ttl_profile_seconds

    quote: MarketQuote | None = None
    cached = await runtime.cache.get(QUOTE_KIND, asset.symbol)
    if cached is not None:
        quote = MarketQuote.model_validate(cached)
    profile: MarketProfile | None = None
    cached = await runtime.cache.get(PROFILE_KIND, asset.symbol)
    if cached is not None:
        profile = MarketProfile.model_validate(cached)

    quote_row = known.quote if quote is None else None
    if quote_row is not None and _age_seconds(quote_row.fetched_at, now) < quote_ttl:
        quote = _quote_from_row(quote_row, crypto=crypto, stale=False)
    profile_row = known.profile if profile is None else None
    if profile_row is not None and _age_seconds(profile_row.fetched_at, now) < profile_ttl:
        profile = _profile_from_row(profile_row, stale=False)

    fetched_quote, fetched_profile = await asyncio.gather(
        _fetch_quote(runtime, asset) if quote is None else _none(),
        _fetch_profile(runtime, asset) if profile is None else _none(),
    )
    quote_values = (
        _quote_values(asset.id, fetched_quote, now) if fetched_quote is not None else None
    )
    profile_values = (
        _profile_values(asset.id, fetched_profile, now) if fetched_profile is not None else None
    )
    if quote_values is not None:
        quote = _quote_from_row(AssetQuote(**quote_values), crypto=crypto, stale=False)
    elif quote is None and quote_row is not None:
        quote = _quote_from_row(quote_row, crypto=crypto, stale=True)
    if profile_values is not None:
        profile = _profile_from_row(AssetProfile(**profile_values), stale=False)
    elif profile is None and profile_row is not None:
        profile = _profile_from_row(profile_row, stale=True)

    if quote_values is None and profile_values is None:
        return quote, profile
    async with db.transaction(user_id=user_id, system=user_id is None) as session:
        if quote_values is not None:
            await repository.upsert_quote(session, quote_values)
        if profile_values is not None and fetched_profile is not None:
            await repository.upsert_profile(session, profile_values)
            if fetched_profile.source not in _simulated_names(runtime):
                facts = {k: profile_values.get(k) for k in _PROFILE_FACTS}
                country = profile_values.get("country")
                written = await asset_service.record_profile_facts(
                    session, asset_id=asset.id, facts=facts, country=country, now=now
                )
                # The caller's (detached) copy of the asset as the write left the row.
                for name, value in written.items():
                    setattr(asset, name, value)
        to_cache: list[tuple[str, dict[str, Any], int]] = []
        if quote_values is not None and quote is not None:
            to_cache.append((QUOTE_KIND, quote.model_dump(mode="json"), quote_ttl))
        if profile_values is not None and profile is not None:
            to_cache.append((PROFILE_KIND, profile.model_dump(mode="json"), profile_ttl))

        async def publish() -> None:
            for kind, payload, ttl in to_cache:
                await runtime.cache.set(kind, asset.symbol, payload, ttl)

        after_commit(session, publish)
    return quote, profile


def _simulated_names(runtime: MarketRuntime) -> set[str]:
    return {p.name for p in runtime.providers if p.simulated}
