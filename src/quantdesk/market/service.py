"""Business rules of market data. Other domains call this module (never the repository).

- ``validate_symbols``: the mixed strategy over many symbols (see ``market.validation``).
- ``admit_symbols``: what universes use when symbols the catalog lacks are added: valid ones get
  an asset row, "unknown for now" ones a *pending* row (queued for background validation),
  definitively invalid ones nothing.
- ``get_market_data``: the latest quote and profile of an asset (see ``market.quotes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.assets.symbols import lookup_key
from quantdesk.kit.orm import utcnow
from quantdesk.market import quotes, repository, validation
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.schemas import (
    MarketProfile,
    MarketQuote,
    ProvidersHealth,
    ValidationBatch,
    ValidationCounts,
    ValidationResult,
    ValidationStats,
)
from quantdesk.models import Asset, ValidationStatus


async def validate_symbols(
    session: AsyncSession, *, runtime: MarketRuntime, symbols: Sequence[str]
) -> ValidationBatch:
    run = await validation.validate(session, runtime, symbols)
    counts = ValidationCounts()
    for result in run.results:
        if result.valid == "unknown":
            counts.unknown += 1
        elif result.valid:
            counts.valid += 1
        else:
            counts.invalid += 1
    return ValidationBatch(results=run.results, counts=counts)


@dataclass(frozen=True)
class Admission:
    """What a symbol the catalog lacked became: an asset (maybe pending), or None (invalid)."""

    asset: Asset | None
    pending: bool
    result: ValidationResult


def _placeholder_row(result: ValidationResult, symbol: str) -> dict[str, object]:
    now = utcnow()
    return {
        "symbol": symbol,
        "lookup_key": lookup_key(symbol),
        "name": symbol,  # a placeholder until a provider names it
        "asset_class": validation.guess_asset_class(symbol, result.asset_class),
        "exchange": None,
        "is_validated": False,
        "validation_status": ValidationStatus.PENDING.value,
        "metadata": {},
        "created_at": now,
        "updated_at": now,
    }


async def admit_symbols(
    session: AsyncSession, *, runtime: MarketRuntime, symbols: Sequence[str]
) -> dict[str, Admission]:
    """Validate canonical symbols the catalog lacks and give each valid or unknown one a row.

    Call it before taking write locks: it may wait on providers (bounded by their timeouts).
    """
    run = await validation.validate(session, runtime, list(dict.fromkeys(symbols)))
    keep: dict[str, ValidationResult] = {}
    pending_rows = []
    for symbol, result in run.by_symbol.items():
        if result.valid is False:
            continue
        keep[symbol] = result
        if result.valid == "unknown":
            pending_rows.append(_placeholder_row(result, result.canonical_symbol or symbol))
    await repository.insert_pending_assets(session, pending_rows)
    targets = {symbol: r.canonical_symbol or symbol for symbol, r in keep.items()}
    found = await asset_service.resolve_symbols(session, list(dict.fromkeys(targets.values())))
    now = utcnow()
    admissions: dict[str, Admission] = {}
    for symbol, result in run.by_symbol.items():
        wanted = targets.get(symbol)
        asset = found.get(wanted) if wanted else None
        if wanted is not None and asset is None and result.valid is True:
            target = wanted
            # A cached "valid" whose row is gone (or was never committed): write it again.
            await repository.upsert_validated_asset(
                session,
                symbol=target,
                lookup_key=lookup_key(target),
                name=(result.name or target)[:255],
                asset_class=result.asset_class or validation.guess_asset_class(target),
                exchange=result.exchange[:32] if result.exchange else None,
                country=None,
                metadata={},
                source=result.source or "provider",
                now=now,
            )
            asset = (await asset_service.resolve_symbols(session, [target]))[target]
        pending = asset is not None and result.valid == "unknown"
        admissions[symbol] = Admission(asset=asset, pending=pending, result=result)
    return admissions


async def get_market_data(
    session: AsyncSession, *, runtime: MarketRuntime, asset: Asset
) -> tuple[MarketQuote | None, MarketProfile | None]:
    return await quotes.market_data(session, runtime, asset)


def validation_stats(runtime: MarketRuntime) -> ValidationStats:
    return runtime.stats.snapshot(
        provider_names=[p.name for p in runtime.providers], cache=runtime.cache.stats()
    )


async def providers_health(runtime: MarketRuntime) -> ProvidersHealth:
    return ProvidersHealth(providers=await runtime.health(), cache=runtime.cache.stats())
