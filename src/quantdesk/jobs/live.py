"""Live progress over a WebSocket: ``/ws/operations/{id}``.

The owner connects with ``Authorization: Bearer <token>`` or ``?token=`` (browsers cannot set
headers on a WebSocket). The server sends the operation's current state at once, then every change
(progress events from the bus, and a database re-read when the bus is quiet, so a lost event only
delays a frame), then the final ``completed``/``failed``/``cancelled`` frame, and closes.
Anyone else is refused at the handshake (HTTP 403), exactly as for an operation that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from quantdesk.auth.dependencies import authenticate
from quantdesk.jobs import progress as events
from quantdesk.jobs import repository
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.errors import Unauthorized
from quantdesk.kit.events import EventBus
from quantdesk.models import Operation

router = APIRouter(tags=["operations"])

# Re-read the row when no event arrived for this long (lost events, bus outages).
QUIET_RECHECK_SECONDS = 2.0
_FINAL = frozenset(events.FINAL_EVENTS.values())
_TOKEN_IN_QUERY = re.compile(r"(?i)(token=)[^&\s\"']*")


class QueryTokenRedactor(logging.Filter):
    """Blanks ``token=`` values in uvicorn's WebSocket handshake lines, which log the full path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        if isinstance(record.msg, str) and "token=" in record.msg.lower():
            record.msg = _TOKEN_IN_QUERY.sub(r"\1[redacted]", record.msg)
        return True


def install_query_token_redaction() -> None:
    for name in ("uvicorn.error", "uvicorn.access"):
        target = logging.getLogger(name)
        if not any(isinstance(f, QueryTokenRedactor) for f in target.filters):
            target.addFilter(QueryTokenRedactor())


def _credential(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = websocket.query_params.get("token")
    return token or None


async def _load(
    db: Database, settings: Settings, credential: str, operation_id: uuid.UUID
) -> tuple[uuid.UUID, Operation] | None:
    """(owner id, operation) when ``credential`` belongs to the operation's owner."""
    async with db.transaction() as session:
        try:
            user = await authenticate(session, settings, credential)
        except Unauthorized:
            return None
        operation = await repository.get_owned(session, owner_id=user.id, operation_id=operation_id)
        return (user.id, operation) if operation is not None else None


async def _reread(db: Database, owner_id: uuid.UUID, operation_id: uuid.UUID) -> Operation | None:
    async with db.transaction(user_id=owner_id) as session:
        return await repository.get_owned(session, owner_id=owner_id, operation_id=operation_id)


@router.websocket("/ws/operations/{operation_id}")
async def watch_operation(websocket: WebSocket, operation_id: uuid.UUID) -> None:
    app = websocket.app
    db: Database = app.state.db
    bus: EventBus = app.state.bus
    credential = _credential(websocket)
    found = await _load(db, app.state.settings, credential, operation_id) if credential else None
    if found is None:
        await websocket.close(code=1008)  # before accept: the handshake is refused
        return
    owner_id, _ = found
    async with bus.subscribe(events.channel(operation_id)) as subscription:
        await websocket.accept()
        # Read after subscribing: any change from now on arrives as an event too.
        current = await _reread(db, owner_id, operation_id)
        if current is None:
            await websocket.close(code=1000)
            return
        stream = _Stream(websocket)
        if await stream.send(events.event_for(current, "status")):
            await stream.close()
            return
        closed = asyncio.create_task(_client_gone(websocket))
        try:
            while not closed.done():
                message = await subscription.get(wait=QUIET_RECHECK_SECONDS)
                if message is None:
                    current = await _reread(db, owner_id, operation_id)
                    if current is None:
                        break
                    message = events.event_for(current, "progress")
                if await stream.send(message):
                    break
        except WebSocketDisconnect:
            return
        finally:
            closed.cancel()
            with contextlib.suppress(BaseException):
                await closed
        await stream.close()


class _Stream:
    """Sends frames in order, never one older than the last sent; True once the final one went."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.last: tuple[datetime, int] | None = None  # (updated_at, progress_done) last sent

    async def send(self, message: dict[str, Any]) -> bool:
        operation = message.get("operation", {})
        stamp = (
            datetime.fromisoformat(str(operation["updated_at"])),
            int(operation["progress"]["done"]),
        )
        final = message.get("type") in _FINAL
        # A duplicate, or older than what the client already has: skip (never the final frame).
        if self.last is not None and not final and stamp <= self.last:
            return False
        self.last = max(stamp, self.last) if self.last else stamp
        await self.websocket.send_json(message)
        return final

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code=1000)


async def _client_gone(websocket: WebSocket) -> None:
    """Returns when the client disconnects (it has nothing to say on this socket)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
