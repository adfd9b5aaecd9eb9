"""Membership rules: which assets a universe holds, in which order, and the change log of it."""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets import service as asset_service
from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.kit.db import Database
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.orm import utcnow
from quantdesk.market import service as market_service
from quantdesk.market.runtime import MarketRuntime
from quantdesk.market.validation import Validation
from quantdesk.models import Asset, Universe, ValidationStatus
from quantdesk.universes import repository
from quantdesk.universes.errors import InvalidItems, UniverseNotFound
from quantdesk.universes.schemas import (
    MAX_UNIVERSE_ASSETS,
    MembershipCounts,
    MembershipResult,
    SymbolResult,
)

# Error messages list at most this many offending symbols; the count says how many in all.
_LISTED = 20


@dataclass(frozen=True)
class ParsedSymbol:
    raw: str
    symbol: str | None
    reason: str | None = None


@dataclass(frozen=True)
class AddItem:
    raw: str
    metadata: dict[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=65_536)  # a change parses its symbols twice (before and under lock)
def parse_symbol(raw: str) -> ParsedSymbol:
    try:
        return ParsedSymbol(raw=raw, symbol=canonical_symbol(raw))
    except InvalidSymbol as exc:
        return ParsedSymbol(raw=raw, symbol=None, reason=str(exc))


def listing(symbols: Iterable[str]) -> str:
    """'A, B, C' or 'A, B, ... and 7 more' for error messages."""
    items = list(symbols)
    shown = ", ".join(items[:_LISTED])
    return shown if len(items) <= _LISTED else f"{shown} ... and {len(items) - _LISTED} more"


async def lock_universe(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, now: datetime
) -> Universe:
    """The owner's universe, write-locked for this transaction; 404 for anyone else's."""
    if not await repository.touch_universe(
        session, owner_id=owner_id, universe_id=universe_id, now=now
    ):
        raise UniverseNotFound()
    universe = await repository.get_universe(session, owner_id=owner_id, universe_id=universe_id)
    if universe is None:  # pragma: no cover - the row was just updated in this transaction
        raise UniverseNotFound()
    return universe


@dataclass(frozen=True)
class Additions:
    """What symbols to add resolve to, checked before the write transaction: the canonical
    symbols, and the market's answers (``market.service.check_symbols``) for those the catalog
    lacks. ``resolve_additions`` turns it into assets inside the write transaction."""

    symbols: list[str]
    checked: Validation | None = None


def _needs_check(asset: Asset | None) -> bool:
    # Unknown to the catalog, or pending (another user's, or still unconfirmed): ask again.
    return asset is None or asset.validation_status == ValidationStatus.PENDING.value


async def check_additions(
    db: Database,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID | None,
    symbols: Sequence[str],
    market: MarketRuntime | None,
) -> Additions:
    """Look the canonical symbols up in the catalog (one short read transaction, which also
    checks the universe is the owner's: nobody's provider quota is spent for a 404), then ask
    the market about the misses with no transaction open. Writes nothing."""
    wanted = list(dict.fromkeys(symbols))
    async with db.transaction(user_id=owner_id, readonly=True) as session:
        if (
            universe_id is not None
            and await repository.get_universe(session, owner_id=owner_id, universe_id=universe_id)
            is None
        ):
            raise UniverseNotFound()
        resolved = await asset_service.resolve_symbols(session, wanted) if wanted else {}
    misses = [symbol for symbol, asset in resolved.items() if _needs_check(asset)]
    if market is None or not misses:
        return Additions(wanted)
    checked = await market_service.check_symbols(
        db, runtime=market, user_id=owner_id, symbols=misses
    )
    return Additions(wanted, checked)


async def resolve_additions(
    session: AsyncSession, additions: Additions, *, owner_id: uuid.UUID
) -> dict[str, Asset | None]:
    """In the write transaction: record the market's answers (valid symbols become assets, those
    no provider can check now private pending ones) and map every symbol to its asset, or None
    when it is unknown or was refuted."""
    admitted = (
        await market_service.admit_symbols(session, additions.checked, owner_id=owner_id)
        if additions.checked is not None
        else {}
    )
    resolved = await asset_service.resolve_symbols(session, additions.symbols)
    for symbol, asset in resolved.items():
        if symbol in admitted:
            resolved[symbol] = admitted[symbol].asset
        elif asset is not None and (
            asset.validation_status == ValidationStatus.INVALID.value or _needs_check(asset)
        ):
            resolved[symbol] = None
    return resolved


def is_pending(asset: Asset) -> bool:
    return asset.validation_status == ValidationStatus.PENDING.value


def parse_strictly(raws: Sequence[str], *, field_name: str) -> list[ParsedSymbol]:
    """Every input parsed; 422 naming each malformed one (before any lookup)."""
    parsed = [parse_symbol(raw) for raw in raws]
    details = [
        {"field": f"{field_name}.{i}", "reason": f"{p.raw!r}: {p.reason}"}
        for i, p in enumerate(parsed)
        if p.symbol is None
    ]
    if details:
        raise InvalidItems(f"{len(details)} malformed symbol(s) in {field_name}", details)
    return parsed


