"""Live push: one quote update to N ``/ws/market`` subscribers of its symbol (goal: p99 < 250 ms
at N = 5,000), beside the floor of the same stack: the same N WebSocket connections to a bare
Starlette endpoint that sends the same frame to each socket in a loop.

The server is a real uvicorn process (``quantdesk``'s app on SQLite, in-process bus) with two
bench-only routes: one publishes a value the way the engine will (``market.watching.publish``),
the other broadcasts to the bare sockets. The client holds all N connections in this process and
times each delivery from just before the trigger to the frame's arrival, so both sides include
the same client cost.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect

from bench.common import SMOKE, compare, fresh_sqlite_settings, percentile, size
from quantdesk.app import create_app
from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.logging import configure_logging
from quantdesk.kit.orm import utcnow
from quantdesk.kit.security import hash_password, issue_jwt
from quantdesk.market import watching
from quantdesk.models import User

SUBSCRIBERS = size(5000, 20)
ROUNDS = size(5, 1)
HANDSHAKES_AT_ONCE = 100
SYMBOL = "AAPL"
ROOT = Path(__file__).resolve().parents[1]


def _server_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    bare: set[WebSocket] = set()

    async def publish() -> dict[str, str]:
        await watching.publish(
            app.state.bus, SYMBOL, "quote", {"price": "189.5"}, source="sim", as_of=utcnow()
        )
        return {}

    async def bare_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        bare.add(websocket)
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            bare.discard(websocket)

    async def bare_broadcast() -> dict[str, str]:
        frame = watching.data_message(SYMBOL, "quote", {"price": "189.5"}, source="sim",
                                      as_of=utcnow())  # fmt: skip
        for websocket in list(bare):
            await websocket.send_json(frame)
        return {}

    app.add_api_route("/bench/publish", publish, methods=["POST"])
    app.add_api_route("/bench/bare-broadcast", bare_broadcast, methods=["POST"])
    app.add_api_websocket_route("/bench/bare", bare_socket)
    return app


def serve(port: int, data_dir: str) -> None:
    settings = fresh_sqlite_settings(Path(data_dir))
    uvicorn.run(
        _server_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )


async def _token(settings: Settings) -> str:
    db = Database(settings)
    try:
        async with db.transaction() as session:
            user = User(email="push@example.com", password_hash=hash_password("x" * 12))
            session.add(user)
            await session.flush()
        return issue_jwt(settings, user.id, "access").token
    finally:
        await db.dispose()


async def _open(url: str, headers: dict[str, str], subscribe: bool) -> list[ClientConnection]:
    sockets: list[ClientConnection] = []
    for start in range(0, SUBSCRIBERS, HANDSHAKES_AT_ONCE):
        batch = await asyncio.gather(
            *(
                connect(url, additional_headers=headers, max_queue=None, ping_interval=None)
                for _ in range(start, min(SUBSCRIBERS, start + HANDSHAKES_AT_ONCE))
            )
        )
        if subscribe:
            for ws in batch:
                await ws.send(json.dumps({"action": "subscribe", "symbols": [SYMBOL]}))
            for ws in batch:
                assert json.loads(await ws.recv())["type"] == "subscribed"
        sockets.extend(batch)
    return sockets


async def _deliveries(
    http: httpx.AsyncClient, trigger: str, sockets: list[ClientConnection]
) -> list[float]:
    """Seconds from just before the trigger to each socket's frame, for ROUNDS rounds."""
    samples: list[float] = []
    # The client's own garbage collection (5,000 connections' objects) is not the server's
    # latency: move what exists now out of its reach.
    gc.collect()
    gc.freeze()
    for _ in range(ROUNDS):
        arrived: list[float] = []

        async def receive(ws: ClientConnection, into: list[float] = arrived) -> None:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("type") != "data" or frame.get("symbol") != SYMBOL:
                raise RuntimeError(f"unexpected frame {frame}")
            into.append(time.perf_counter())

        readers = [asyncio.create_task(receive(ws)) for ws in sockets]
        await asyncio.sleep(0.2)  # every reader is waiting
        started = time.perf_counter()
        response = await http.post(trigger)
        assert response.status_code == 200, response.text
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
        samples.extend(at - started for at in arrived)
        first, last = (min(arrived) - started) * 1000, (max(arrived) - started) * 1000
        print(f"  {trigger}: first frame {first:.0f} ms, last {last:.0f} ms", flush=True)
    return samples


async def _measure(port: int, token: str) -> tuple[list[float], list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    base = f"127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=f"http://{base}", timeout=60) as http:
        ours = await _open(f"ws://{base}/ws/market", headers, subscribe=True)
        try:
            pushed = await _deliveries(http, "/bench/publish", ours)
        finally:
            await asyncio.gather(*(ws.close() for ws in ours), return_exceptions=True)
        bare = await _open(f"ws://{base}/bench/bare", headers, subscribe=False)
        try:
            floor = await _deliveries(http, "/bench/bare-broadcast", bare)
        finally:
            await asyncio.gather(*(ws.close() for ws in bare), return_exceptions=True)
    return pushed, floor


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    configure_logging("WARNING")
    settings = fresh_sqlite_settings()
    token = asyncio.run(_token(settings))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_market_push", "--serve", str(port),
         str(settings.data_dir)],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bench server did not start") from None
                time.sleep(0.1)
        pushed, floor = asyncio.run(_measure(port, token))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"one quote update to {SUBSCRIBERS:,} /ws/market subscribers, {ROUNDS} round(s)")
    for name, pct in (("p50", 50), ("p99", 99)):
        compare(
            f"delivery {name}",
            percentile(pushed, pct) * 1000,
            percentile(floor, pct) * 1000,
            "ms",
            baseline_label="bare Starlette loop sending the same frame to as many sockets",
            higher_is_better=False,
        )
    p99 = percentile(pushed, 99) * 1000
    if not SMOKE:
        print(f"goal p99 < 250 ms: {'met' if p99 < 250 else 'NOT MET'} ({p99:.1f} ms)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        main()
