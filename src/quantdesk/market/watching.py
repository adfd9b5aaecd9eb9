"""Watching: who looks at which (symbol, data type) now, and the live push of fresh values.

Presence lives in ``market_watches`` so that every API process, and the refresh engine, sees
every watcher. A WebSocket connection holds its rows while it is open (its process renews all of
its connections' rows in one statement every ``WS_RENEW_SECONDS``; a process that dies lets them
expire), an API client holds them for the ``ttl_seconds`` it asked for. Fresh values reach
subscribers through the event bus, channel ``market:{data_type}:{symbol}`` (in process, or Redis
pub/sub across API processes).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quantdesk.assets.symbols import InvalidSymbol, canonical_symbol
from quantdesk.kit.errors import InvalidInput
from quantdesk.kit.events import EventBus
from quantdesk.market import repository
from quantdesk.market.schemas import WATCHABLE_TYPES, Watch

# A WebSocket's watches outlive a missed renewal or two, no more.
WS_PRESENCE_SECONDS = 60.0
WS_RENEW_SECONDS = 20.0
API_CLIENT = "api"
# Live watchers (a WebSocket, an API client) are served before background ones.
LIVE_PRIORITY = 100
BACKGROUND_PRIORITY = 10

Pair = tuple[str, str]


def channel(symbol: str, data_type: str) -> str:
    return f"market:{data_type}:{symbol}"


def websocket_prefix(process: str) -> str:
    """What every WebSocket client id of one API process starts with."""
    return f"ws:{process}:"


def websocket_client(process: str, connection_id: uuid.UUID) -> str:
    return f"{websocket_prefix(process)}{connection_id.hex[:16]}"


def pairs_of(symbols: Sequence[str], types: Sequence[str], *, field: str = "") -> list[Pair]:
    """Canonical (symbol, data type) pairs, in order, without repeats; InvalidInput naming the
    first bad symbol or type (``field`` prefixes the field names, for nested inputs)."""
    canonical: list[str] = []
    for index, raw in enumerate(symbols):
        try:
            canonical.append(canonical_symbol(raw))
        except InvalidSymbol as exc:
            raise InvalidInput(str(exc), field=f"{field}symbols[{index}]") from None
    for index, data_type in enumerate(types):
        if data_type not in WATCHABLE_TYPES:
            raise InvalidInput(
                f"unknown data type {data_type!r}; one of: {', '.join(WATCHABLE_TYPES)}",
                field=f"{field}types[{index}]",
            )
    return list(dict.fromkeys((s, t) for s in canonical for t in types))


async def watch(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID,
    client: str,
    pairs: Sequence[Pair],
    now: datetime,
    seconds: float,
    priority: int = LIVE_PRIORITY,
    refresh_seconds: int | None = None,
) -> datetime:
    """Watch ``pairs`` until now + ``seconds`` (renewing any already held); when it expires.

    ``refresh_seconds``: how often the data must be fresh for this watcher (None: at the data
    type's TTL, what a live watcher wants)."""
    until = now + timedelta(seconds=seconds)
    await repository.upsert_watches(
        session,
        [
            {
                "owner_id": owner_id,
                "client": client,
                "symbol": symbol,
                "data_type": data_type,
                "created_at": now,
                "expires_at": until,
                "priority": priority,
                "refresh_seconds": refresh_seconds,
            }
            for symbol, data_type in pairs
        ],
    )
    return until


async def unwatch(
    session: AsyncSession, *, owner_id: uuid.UUID, client: str, pairs: Sequence[Pair] | None
) -> int:
    """Stop watching ``pairs`` (all of ``client``'s watches when None); how many ended."""
    return await repository.delete_watches(session, owner_id=owner_id, client=client, pairs=pairs)


async def renew(session: AsyncSession, *, process: str, now: datetime) -> int:
    """Keep the watches of one process's live WebSocket connections, in one statement however
    many there are (system context: every owner's)."""
    until = now + timedelta(seconds=WS_PRESENCE_SECONDS)
    return await repository.renew_watches(
        session, prefix=websocket_prefix(process), expires_at=until
    )


async def release(session: AsyncSession, *, clients: Sequence[str]) -> int:
    """Drop the watches of closed connections (system context); how many."""
    return await repository.delete_watches_of(session, clients=clients)


async def expire(session: AsyncSession, *, now: datetime) -> int:
    """Forget watches nobody renewed (system context); how many."""
    return await repository.delete_expired_watches(session, now=now)


async def my_watches(session: AsyncSession, *, owner_id: uuid.UUID, now: datetime) -> list[Watch]:
    rows = await repository.list_watches(session, owner_id=owner_id, now=now)
    return [
        Watch(
            symbol=symbol,
            data_type=data_type,
            client="ws" if client.startswith("ws:") else client,
            expires_at=expires_at,
        )
        for client, symbol, data_type, expires_at in rows
    ]


@dataclass(frozen=True)
class Watched:
    """A pair someone watches now: what the engine keeps fresh, how soon and how often."""

    symbol: str
    data_type: str
    watchers: int
    priority: int
    refresh_seconds: int | None  # None: at the data type's TTL


async def watched(session: AsyncSession, *, now: datetime) -> list[Watched]:
    """Every pair watched now (system context)."""
    return [Watched(*row) for row in await repository.watched_pairs(session, now=now)]


def data_message(
    symbol: str, data_type: str, value: Any, *, source: str, as_of: datetime
) -> dict[str, Any]:
    return {
        "type": "data",
        "symbol": symbol,
        "data_type": data_type,
        "value": value,
        "source": source,
        "as_of": as_of.isoformat(),
    }


async def publish(
    bus: EventBus, symbol: str, data_type: str, value: Any, *, source: str, as_of: datetime
) -> None:
    """Push a fresh value to every subscriber of (symbol, data type), in every API process."""
    name = channel(symbol, data_type)
    if bus.may_have_subscribers(name):
        await bus.publish(name, data_message(symbol, data_type, value, source=source, as_of=as_of))
