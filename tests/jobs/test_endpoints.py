"""REST: GET/LIST/CANCEL operations for their owner only; the workers' health endpoints."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI

from quantdesk.jobs import service
from quantdesk.jobs.executors.base import current_executor
from quantdesk.kit.db import Database
from quantdesk.kit.pagination import encode_cursor
from tests.factories import Account
from tests.jobs import kinds


async def _request(db: Database, owner: Account, kind: str, params: dict[str, object]) -> str:
    """As a service would, in the owner's transaction; the session app's executor runs it."""
    assert current_executor() is not None
    async with db.transaction(user_id=owner.user.id) as session:
        operation = await service.request_job(
            session, kind=kind, owner_id=owner.user.id, params=params
        )
    return str(operation.id)


async def _wait(client: httpx.AsyncClient, owner: Account, operation_id: str, status: str) -> dict:  # type: ignore[type-arg]
    for _ in range(500):
        body = (
            await client.get(f"/api/v1/operations/{operation_id}", headers=owner.headers)
        ).json()
        if body["data"]["status"] == status:
            return body["data"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"operation {operation_id} never became {status}")


async def test_owner_reads_lists_and_cancels_others_get_404(
    app: FastAPI, db: Database, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    gate = f"endpoints-{uuid.uuid4().hex}"
    done_id = await _request(db, alice, "test_noop", {"echo": "hi"})
    running_id = await _request(db, alice, "test_steps", {"steps": 3, "gate": gate})

    done = await _wait(client, alice, done_id, "succeeded")
    assert done["result"] == {"echo": "hi"}
    assert done["kind"] == "test_noop"
    assert done["progress"] == {"done": 0, "total": None, "message": None, "percent": None}
    running = await _wait(client, alice, running_id, "running")
    assert running["finished_at"] is None

    page = (await client.get("/api/v1/operations", headers=alice.headers)).json()
    assert [o["id"] for o in page["data"]["items"]] == [running_id, done_id]
    assert "get_operation" in page["next_actions"]
    only = await client.get(
        "/api/v1/operations", params={"kind": "test_noop", "limit": 1}, headers=alice.headers
    )
    assert [o["id"] for o in only.json()["data"]["items"]] == [done_id]
    first = await client.get("/api/v1/operations", params={"limit": 1}, headers=alice.headers)
    cursor = first.json()["data"]["next_cursor"]
    second = await client.get(
        "/api/v1/operations", params={"limit": 1, "cursor": cursor}, headers=alice.headers
    )
    assert [o["id"] for o in second.json()["data"]["items"]] == [done_id]
    assert second.json()["data"]["next_cursor"] is None
    bad = await client.get("/api/v1/operations", params={"status": "bogus"}, headers=alice.headers)
    assert bad.status_code == 422

    # Bob sees none of it: not in his list, and 404 (never 403) on each id.
    assert (await client.get("/api/v1/operations", headers=bob.headers)).json()["data"][
        "items"
    ] == []
    for path in (f"/api/v1/operations/{running_id}", f"/health/workers/progress/{running_id}"):
        response = await client.get(path, headers=bob.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "operation_not_found"
    refused = await client.post(f"/api/v1/operations/{running_id}/cancel", headers=bob.headers)
    assert refused.status_code == 404
    assert (await client.get(f"/api/v1/operations/{running_id}")).status_code == 401

    progress = await client.get(f"/health/workers/progress/{running_id}", headers=alice.headers)
    assert progress.status_code == 200
    assert progress.json()["metadata"]["status"] == "running"

    health = (await client.get("/health/workers")).json()["data"]
    assert health["executor"] == "local"
    assert health["active_jobs"] >= 1
    assert len(health["workers"]) == 1
    assert {"validation", "bulk_validation", "maintenance"} <= set(health["queue_depths"])

    cancel = await client.post(f"/api/v1/operations/{running_id}/cancel", headers=alice.headers)
    assert cancel.status_code == 200
    assert cancel.json()["data"]["cancel_requested"] is True
    kinds.GATES.setdefault(gate, asyncio.Event()).set()
    cancelled = await _wait(client, alice, running_id, "cancelled")
    assert cancelled["result"] is None
    again = await client.post(f"/api/v1/operations/{running_id}/cancel", headers=alice.headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "operation_finished"
    missing = await client.get(f"/api/v1/operations/{uuid.uuid4()}", headers=alice.headers)
    assert missing.status_code == 404


async def test_forged_cursors_are_422_not_500(client: httpx.AsyncClient, alice: Account) -> None:
    forged = [
        "not-base64!",
        encode_cursor({"c": "2026-01-01T00:00:00", "i": str(uuid.uuid4())}),  # naive time
        encode_cursor({"c": 5, "i": "x"}),
        encode_cursor({"c": "0001-01-01T00:00:00+05:00", "i": str(uuid.uuid4())}),
        encode_cursor({"i": str(uuid.uuid4())}),
    ]
    for cursor in forged:
        response = await client.get(
            "/api/v1/operations", params={"cursor": cursor}, headers=alice.headers
        )
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["error"]["details"][0]["field"] == "cursor"
