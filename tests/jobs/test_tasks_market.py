"""Market-data jobs: bulk validation (batches, progress, resume after a crash, cancel), the
validation queue drained into validate_asset jobs, and the 202 endpoint."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from quantdesk.jobs import progress as events
from quantdesk.jobs import service as jobs_service
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import service as market_service
from quantdesk.market.schemas import MAX_BULK_VALIDATE_SYMBOLS
from quantdesk.models import Asset, ValidationRequest, ValidationStatus
from tests.factories import Account, ensure_assets
from tests.jobs.tasks_support import (
    SimulatedCrash,
    clean_jobs,
    counting_runtime,
    expire_lease,
    job_resources,
    operation_row,
    operations_of_kind,
    paused_executor,
    request,
    run,
    symbols,
    wait_finished,
)

__all__ = ["clean_jobs", "paused_executor"]  # fixtures, imported to be found by pytest


async def _bulk(db: Database, owner: Account, names: list[str]) -> uuid.UUID:
    """A bulk validation requested as the endpoint does (its symbols stored with it)."""
    async with db.transaction(user_id=owner.user.id) as session:
        operation = await market_service.request_bulk_validation(
            session, owner_id=owner.user.id, symbols=names
        )
        return operation.id


async def _results(db: Database, owner: Account, operation_id: uuid.UUID) -> list[dict]:
    return [
        item
        async for item in jobs_service.stream_results(
            db, owner_id=owner.user.id, operation_id=operation_id
        )
    ]


async def _assets(db: Database, names: list[str]) -> dict[str, Asset]:
    async with db.transaction() as session:
        rows = await session.execute(select(Asset).where(Asset.symbol.in_(names)))
        return {a.symbol: a for a in rows.scalars()}


@pytest.mark.usefixtures("paused_executor")
async def test_bulk_validation_resumes_after_a_crash_and_applies_each_batch_once(
    app: FastAPI, db: Database, alice: Account
) -> None:
    names = symbols(45)
    operation_id = await _bulk(db, alice, names)
    async with counting_runtime(app) as (runtime, provider), job_resources(app, runtime) as res:
        provider.lookup.crash_on = names[33]  # mid batch 4 (symbols 30..39)
        with pytest.raises(SimulatedCrash):
            await run(res, operation_id, worker="doomed")

        crashed = await operation_row(db, operation_id)
        assert crashed.status == "running"
        assert (crashed.progress_done, crashed.progress_total) == (30, 45)
        created = await _assets(db, names)
        # Batches 1-3 committed with their checkpoint; batch 4 rolled back with the crash.
        assert sorted(created) == [n for n in names[:30] if int(n[2:]) % 2 == 0]

        await expire_lease(db, operation_id)
        validations_before = runtime.stats.snapshot(provider_names=[], cache={}).validations
        async with res.bus.subscribe(events.channel(operation_id)) as feed:
            assert await run(res, operation_id, worker="rescuer") == "succeeded"
            progress = []
            while (message := await feed.get(wait=0.5)) is not None:
                if message["type"] == "progress":
                    progress.append(message["operation"]["progress"]["done"])
        validations_after = runtime.stats.snapshot(provider_names=[], cache={}).validations

    # The rescue ran only batches 4 and 5, one progress event each.
    assert validations_after - validations_before == 2
    assert progress == [40, 45]
    assert all(provider.lookup.calls[n] == 1 for n in names[:30])
    done = await operation_row(db, operation_id)
    assert done.status == "succeeded"
    assert done.result is not None
    assert done.result["counts"] == {"valid": 23, "invalid": 22, "unknown": 0}
    assert len(done.result["sample"]) == market_service.SAMPLE_SIZE
    assert {r["canonical_symbol"] for r in done.result["not_valid_sample"]} == set(names[1::2])
    lines = await _results(db, alice, operation_id)
    assert [line["i"] for line in lines] == list(range(45))  # exactly one result per symbol
    created = await _assets(db, names)
    assert sorted(created) == names[::2]
    assert all(a.validation_source == "counting" for a in created.values())


@pytest.mark.usefixtures("paused_executor")
async def test_bulk_validation_stops_between_batches_when_cancelled(
    app: FastAPI, db: Database, alice: Account
) -> None:
    names = symbols(2000)  # long enough to outlast the time between cancel checks
    operation_id = await _bulk(db, alice, names)
    async with (
        counting_runtime(app) as (runtime, _),
        job_resources(app, runtime) as res,
        res.bus.subscribe(events.channel(operation_id)) as feed,
    ):

        async def cancel_after_first_batch() -> None:
            while (message := await feed.get(wait=5)) is not None:
                if message["type"] == "progress":
                    async with db.transaction(user_id=alice.user.id) as session:
                        await jobs_service.cancel_operation(
                            session,
                            owner_id=alice.user.id,
                            operation_id=operation_id,
                            bus=res.bus,
                        )
                    return

        canceller = asyncio.create_task(cancel_after_first_batch())
        outcome = await run(res, operation_id)
        await canceller
    assert outcome == "cancelled"
    row = await operation_row(db, operation_id)
    assert row.status == "cancelled"
    assert 10 <= row.progress_done < len(names)
    assert len(await _assets(db, names)) == len(names[: row.progress_done : 2])
    # What it did before stopping is kept: a result per symbol done, and the summary of them.
    kept = await _results(db, alice, operation_id)
    assert [line["i"] for line in kept] == list(range(row.progress_done))
    assert row.result is not None
    assert row.result["done"] == row.progress_done
    assert sum(row.result["counts"].values()) == row.progress_done


@pytest.mark.usefixtures("paused_executor")
async def test_drain_turns_due_queue_rows_into_validate_asset_jobs_that_empty_the_queue(
    app: FastAPI, db: Database
) -> None:
    names = symbols(4)
    now = utcnow()
    async with db.transaction() as session:
        for i, name in enumerate(names):
            due = now - timedelta(minutes=1) if i < 3 else now + timedelta(hours=1)
            session.add(
                ValidationRequest(
                    symbol=name, requested_at=now, reason="providers down", next_attempt_at=due
                )
            )
        # QJ0000 was added to a universe while providers were down: a pending asset.
        session.add(
            Asset(
                symbol=names[0],
                lookup_key=names[0],
                name=names[0],
                asset_class="equity",
                validation_status=ValidationStatus.PENDING.value,
                metadata_={},
            )
        )
    async with counting_runtime(app) as (runtime, provider), job_resources(app, runtime) as res:
        drain = await request(db, kind="drain_validation_queue", owner_id=None, params={})
        assert await run(res, drain) == "succeeded"
        drained = await operation_row(db, drain)
        assert drained.result == {"requested": 3, "symbols": names[:3]}
        # Claimed: pushed back, so the next drain does not ask again for the same rows.
        again = await request(db, kind="drain_validation_queue", owner_id=None, params={})
        assert await run(res, again) == "succeeded"
        assert (await operation_row(db, again)).result == {"requested": 0, "symbols": []}

        jobs = await operations_of_kind(db, "validate_asset")
        assert sorted(j.params["symbol"] for j in jobs) == names[:3]
        assert all(j.owner_id is None and j.queue == "validation" for j in jobs)
        provider.lookup.calls.clear()
        for found in jobs:
            assert await run(res, found.id) == "succeeded"
    assert dict(provider.lookup.calls) == {name: 1 for name in names[:3]}
    async with db.transaction() as session:
        left = {r.symbol for r in (await session.execute(select(ValidationRequest))).scalars()}
    assert left == {names[3]}  # the one not yet due stays queued
    assets = await _assets(db, names)
    assert assets[names[0]].validation_status == ValidationStatus.VALID.value
    assert assets[names[2]].validation_status == ValidationStatus.VALID.value
    results = {j.params["symbol"]: (await operation_row(db, j.id)).result for j in jobs}
    assert results[names[1]] is not None
    assert results[names[1]]["valid"] is False


@pytest.mark.usefixtures("paused_executor")
async def test_validate_asset_keeps_an_unanswered_symbol_queued_with_backoff(
    app: FastAPI, db: Database
) -> None:
    name = symbols(1)[0]
    # Without a live provider the catalog decides, so the job needs one that cannot answer now.
    async with counting_runtime(app) as (runtime, provider), job_resources(app, runtime) as res:
        for _ in range(app.state.settings.breaker_failure_threshold):
            runtime.breakers[provider.name].record_failure()
        operation_id = await request(
            db, kind="validate_asset", owner_id=None, params={"symbol": name, "attempt": 3}
        )
        before = utcnow()
        assert await run(res, operation_id) == "succeeded"
        row = await operation_row(db, operation_id)
        assert row.result is not None
        assert row.result["valid"] == "unknown"
        async with db.transaction() as session:
            queued = (
                await session.execute(
                    select(ValidationRequest).where(ValidationRequest.symbol == name)
                )
            ).scalar_one()
        # Attempt 3: 5 min x 4 at least, whatever the breaker's short retry-after says.
        assert queued.next_attempt_at >= before + market_service.queue_backoff(3)
        assert provider.lookup.calls[name] == 0


@pytest.mark.usefixtures("clean_jobs")
async def test_bulk_endpoint_answers_202_with_location_and_only_its_owner_sees_it(
    client: httpx.AsyncClient, db: Database, alice: Account, bob: Account
) -> None:
    await ensure_assets(db)
    response = await client.post(
        "/api/v1/assets/validate/bulk",
        json={"symbols": ["AAPL", "msft", "QJNOPE", "not a symbol!"]},
        headers=alice.headers,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    operation_id = body["data"]["id"]
    assert response.headers["location"] == f"/api/v1/operations/{operation_id}"
    assert body["data"]["kind"] == "bulk_validate_assets"
    assert "get_operation" in body["next_actions"]

    finished = await wait_finished(client, alice.headers, operation_id)
    assert finished["status"] == "succeeded", finished
    assert finished["result"]["counts"] == {"valid": 2, "invalid": 2, "unknown": 0}
    assert finished["progress"]["done"] == 4

    results = await client.get(finished["result"]["results_url"], headers=alice.headers)
    assert results.status_code == 200
    lines = [json.loads(line) for line in results.text.splitlines()]
    assert [line["symbol"] for line in lines] == ["AAPL", "msft", "QJNOPE", "not a symbol!"]

    for path in (f"/api/v1/operations/{operation_id}", finished["result"]["results_url"]):
        other = await client.get(path, headers=bob.headers)
        assert other.status_code == 404, path


@pytest.mark.usefixtures("clean_jobs")
async def test_bulk_validation_collapses_duplicates_and_counts_distinct_symbols(
    client: httpx.AsyncClient, db: Database, alice: Account
) -> None:
    await ensure_assets(db)
    response = await client.post(
        "/api/v1/assets/validate/bulk",
        json={"symbols": ["AAPL", "aapl", " AAPL ", "MSFT", "MSFT", "bad!", "bad!"]},
        headers=alice.headers,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["metadata"]["symbol_count"] == 3
    assert body["metadata"]["input_count"] == 7
    finished = await wait_finished(client, alice.headers, body["data"]["id"])
    assert finished["result"]["counts"] == {"valid": 2, "invalid": 1, "unknown": 0}
    assert finished["result"]["total"] == 3
    assert finished["progress"] == {
        "done": 3,
        "total": 3,
        "message": "3 of 3 symbols validated",
        "percent": 100.0,
    }


@pytest.mark.usefixtures("clean_jobs")
async def test_bulk_endpoint_refuses_empty_and_oversized_lists(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for symbols_ in ([], ["A"] * (MAX_BULK_VALIDATE_SYMBOLS + 1)):
        response = await client.post(
            "/api/v1/assets/validate/bulk", json={"symbols": symbols_}, headers=alice.headers
        )
        assert response.status_code == 422
    anonymous = await client.post("/api/v1/assets/validate/bulk", json={"symbols": ["AAPL"]})
    assert anonymous.status_code == 401