def require_all(
    parsed: Sequence[ParsedSymbol], resolved: dict[str, Asset | None], *, field_name: str
) -> list[Asset]:
    """Assets for every input in order; 422 naming each unknown symbol."""
    assets: list[Asset] = []
    details = []
    for i, p in enumerate(parsed):
        asset = resolved.get(p.symbol or "")
        if asset is None:
            details.append({"field": f"{field_name}.{i}", "reason": f"unknown symbol {p.symbol}"})
        else:
            assets.append(asset)
    if details:
        raise InvalidItems(f"{len(details)} unknown symbol(s) in {field_name}", details)
    return assets


def member_rows(
    universe: Universe,
    assets: Sequence[tuple[Asset, int, dict[str, str]]],
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Membership rows and their 'added' change rows, ready for bulk insert (column names)."""
    members = [
        {
            "universe_id": universe.id,
            "asset_id": asset.id,
            "owner_id": universe.owner_id,
            "position": position,
            "added_at": now,
            "metadata": metadata,
        }
        for asset, position, metadata in assets
    ]
    changes = [change_row(universe, asset, "added", now) for asset, _, _ in assets]
    return members, changes


def change_row(
    universe: Universe, asset: Asset, action: Literal["added", "removed"], now: datetime
) -> dict[str, Any]:
    return {
        "universe_id": universe.id,
        "owner_id": universe.owner_id,
        "asset_id": asset.id,
        "symbol": asset.symbol,
        "action": action,
        "occurred_at": now,
    }


def _check_no_overlap(
    add: Sequence[ParsedSymbol],
    remove: Sequence[ParsedSymbol],
    resolved: dict[str, Asset | None],
) -> None:
    def keys(items: Sequence[ParsedSymbol]) -> dict[object, str]:
        found: dict[object, str] = {}
        for p in items:
            if p.symbol is not None:
                asset = resolved.get(p.symbol)
                found[("asset", asset.id) if asset else ("symbol", p.symbol)] = p.symbol
        return found

    added, removed = keys(add), keys(remove)
    both = [added[k] for k in added if k in removed]
    if both:
        raise InvalidInput(
            "A symbol cannot be both added and removed",
            field="remove",
            reason=f"listed in both add and remove: {listing(both)}",
        )


async def apply_changes(
    session: AsyncSession,
    *,
    universe: Universe,
    add: Sequence[AddItem],
    remove: Sequence[str],
    now: datetime,
    to_add: dict[str, Asset | None] | None = None,
) -> tuple[list[SymbolResult], int]:
    """Apply the valid part of a change in bulk; a result per input, and the new member count.

    The universe must already be locked (``lock_universe``). ``to_add`` is what
    ``resolve_additions`` found for the symbols to add; without it they are looked up in the
    catalog only. Nothing is written when the change is refused as a
    whole (same symbol in add and remove, or the universe would grow too large).
    """
    parsed_add = [parse_symbol(item.raw) for item in add]
    parsed_remove = [parse_symbol(raw) for raw in remove]
    known = to_add or {}
    wanted = [
        p.symbol
        for p in (*parsed_add, *parsed_remove)
        if p.symbol is not None and p.symbol not in known
    ]
    resolved = await asset_service.resolve_symbols(session, wanted) if wanted else {}
    for p in parsed_add:  # a symbol a provider refuted is not added, even if a row remains
        asset = resolved.get(p.symbol or "")
        if asset is not None and asset.validation_status == ValidationStatus.INVALID.value:
            resolved[p.symbol or ""] = None
    resolved.update(known)
    _check_no_overlap(parsed_add, parsed_remove, resolved)

    members = await repository.member_positions(
        session, owner_id=universe.owner_id, universe_id=universe.id
    )
    next_position = max(members.values(), default=-1) + 1
    results: list[SymbolResult] = []
    removed: list[Asset] = []
    added: list[tuple[Asset, int, dict[str, str]]] = []

    def outcome(p: ParsedSymbol, action: Literal["add", "remove"]) -> Asset | None:
        if p.symbol is None:
            results.append(
                SymbolResult(
                    input=p.raw,
                    action=action,
                    symbol=None,
                    status="invalid_format",
                    reason=p.reason,
                )
            )
            return None
        asset = resolved.get(p.symbol)
        if asset is None:
            results.append(
                SymbolResult(
                    input=p.raw,
                    action=action,
                    symbol=p.symbol,
                    status="unknown_symbol",
                    reason="no asset with this symbol in the catalog",
                )
            )
        return asset

    for item, p in zip(add, parsed_add, strict=True):
        asset = outcome(p, "add")
        if asset is None:
            continue
        if asset.id in members:
            status: Literal["added", "added_pending", "already_present"] = "already_present"
        else:
            status = "added_pending" if is_pending(asset) else "added"
            members[asset.id] = next_position
            added.append((asset, next_position, dict(item.metadata)))
            next_position += 1
        results.append(SymbolResult(input=p.raw, action="add", symbol=asset.symbol, status=status))
    for p in parsed_remove:
        asset = outcome(p, "remove")
        if asset is None:
            continue
        if members.pop(asset.id, None) is None:
            results.append(
                SymbolResult(
                    input=p.raw, action="remove", symbol=asset.symbol, status="not_present"
                )
            )
        else:
            removed.append(asset)
            results.append(
                SymbolResult(input=p.raw, action="remove", symbol=asset.symbol, status="removed")
            )

    if len(members) > MAX_UNIVERSE_ASSETS:
        raise InvalidInput(
            "The universe would grow too large",
            field="add",
            reason=f"a universe holds at most {MAX_UNIVERSE_ASSETS} assets "
            f"(this change would make {len(members)})",
        )
    await repository.delete_members(
        session,
        owner_id=universe.owner_id,
        universe_id=universe.id,
        asset_ids=[a.id for a in removed],
    )
    member_inserts, change_inserts = member_rows(universe, added, now)
    await repository.insert_members(session, member_inserts)
    await repository.insert_changes(
        session, [change_row(universe, a, "removed", now) for a in removed] + change_inserts
    )
    return results, len(members)


def count_statuses(statuses: Iterable[str]) -> MembershipCounts:
    return MembershipCounts.model_validate(Counter(statuses))


def symbols_of(items: Sequence[AddItem]) -> list[str]:
    return [p.symbol for p in (parse_symbol(item.raw) for item in items) if p.symbol]


async def add_items(
    session: AsyncSession,
    additions: Additions,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    add: Sequence[AddItem],
    remove: Sequence[str] = (),
) -> tuple[list[SymbolResult], int]:
    """The write half of a membership change, in the caller's transaction: record what the
    market said, lock the universe, apply (see ``apply_changes``)."""
    to_add = await resolve_additions(session, additions, owner_id=owner_id)
    now = utcnow()
    universe = await lock_universe(session, owner_id=owner_id, universe_id=universe_id, now=now)
    return await apply_changes(
        session, universe=universe, add=add, remove=remove, now=now, to_add=to_add
    )


async def change_members(
    db: Database,
    *,
    owner_id: uuid.UUID,
    universe_id: uuid.UUID,
    add: Sequence[str],
    remove: Sequence[str],
    market: MarketRuntime | None = None,
) -> MembershipResult:
    """Add and remove in one go; with ``market``, symbols the catalog lacks are validated.

    Providers are asked first, with no transaction open; the change is then one short write
    transaction. Call it with no transaction open.
    """
    items = [AddItem(raw) for raw in add]
    additions = await check_additions(
        db, owner_id=owner_id, universe_id=universe_id, symbols=symbols_of(items), market=market
    )
    async with db.transaction(user_id=owner_id) as session:
        results, asset_count = await add_items(
            session, additions, owner_id=owner_id, universe_id=universe_id, add=items,
            remove=remove,
        )  # fmt: skip
    return MembershipResult(
        universe_id=universe_id,
        results=results,
        counts=count_statuses(r.status for r in results),
        asset_count=asset_count,
    )


async def reorder_members(
    session: AsyncSession, *, owner_id: uuid.UUID, universe_id: uuid.UUID, symbols: Sequence[str]
) -> None:
    """Set the full order; ``symbols`` must name every current member exactly once."""
    now = utcnow()
    universe = await lock_universe(session, owner_id=owner_id, universe_id=universe_id, now=now)
    current = await repository.list_members(session, owner_id=owner_id, universe_id=universe.id)
    parsed = [parse_symbol(raw) for raw in symbols]
    malformed = [
        {"field": f"symbols.{i}", "reason": f"{p.raw!r}: {p.reason}"}
        for i, p in enumerate(parsed)
        if p.symbol is None
    ]
    if malformed:
        raise InvalidItems(f"{len(malformed)} malformed symbol(s) in symbols", malformed)
    resolved = await asset_service.resolve_symbols(session, [p.symbol for p in parsed if p.symbol])
    member_ids = {asset.id: asset.symbol for _, asset in current}
    order: list[int] = []
    extra: list[str] = []
    for p in parsed:
        asset = resolved.get(p.symbol or "")
        if asset is None or asset.id not in member_ids:
            extra.append(p.symbol or p.raw)
        else:
            order.append(asset.id)
    repeated = [member_ids[i] for i, n in Counter(order).items() if n > 1]
    listed = set(order)
    missing = [symbol for asset_id, symbol in member_ids.items() if asset_id not in listed]
    problems = []
    if missing:
        problems.append(f"missing members: {listing(missing)}")
    if extra:
        problems.append(f"not members: {listing(extra)}")
    if repeated:
        problems.append(f"listed more than once: {listing(repeated)}")
    if problems:
        raise InvalidInput(
            "The new order must list every current member exactly once",
            field="symbols",
            reason="; ".join(problems),
        )
    positions = {member.asset_id: member.position for member, _ in current}
    await repository.set_positions(
        session,
        owner_id=owner_id,
        universe_id=universe.id,
        positions=[(asset_id, i) for i, asset_id in enumerate(order) if positions[asset_id] != i],
    )
