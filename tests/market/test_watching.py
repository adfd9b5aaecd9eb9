"""Watching: presence rows from the API and from /ws/market, their expiry, and the live push of a
fresh value to exactly the subscribers of its (symbol, data type)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from quantdesk.kit.config import Settings
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import watching
from tests.cli.support import QUANTDESK, cli_env, quantdesk
from tests.factories import Account, create_api_token, create_user
from tests.jobs.live_server import LiveServer, live_server

URL = "/api/v1/market/subscriptions"


async def _watched(db: Database) -> dict[tuple[str, str], int]:
    async with db.transaction(system=True) as session:
        found = await watching.watched(session, now=utcnow())
    return {(w.symbol, w.data_type): w.watchers for w in found}


async def test_api_watches_are_canonical_renewed_and_private(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    body = {"symbols": ["aapl", " msft", "AAPL"], "types": ["quote", "profile"], "ttl_seconds": 60}
    first = await client.post(URL, json=body, headers=alice.headers)
    assert first.status_code == 200, first.text
    watches = first.json()["data"]["watches"]
    assert sorted((w["symbol"], w["data_type"]) for w in watches) == [
        ("AAPL", "profile"), ("AAPL", "quote"), ("MSFT", "profile"), ("MSFT", "quote"),
    ]  # fmt: skip
    assert {w["client"] for w in watches} == {"api"}

    # Asking again renews (one row per pair, a later expiry), it does not add rows.
    body["ttl_seconds"] = 600
    again = (await client.post(URL, json=body, headers=alice.headers)).json()["data"]
    assert again["count"] == 4
    assert min(w["expires_at"] for w in again["watches"]) > max(w["expires_at"] for w in watches)

    await client.post(URL, json={"symbols": ["AAPL"]}, headers=bob.headers)  # quote by default
    mine = (await client.get(URL, headers=bob.headers)).json()["data"]["watches"]
    assert [(w["symbol"], w["data_type"]) for w in mine] == [("AAPL", "quote")]
    # The engine's view (system context) counts every watcher of a pair.
    assert await _watched(db) == {
        ("AAPL", "quote"): 2, ("AAPL", "profile"): 1, ("MSFT", "quote"): 1,
        ("MSFT", "profile"): 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbols": ["AAPL"], "types": ["quotes"]}, "types[0]"),
        ({"symbols": ["AAPL", "not a symbol"]}, "symbols[1]"),
        ({"symbols": []}, "symbols"),
        ({"symbols": ["AAPL"], "ttl_seconds": 5}, "ttl_seconds"),
        ({"symbols": ["AAPL"], "extra": 1}, "extra"),
    ],
)
async def test_bad_watch_requests_are_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post(URL, json=body, headers=alice.headers)
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert any(f.endswith(field) for f in fields), fields
    assert (await client.get(URL, headers=alice.headers)).json()["data"]["count"] == 0


async def test_unwatching_by_symbol_by_type_and_all(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {"symbols": ["AAPL", "MSFT", "NVDA"], "types": ["quote", "profile"]}
    await client.post(URL, json=body, headers=alice.headers)

    by_symbol = await client.delete(URL, params={"symbols": ["aapl"]}, headers=alice.headers)
    assert by_symbol.json()["message"] == "2 watch(es) ended"
    by_type = await client.delete(URL, params={"types": ["profile"]}, headers=alice.headers)
    assert by_type.json()["message"] == "2 watch(es) ended"
    left = by_type.json()["data"]["watches"]
    assert sorted(w["symbol"] for w in left) == ["MSFT", "NVDA"]
    assert {w["data_type"] for w in left} == {"quote"}
    everything = await client.delete(URL, headers=alice.headers)
    assert everything.json()["data"]["count"] == 0
    bad = await client.delete(URL, params={"types": ["nope"]}, headers=alice.headers)
    assert bad.status_code == 422


async def test_expired_watches_are_nobodys_interest_and_are_deleted(
    db: Database, alice: Account
) -> None:
    now = utcnow()
    async with db.transaction(user_id=alice.user.id) as session:
        await watching.watch(
            session, owner_id=alice.user.id, client="api", pairs=[("OLD", "quote")],
            now=now - timedelta(minutes=10), seconds=60,
        )  # fmt: skip
        await watching.watch(
            session, owner_id=alice.user.id, client="api", pairs=[("NEW", "quote")],
            now=now, seconds=60,
        )  # fmt: skip
    assert await _watched(db) == {("NEW", "quote"): 1}
    async with db.transaction(system=True) as session:
        assert await watching.expire(session, now=utcnow()) == 1
    async with db.transaction(user_id=alice.user.id) as session:
        rows = await watching.my_watches(session, owner_id=alice.user.id, now=now)
    assert [w.symbol for w in rows] == ["NEW"]


# --- /ws/market -----------------------------------------------------------------------------


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with live_server(settings) as running:
        yield running


async def _next(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5.0))
    return frame


async def _nothing_for(ws: ClientConnection, seconds: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def _publish(server: LiveServer, symbol: str, price: str) -> None:
    bus = server.app.state.bus
    await server.call(
        watching.publish(bus, symbol, "quote", {"price": price}, source="sim", as_of=utcnow())
    )


async def test_a_fresh_value_reaches_exactly_the_subscribers_of_its_pair(
    server: LiveServer, db: Database, settings: Settings
) -> None:
    alice = await create_user(db, settings)
    bob = await create_user(db, settings)
    url = f"{server.ws_url}/ws/market"
    async with (
        connect(url, additional_headers=alice.headers) as a,
        connect(url, additional_headers=bob.headers) as b,
    ):
        await a.send(json.dumps({"action": "subscribe", "symbols": ["aapl"]}))
        assert await _next(a) == {
            "type": "subscribed", "pairs": [{"symbol": "AAPL", "data_type": "quote"}],
            "watching": 1,
        }  # fmt: skip
        await b.send(json.dumps({"action": "subscribe", "symbols": ["MSFT"], "types": ["quote"]}))
        assert (await _next(b))["type"] == "subscribed"
        # Presence is in the database while the connections are open, for every process.
        assert await _watched(db) == {("AAPL", "quote"): 1, ("MSFT", "quote"): 1}

        await _publish(server, "AAPL", "189.5")
        frame = await _next(a)
        assert frame["type"] == "data"
        assert (frame["symbol"], frame["data_type"], frame["value"]) == (
            "AAPL", "quote", {"price": "189.5"},
        )  # fmt: skip
        assert frame["source"] == "sim"
        assert await _nothing_for(b)

        await a.send(json.dumps({"action": "unsubscribe", "symbols": ["AAPL"]}))
        assert (await _next(a))["watching"] == 0
        await _publish(server, "AAPL", "190")
        assert await _nothing_for(a)
        await _publish(server, "MSFT", "410")
        assert (await _next(b))["symbol"] == "MSFT"
    # Closed connections hold no watches.
    for _ in range(50):
        if not await _watched(db):
            break
        await asyncio.sleep(0.05)
    assert await _watched(db) == {}


async def test_bad_messages_get_an_error_frame_and_the_connection_stays(
    server: LiveServer, db: Database, settings: Settings
) -> None:
    alice = await create_user(db, settings)
    async with connect(f"{server.ws_url}/ws/market", additional_headers=alice.headers) as ws:
        for message, field in [
            ("{not json", "message"),
            (json.dumps(["subscribe"]), "message"),
            (json.dumps({"action": "dance"}), "action"),
            (json.dumps({"action": "subscribe", "symbols": ["A B"]}), "symbols[0]"),
            (json.dumps({"action": "subscribe", "symbols": ["A"], "types": ["x"]}), "types[0]"),
            (json.dumps({"action": "subscribe"}), "symbols"),
        ]:
            await ws.send(message)
            frame = await _next(ws)
            assert frame["type"] == "error", frame
            assert frame["field"] == field, frame
        await ws.send(json.dumps({"action": "ping"}))
        assert await _next(ws) == {"type": "pong"}
    assert await _watched(db) == {}


async def test_without_valid_credentials_the_socket_closes_4401(server: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}):
        async with connect(f"{server.ws_url}/ws/market", additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


async def test_the_process_renews_its_connections_watches_in_one_statement(
    server: LiveServer, db: Database, settings: Settings
) -> None:
    alice = await create_user(db, settings)
    url = f"{server.ws_url}/ws/market"
    async with (
        connect(url, additional_headers=alice.headers) as a1,
        connect(url, additional_headers=alice.headers) as a2,
    ):
        for ws, symbol in ((a1, "AAPL"), (a2, "MSFT")):
            await ws.send(json.dumps({"action": "subscribe", "symbols": [symbol]}))
            await _next(ws)
        async with db.transaction(user_id=alice.user.id) as session:
            before = await watching.my_watches(session, owner_id=alice.user.id, now=utcnow())
        keeper = server.app.state.market_presence
        assert await server.call(keeper.renew()) == 2
        async with db.transaction(user_id=alice.user.id) as session:
            after = await watching.my_watches(session, owner_id=alice.user.id, now=utcnow())
        assert [w.client for w in after] == ["ws", "ws"]
        assert all(b.expires_at < a.expires_at for b, a in zip(before, after, strict=True))


async def test_quantdesk_market_watch_prints_each_fresh_value(
    server: LiveServer, db: Database, settings: Settings, tmp_path: Path
) -> None:
    alice = await create_user(db, settings)
    _, secret = await create_api_token(db, alice.user)
    auth = ["--api-url", server.http_url, "--token", secret]
    env = cli_env()
    command = [str(QUANTDESK), "market", "watch", "aapl", "--count", "2", "-o", "json", *auth]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        for _ in range(200):  # until its subscription is in place
            if ("AAPL", "quote") in await _watched(db):
                break
            await asyncio.sleep(0.05)
        await _publish(server, "AAPL", "189.5")
        await _publish(server, "AAPL", "190.25")
        raw_out, raw_err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, raw_err
    frames = [json.loads(line) for line in raw_out.decode().splitlines()]
    assert [f["value"]["price"] for f in frames] == ["189.5", "190.25"]
    assert "watching AAPL quote" in raw_err.decode()

    text = quantdesk("market", "watch", "AAPL", "--type", "nope", *auth, env=env, cwd=tmp_path)
    assert text.returncode == 2
    assert "types[0]: unknown data type 'nope'" in text.stderr
    refused = quantdesk("market", "watch", "AAPL", "--api-url", server.http_url, "--token",
                        "qd_nope", env=env, cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1
    assert "refused the token" in refused.stderr
