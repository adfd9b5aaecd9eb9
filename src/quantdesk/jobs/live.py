"""Live progress over a WebSocket: ``/ws/operations/{id}``.

The owner connects with ``Authorization: Bearer <token>`` or ``?token=`` (browsers cannot set
headers on a WebSocket). The server sends the operation's current state at once, then every change
as the bus delivers it, then the final ``completed``/``failed``/``cancelled`` frame, and closes.
The database is read again only when events may have been lost (a gap in the subscription), and
now and then on a bus that can lose them (Redis): an in-process bus never loses one.

A refused connection is accepted and closed at once with a code and a reason a browser can read
(it cannot see a handshake's HTTP status): 4401 without valid credentials, 4404 for an operation
that does not exist or is someone else's (existence is not leaked).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from quantdesk.auth.dependencies import authenticate, websocket_credential
from quantdesk.jobs import progress as events
from quantdesk.jobs import service
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.errors import Unauthorized
from quantdesk.kit.events import EventBus
from quantdesk.models import Operation

router = APIRouter(tags=["operations"])

# On a bus that can lose events, re-read the row when none arrived for this long.
QUIET_RECHECK_SECONDS = 15.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
_FINAL = frozenset(events.FINAL_EVENTS.values())


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def _load(
    db: Database, settings: Settings, credential: str | None, operation_id: uuid.UUID
) -> uuid.UUID:
    """The owner's id when ``credential`` belongs to the operation's owner; else _Refused."""
    if not credential:
        raise _Refused(CLOSE_UNAUTHORIZED, "send a bearer token (header or ?token=)")
    async with db.transaction(readonly=True) as session:
        try:
            user = await authenticate(session, settings, credential)
        except Unauthorized:
            raise _Refused(CLOSE_UNAUTHORIZED, "invalid or expired credentials") from None
        found = await service.find_operation(session, owner_id=user.id, operation_id=operation_id)
    if found is None:
        raise _Refused(CLOSE_NOT_FOUND, "no such operation among yours")
    return user.id


async def _reread(db: Database, owner_id: uuid.UUID, operation_id: uuid.UUID) -> Operation | None:
    async with db.transaction(user_id=owner_id, readonly=True) as session:
        return await service.find_operation(session, owner_id=owner_id, operation_id=operation_id)


@router.websocket("/ws/operations/{operation_id}")
async def watch_operation(websocket: WebSocket, operation_id: uuid.UUID) -> None:
    app = websocket.app
    db: Database = app.state.db
    bus: EventBus = app.state.bus
    try:
        owner_id = await _load(
            db, app.state.settings, websocket_credential(websocket), operation_id
        )
    except _Refused as refused:
        await websocket.accept()
        await websocket.close(code=refused.code, reason=refused.reason)
        return
    async with bus.subscribe(events.channel(operation_id)) as subscription:
        await websocket.accept()
        # Read after subscribing: any change from now on arrives as an event too.
        current = await _reread(db, owner_id, operation_id)
        if current is None:
            await websocket.close(code=CLOSE_NOT_FOUND, reason="the operation was deleted")
            return
        stream = _Stream(websocket)
        if await stream.send(events.event_for(current, "status")):
            await stream.close()
            return
        closed = asyncio.create_task(_client_gone(websocket))
        gaps = subscription.gaps
        wait = None if subscription.reliable else QUIET_RECHECK_SECONDS
        try:
            while not closed.done():
                message = await _next(subscription, closed, wait)
                if message is None and closed.done():
                    break
                if message is None or subscription.gaps != gaps:
                    gaps = subscription.gaps
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


async def _next(
    subscription: Any, closed: asyncio.Task[None], wait: float | None
) -> dict[str, Any] | None:
    """The next event; None after ``wait`` seconds without one, or when the client left."""
    getter = asyncio.ensure_future(subscription.get())
    done, _ = await asyncio.wait(
        {getter, closed}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
    )
    if getter in done:
        message: dict[str, Any] | None = getter.result()
        return message
    getter.cancel()
    await asyncio.wait({getter})  # a message that arrived as it was cancelled is kept
    return None if getter.cancelled() else getter.result()


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
