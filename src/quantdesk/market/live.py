"""Live market data over a WebSocket: ``/ws/market``.

The client authenticates like ``/ws/operations`` (``Authorization: Bearer`` or ``?token=``; 4401
otherwise) and then says what it watches::

    {"action": "subscribe", "symbols": ["AAPL", "BTC-USD"], "types": ["quote"]}
    {"action": "unsubscribe", "symbols": ["AAPL"]}        # or no symbols: everything
    {"action": "ping"}

The server answers each with ``subscribed`` / ``unsubscribed`` / ``pong`` (or ``error`` naming the
field, and the connection stays open), and pushes every fresh value of a watched pair as
``{"type": "data", "symbol", "data_type", "value", "source", "as_of"}``. While the connection is
open its watches are presence rows (``market.watching``) that this process renews for all of its
connections at once; they are removed when it closes and expire if the process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from quantdesk.auth.dependencies import authenticate, websocket_credential
from quantdesk.kit import activity
from quantdesk.kit.db import Database
from quantdesk.kit.errors import InvalidInput, Unauthorized
from quantdesk.kit.events import EventBus
from quantdesk.kit.logging import get_logger
from quantdesk.kit.orm import utcnow
from quantdesk.market import watching
from quantdesk.market.schemas import UnwatchRequest, WatchRequest

router = APIRouter(tags=["market data"])
_log = get_logger("quantdesk.market.live")

CLOSE_UNAUTHORIZED = 4401
MAX_PAIRS_PER_CONNECTION = 1000
# Frames waiting for a slow client; beyond this the oldest go (a newer value supersedes them).
OUTBOX_SIZE = 1000
# Closed connections whose watches one statement releases.
RELEASE_BATCH = 500


_last_encoded: tuple[dict[str, Any], str] | None = None


def _encoded(message: dict[str, Any]) -> str:
    """The frame's JSON text. A bus hands one message object to every subscriber of a channel,
    so the thousands of sockets watching a symbol share one encoding, not one each."""
    global _last_encoded
    if _last_encoded is None or _last_encoded[0] is not message:
        _last_encoded = (message, json.dumps(message, separators=(",", ":"), default=str))
    return _last_encoded[1]


class PresenceKeeper:
    """This process's WebSocket watches: renewed all at once (one statement for every open
    connection, by the process's client-id prefix) and released in batches when connections
    close (a thousand closing at once cost a few statements, not a thousand write transactions).
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.process = uuid.uuid4().hex[:12]
        self.clients: set[str] = set()
        self._released: list[str] = []
        self._renewer: asyncio.Task[None] | None = None
        self._releaser: asyncio.Task[None] | None = None

    def new_client(self) -> str:
        return watching.websocket_client(self.process, uuid.uuid4())

    def add(self, client: str) -> None:
        self.clients.add(client)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_forever(), name="market-presence")

    def release(self, client: str) -> None:
        """The connection closed: its watches go with the next batch."""
        self.clients.discard(client)
        self._released.append(client)
        if self._releaser is None or self._releaser.done():
            self._releaser = asyncio.create_task(self._release_waiting(), name="market-release")

    async def renew(self) -> int:
        if not self.clients:
            return 0
        async with self.db.transaction(system=True) as session:
            return await watching.renew(session, process=self.process, now=utcnow())

    async def _release_waiting(self) -> None:
        while self._released:
            batch = self._released[:RELEASE_BATCH]
            del self._released[:RELEASE_BATCH]
            try:
                async with self.db.transaction(system=True) as session:
                    await watching.release(session, clients=batch)
            except Exception:  # not renewed any more, they expire by themselves
                _log.warning("market_presence_release_failed", clients=len(batch), exc_info=True)

    async def _renew_forever(self) -> None:
        while self.clients:
            await asyncio.sleep(watching.WS_RENEW_SECONDS)
            try:
                await self.renew()
            except Exception:  # the next round tries again; the rows outlive two missed ones
                _log.warning("market_presence_renew_failed", exc_info=True)

    async def aclose(self) -> None:
        for task in (self._releaser, self._renewer):
            if task is not None and not task.done():
                if task is self._renewer:
                    task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class _Connection:
    def __init__(
        self, websocket: WebSocket, db: Database, bus: EventBus, owner_id: uuid.UUID, client: str
    ) -> None:
        self.websocket = websocket
        self.db = db
        self.bus = bus
        self.owner_id = owner_id
        self.client = client
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTBOX_SIZE)
        # Per watched pair: its bus subscription (which hands messages straight to the outbox).
        self.watched: dict[watching.Pair, AbstractAsyncContextManager[Any]] = {}

    def send(self, message: dict[str, Any]) -> None:
        if self.outbox.full():
            self.outbox.get_nowait()
        self.outbox.put_nowait(message)

    async def handle(self, raw: str) -> None:
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise InvalidInput("send a JSON object", field="message")
            action = message.pop("action", None)
            if action == "subscribe":
                await self.subscribe(WatchRequest.model_validate(message))
            elif action == "unsubscribe":
                await self.unsubscribe(UnwatchRequest.model_validate(message))
            elif action == "ping":
                self.send({"type": "pong"})
            else:
                raise InvalidInput("action is one of subscribe, unsubscribe, ping", field="action")
        except json.JSONDecodeError as exc:
            self.send({"type": "error", "field": "message", "message": f"not JSON: {exc}"})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "message"
            self.send({"type": "error", "field": field, "message": first["msg"]})
        except InvalidInput as exc:
            detail = exc.details[0] if exc.details else {"field": "message"}
            self.send({"type": "error", "field": detail["field"], "message": str(exc)})

    async def subscribe(self, request: WatchRequest) -> None:
        pairs = watching.pairs_of(request.symbols, request.types)
        new = [pair for pair in pairs if pair not in self.watched]
        if len(self.watched) + len(new) > MAX_PAIRS_PER_CONNECTION:
            raise InvalidInput(
                f"a connection watches at most {MAX_PAIRS_PER_CONNECTION} (symbol, type) pairs",
                field="symbols",
            )
        # Listen first, then say so: a value published from now on reaches this client.
        for pair in new:
            manager = self.bus.subscribe(watching.channel(*pair), sink=self.send)
            await manager.__aenter__()
            self.watched[pair] = manager
        async with self.db.transaction(user_id=self.owner_id) as session:
            await watching.watch(
                session,
                owner_id=self.owner_id,
                client=self.client,
                pairs=pairs,
                now=utcnow(),
                seconds=watching.WS_PRESENCE_SECONDS,
            )
        activity.record("watching")
        self.send(
            {
                "type": "subscribed",
                "pairs": [{"symbol": s, "data_type": t} for s, t in pairs],
                "watching": len(self.watched),
            }
        )

    async def unsubscribe(self, request: UnwatchRequest) -> None:
        if request.symbols is None:
            pairs = list(self.watched)
            ended = None
        else:
            types = request.types or sorted({t for _, t in self.watched})
            ended = pairs = watching.pairs_of(request.symbols, types)
        async with self.db.transaction(user_id=self.owner_id) as session:
            await watching.unwatch(session, owner_id=self.owner_id, client=self.client, pairs=ended)
        for pair in pairs:
            await self._stop(pair)
        self.send(
            {
                "type": "unsubscribed",
                "pairs": [{"symbol": s, "data_type": t} for s, t in pairs],
                "watching": len(self.watched),
            }
        )

    async def _stop(self, pair: watching.Pair) -> None:
        manager = self.watched.pop(pair, None)
        if manager is not None:
            await manager.__aexit__(None, None, None)

    async def close(self) -> None:
        """Stop listening; the keeper releases the watches with other closed connections'."""
        for pair in list(self.watched):
            await self._stop(pair)

    async def receive_forever(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = message["bytes"].decode("utf-8", errors="replace")
            if text is not None:
                await self.handle(text)

    async def send_forever(self) -> None:
        while True:
            await self.websocket.send_text(_encoded(await self.outbox.get()))


async def _owner(db: Database, websocket: WebSocket) -> uuid.UUID | None:
    credential = websocket_credential(websocket)
    if not credential:
        return None
    async with db.transaction(readonly=True) as session:
        try:
            user = await authenticate(session, websocket.app.state.settings, credential)
        except Unauthorized:
            return None
    return user.id


@router.websocket("/ws/market")
async def watch_market(websocket: WebSocket) -> None:
    db: Database = websocket.app.state.db
    bus: EventBus = websocket.app.state.bus
    owner_id = await _owner(db, websocket)
    await websocket.accept()
    if owner_id is None:
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason="send a valid bearer token")
        return
    keeper: PresenceKeeper = websocket.app.state.market_presence
    connection = _Connection(websocket, db, bus, owner_id, keeper.new_client())
    keeper.add(connection.client)
    tasks = {
        asyncio.create_task(connection.receive_forever()),
        asyncio.create_task(connection.send_forever()),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except WebSocketDisconnect:
        pass
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await connection.close()
        keeper.release(connection.client)
        with contextlib.suppress(Exception):
            await websocket.close(code=1000)
