"""Universe jobs: CSV import of 10,000 rows with per-row results and progress, export to a file
served to its owner only, and the 202 endpoints."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from quantdesk.jobs import progress as events
from quantdesk.kit.db import Database
from quantdesk.universes import service, tasks
from tests.factories import Account, ensure_assets
from tests.jobs.tasks_support import (
    clean_jobs,
    job_resources,
    operation_row,
    paused_executor,
    run,
    wait_finished,
)
from tests.universes.helpers import API, create_universe, ensure_bulk_assets

__all__ = ["clean_jobs", "paused_executor"]  # fixtures, imported to be found by pytest


async def _request_import(
    app: FastAPI, owner: Account, universe_id: str, content: bytes
) -> uuid.UUID:
    db: Database = app.state.db
    async with db.transaction(user_id=owner.user.id) as session:
        operation = await service.request_import(
            session, owner_id=owner.user.id, universe_id=uuid.UUID(universe_id), content=content
        )
        return operation.id


async def _request_export(app: FastAPI, owner: Account, universe_id: str) -> uuid.UUID:
    db: Database = app.state.db
    async with db.transaction(user_id=owner.user.id) as session:
        operation = await service.request_export(
            session, owner_id=owner.user.id, universe_id=uuid.UUID(universe_id)
        )
        return operation.id


@pytest.mark.usefixtures("paused_executor")
async def test_csv_import_of_ten_thousand_rows_is_a_job_with_progress_and_per_row_results(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    symbols = await ensure_bulk_assets(db, 9_998)
    universe = await create_universe(client, alice, "Big import job")
    lines = ["symbol,meta.weight", *(f"{s},{i}" for i, s in enumerate(symbols)), "ZZZZZZ,1", "!!,2"]
    content = ("\n".join(lines) + "\n").encode()
    operation_id = await _request_import(app, alice, universe["id"], content)

    async with job_resources(app) as res, res.bus.subscribe(events.channel(operation_id)) as feed:
        assert await run(res, operation_id) == "succeeded"
        progress = []
        while (message := await feed.get(wait=0.5)) is not None:
            if message["type"] == "progress":
                progress.append(message["operation"]["progress"]["done"])
    assert progress == list(range(1000, 10_001, 1000))  # one checkpoint per 1,000-row chunk

    row = await operation_row(db, operation_id)
    result: dict[str, Any] = row.result or {}
    assert result["row_count"] == 10_000
    assert result["asset_count"] == 9_998
    counts = result["counts"]
    assert (counts["added"], counts["unknown_symbol"], counts["invalid_format"]) == (9_998, 1, 1)
    assert len(result["results"]) == tasks.INLINE_RESULTS
    assert result["results_truncated"] is True
    assert result["results"][0] == {
        "row": 2,
        "input": symbols[0],
        "symbol": symbols[0],
        "status": "added",
        "reason": None,
    }

    full = await client.get(result["results_url"], headers=alice.headers)
    assert full.status_code == 200
    rows = [json.loads(line) for line in full.text.splitlines()]
    assert [r["row"] for r in rows] == list(range(2, 10_002))
    assert rows[-2]["status"] == "unknown_symbol"
    assert rows[-1]["status"] == "invalid_format"
    detail = (await client.get(f"{API}/{universe['id']}", headers=alice.headers)).json()["data"]
    assert detail["asset_count"] == 9_998
    first = await client.get(detail["assets_url"], params={"limit": 6}, headers=alice.headers)
    assert first.json()["data"]["items"][5]["metadata"] == {"weight": "5"}


@pytest.mark.usefixtures("paused_executor")
async def test_export_job_writes_the_file_and_only_its_owner_can_download_it(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Export job", symbols=["MSFT", "AAPL"])
    other = await create_universe(client, alice, "Other")
    operation_id = await _request_export(app, alice, universe["id"])

    url = f"{API}/{universe['id']}/exports/{operation_id}"
    not_yet = await client.get(url, headers=alice.headers)
    assert not_yet.status_code == 409

    async with job_resources(app) as res:
        assert await run(res, operation_id) == "succeeded"
    result = (await operation_row(db, operation_id)).result or {}
    assert result["download_url"] == url
    assert result["row_count"] == 2
    finished = await operation_row(db, operation_id)
    assert (finished.progress_done, finished.progress_total) == (2, 2)  # shown as complete

    download = await client.get(url, headers=alice.headers)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert 'filename="Export-job.csv"' in download.headers["content-disposition"]
    direct = await client.get(f"{API}/{universe['id']}/export", headers=alice.headers)
    assert download.content == direct.content  # the same CSV as the synchronous export

    assert (await client.get(url, headers=bob.headers)).status_code == 404
    wrong_universe = f"{API}/{other['id']}/exports/{operation_id}"
    assert (await client.get(wrong_universe, headers=alice.headers)).status_code == 404
    unknown = f"{API}/{universe['id']}/exports/{uuid.uuid4()}"
    assert (await client.get(unknown, headers=alice.headers)).status_code == 404


@pytest.mark.usefixtures("clean_jobs")
async def test_import_and_export_endpoints_answer_202_with_location_for_the_owner_only(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    universe = await create_universe(client, alice, "Via API")
    imported = await client.post(
        f"{API}/{universe['id']}/import",
        files={"file": ("m.csv", b"symbol,meta.note\nNVDA,x\nNOPE99,y\n", "text/csv")},
        headers=alice.headers,
    )
    assert imported.status_code == 202, imported.text
    operation = imported.json()["data"]
    assert imported.headers["location"] == f"/api/v1/operations/{operation['id']}"
    assert operation["kind"] == "import_universe_csv"
    finished = await wait_finished(client, alice.headers, operation["id"])
    assert finished["status"] == "succeeded", finished
    statuses = [(r["row"], r["symbol"], r["status"]) for r in finished["result"]["results"]]
    assert statuses == [(2, "NVDA", "added"), (3, "NOPE99", "unknown_symbol")]
    assert (await client.get(imported.headers["location"], headers=bob.headers)).status_code == 404
    results_url = finished["result"]["results_url"]
    assert (await client.get(results_url, headers=bob.headers)).status_code == 404

    exported = await client.post(f"{API}/{universe['id']}/export", headers=alice.headers)
    assert exported.status_code == 202, exported.text
    assert exported.headers["location"].startswith("/api/v1/operations/")
    done = await wait_finished(client, alice.headers, exported.json()["data"]["id"])
    assert done["status"] == "succeeded", done
    download = await client.get(done["result"]["download_url"], headers=alice.headers)
    assert download.status_code == 200
    assert download.text.splitlines()[1].startswith("NVDA,")
    assert (
        await client.get(done["result"]["download_url"], headers=bob.headers)
    ).status_code == 404

    # Someone else's universe: 404 at once, and no operation is created.
    for response in (
        await client.post(f"{API}/{universe['id']}/export", headers=bob.headers),
        await client.post(
            f"{API}/{universe['id']}/import",
            files={"file": ("m.csv", b"symbol\nAAPL\n", "text/csv")},
            headers=bob.headers,
        ),
    ):
        assert response.status_code == 404
    listed = await client.get("/api/v1/operations", headers=bob.headers)
    assert listed.status_code == 200
    assert listed.json()["data"]["items"] == []
