"""A real WebSocket client over a real socket: status, then progress in order, then completion;
another user's client is refused; the ``?token=`` value never reaches a log line."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from quantdesk.jobs.executors.base import Submission
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from tests.factories import Account, create_api_token, create_user
from tests.jobs import suite
from tests.jobs.live_server import LiveServer, live_server


@pytest.fixture
def server(jobs_settings: Settings) -> Iterator[LiveServer]:
    with live_server(jobs_settings) as running:
        yield running


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def uvicorn_lines() -> Iterator[list[str]]:
    """uvicorn's own log lines (the handshake line carries the full path and query)."""
    target = logging.getLogger("uvicorn.error")
    handler, level = _Lines(), target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        target.removeHandler(handler)
        target.setLevel(level)


async def _frames(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    async for raw in ws:  # ends when the server closes the socket
        frames.append(json.loads(raw))
    return frames


async def _pending_job(resources: JobResources, owner: Account, steps: int = 5) -> uuid.UUID:
    # Held back: the test hands it to the server's executor once the client listens.
    return await suite.request_held(
        resources, "test_steps", {"steps": steps, "pause": 0.1}, owner_id=owner.user.id
    )


async def _submit(server: LiveServer, resources: JobResources, operation_id: uuid.UUID) -> None:
    await suite.release(resources, operation_id)
    executor = server.app.state.executor
    await server.call(executor.submit([Submission(operation_id, "test_steps", "maintenance")]))


async def test_owner_receives_status_progress_in_order_then_completion(
    server: LiveServer, resources: JobResources, uvicorn_lines: list[str]
) -> None:
    owner = await create_user(resources.db, resources.settings)
    operation_id = await _pending_job(resources, owner)
    url = f"{server.ws_url}/ws/operations/{operation_id}"
    async with connect(url, additional_headers=owner.headers, open_timeout=10) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "status"
        assert first["operation"]["status"] == "pending"
        await _submit(server, resources, operation_id)
        frames = [first, *await _frames(ws)]
    assert ws.close_code == 1000
    types = [f["type"] for f in frames]
    assert types[-1] == "completed"
    assert "failed" not in types
    assert "cancelled" not in types
    progress = [f["operation"]["progress"]["done"] for f in frames if f["type"] == "progress"]
    assert progress == sorted(progress)
    assert progress[-1] == 5
    assert len(progress) >= 3  # live frames, not one poll at the end
    assert frames[-1]["operation"]["result"] == {"steps": 5, "resumed_from": 0}
    assert frames[-1]["operation"]["status"] == "succeeded"
    stamps = [f["operation"]["updated_at"] for f in frames[1:]]
    assert stamps == sorted(stamps)

    # Through ?token= (what browsers use) with an API token; the secret stays out of the logs.
    _, secret = await create_api_token(resources.db, owner.user)
    async with connect(f"{url}?token={secret}", open_timeout=10) as ws:
        replay = await _frames(ws)
    assert [f["type"] for f in replay] == ["completed"]  # finished: its state, then close
    assert any("token=[redacted]" in line for line in uvicorn_lines), uvicorn_lines
    assert not any(secret in line for line in uvicorn_lines)


async def test_another_users_client_and_a_bad_token_are_refused(
    server: LiveServer, resources: JobResources
) -> None:
    owner = await create_user(resources.db, resources.settings)
    other = await create_user(resources.db, resources.settings)
    operation_id = await _pending_job(resources, owner)
    url = f"{server.ws_url}/ws/operations/{operation_id}"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"additional_headers": other.headers}, 4404, "no such operation"),
        (
            {"uri": f"{url}?token={other.headers['Authorization'].split()[1]}"},
            4404,
            "no such operation",
        ),
        ({"uri": f"{url}?token=not-a-token"}, 4401, "invalid or expired"),
        ({}, 4401, "send a bearer token"),
        (
            {
                "uri": f"{server.ws_url}/ws/operations/{uuid.uuid4()}",
                "additional_headers": owner.headers,
            },
            4404,
            "no such operation",
        ),
    ]
    for kwargs, code, reason in cases:
        uri = str(kwargs.pop("uri", url))
        # Refused with a code and a reason a browser can read; not one frame of data first.
        async with connect(uri, open_timeout=10, **kwargs) as ws:  # type: ignore[arg-type]
            with pytest.raises(ConnectionClosed):
                await ws.recv()
        assert ws.close_code == code, (kwargs, ws.close_code)
        assert reason in (ws.close_reason or ""), ws.close_reason
