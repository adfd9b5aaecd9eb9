"""The periodic jobs: cleanup of expired operations (with their files and results), the refresh
of stale validations."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from quantdesk import domains
from quantdesk.jobs.registry import get_spec, periodic_specs
from quantdesk.kit.db import Database
from quantdesk.kit.orm import utcnow
from quantdesk.market import tasks as market_tasks
from quantdesk.models import Asset, Operation, OperationFile, OperationResult, ValidationRequest
from tests.factories import Account
from tests.jobs.tasks_support import (
    clean_jobs,
    counting_runtime,
    job_resources,
    operation_row,
    paused_executor,
    request,
    run,
    symbols,
)

__all__ = ["clean_jobs", "paused_executor"]  # fixtures, imported to be found by pytest


def test_periodic_kinds_are_declared_with_their_intervals() -> None:
    domains.register()
    every = {spec.kind: spec.every for spec in periodic_specs()}
    assert every == {
        "refresh_stale_validations": timedelta(hours=1),
        "cleanup_expired": timedelta(hours=6),
        "credit_paper_dividends": timedelta(hours=6),
        "snapshot_paper_equity": timedelta(hours=1),
        "drain_validation_queue": timedelta(minutes=5),
        "expire_market_watches": timedelta(minutes=5),
        "trim_quota_ledger": timedelta(hours=1),
        "trim_refresh_queue": timedelta(hours=1),
        "watch_active_universes": timedelta(minutes=5),
    }
    assert get_spec("validate_asset").queue == "validation"
    assert get_spec("validate_asset").every is None
    assert get_spec("bulk_validate_assets").queue == "bulk_validation"
    assert get_spec("cleanup_expired").queue == "maintenance"


async def _operation(db: Database, *, status: str, finished_days_ago: float | None) -> uuid.UUID:
    now = utcnow()
    async with db.transaction(system=True) as session:
        operation = Operation(
            kind="export_universe_csv",
            owner_id=None,
            status=status,
            queue="maintenance",
            priority=0,
            params={},
            progress_done=0,
            attempts=1,
            max_attempts=4,
            cancel_requested=False,
            finished_at=None
            if finished_days_ago is None
            else now - timedelta(days=finished_days_ago),
        )
        session.add(operation)
        await session.flush()
        session.add(
            OperationFile(
                operation_id=operation.id,
                name="export",
                owner_id=None,
                media_type="text/csv",
                content=b"symbol\r\n",
            )
        )
        session.add(OperationResult(operation_id=operation.id, item=0, payload={"ok": True}))
        return operation.id


@pytest.mark.usefixtures("paused_executor")
async def test_cleanup_deletes_expired_operations_with_their_files_and_results_only(
    app: FastAPI, db: Database
) -> None:
    retention = app.state.settings.operations_retention_days
    old = await _operation(db, status="succeeded", finished_days_ago=retention + 1)
    old_failed = await _operation(db, status="failed", finished_days_ago=retention + 3)
    recent = await _operation(db, status="succeeded", finished_days_ago=1)
    running = await _operation(db, status="running", finished_days_ago=None)

    cleanup = await request(db, kind="cleanup_expired", owner_id=None, params={})
    async with job_resources(app) as res:
        assert await run(res, cleanup) == "succeeded"
    result = (await operation_row(db, cleanup)).result
    assert result == {"operations_deleted": 2}
    async with db.transaction(system=True) as session:
        left = set((await session.execute(select(Operation.id))).scalars())
        files = set((await session.execute(select(OperationFile.operation_id))).scalars())
        results = set((await session.execute(select(OperationResult.operation_id))).scalars())
    assert left == {recent, running, cleanup}
    assert files == results == {recent, running}
    assert old not in left
    assert old_failed not in left


async def _asset(db: Database, symbol: str, *, source: str, validated_hours_ago: float) -> None:
    now = utcnow()
    async with db.transaction() as session:
        session.add(
            Asset(
                symbol=symbol,
                lookup_key=symbol,
                name=f"Test {symbol}",
                asset_class="equity",
                is_validated=True,
                validation_source=source,
                last_validated_at=now - timedelta(hours=validated_hours_ago),
                validation_status="valid",
                metadata_={},
            )
        )


async def _rows(db: Database, names: list[str]) -> dict[str, Asset]:
    async with db.transaction() as session:
        found = await session.execute(select(Asset).where(Asset.symbol.in_(names)))
        return {a.symbol: a for a in found.scalars()}


@pytest.mark.usefixtures("paused_executor")
async def test_refresh_rechecks_stale_provider_validations_through_the_strategy(
    app: FastAPI, db: Database, alice: Account
) -> None:
    names = symbols(5)
    await _asset(db, names[0], source="counting", validated_hours_ago=30)  # stale, still real
    await _asset(db, names[1], source="counting", validated_hours_ago=48)  # stale, delisted
    await _asset(db, names[2], source="counting", validated_hours_ago=2)  # fresh
    await _asset(db, names[3], source="catalog", validated_hours_ago=72)  # the catalog's
    await _asset(db, names[4], source="counting", validated_hours_ago=50)  # providers down
    async with counting_runtime(app) as (runtime, provider), job_resources(app, runtime) as res:
        refresh = await request(db, kind="refresh_stale_validations", owner_id=None, params={})
        before = utcnow()
        assert await run(res, refresh) == "succeeded"
        result = (await operation_row(db, refresh)).result
        assert result == {"checked": 3, "valid": 2, "invalid": 1, "unknown": 0}
        assert set(provider.lookup.calls) == {names[0], names[1], names[4]}

        rows = await _rows(db, names)
        assert rows[names[0]].validation_status == "valid"
        assert rows[names[0]].last_validated_at is not None
        assert rows[names[0]].last_validated_at >= before
        assert rows[names[1]].validation_status == "invalid"
        assert rows[names[2]].last_validated_at is not None
        assert rows[names[2]].last_validated_at < before
        assert rows[names[3]].validation_status == "valid"

        # Make names[0] stale again, and let no provider answer: the old verdict stays.
        await _asset_stale(db, names[0])
        for _ in range(app.state.settings.breaker_failure_threshold):
            runtime.breakers[provider.name].record_failure()
        again = await request(db, kind="refresh_stale_validations", owner_id=None, params={})
        assert await run(res, again) == "succeeded"
        assert (await operation_row(db, again)).result == {
            "checked": 1,
            "valid": 0,
            "invalid": 0,
            "unknown": 1,
        }
    rows = await _rows(db, names)
    assert rows[names[0]].validation_status == "valid"
    async with db.transaction() as session:
        assert list((await session.execute(select(ValidationRequest))).scalars()) == []


async def _asset_stale(db: Database, symbol: str) -> None:
    async with db.transaction() as session:
        asset = (await session.execute(select(Asset).where(Asset.symbol == symbol))).scalar_one()
        asset.last_validated_at = utcnow() - timedelta(days=3)


@pytest.mark.usefixtures("paused_executor")
async def test_refresh_is_skipped_without_a_live_provider(app: FastAPI, db: Database) -> None:
    refresh = await request(db, kind="refresh_stale_validations", owner_id=None, params={})
    async with job_resources(app) as res:  # the app's runtime: simulated data only
        assert await run(res, refresh) == "succeeded"
    result = (await operation_row(db, refresh)).result
    assert result is not None
    assert result["checked"] == 0
    assert market_tasks.REFRESH_LIMIT == 100
