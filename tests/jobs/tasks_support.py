"""Helpers of the domain-job tests (tests/jobs/test_tasks_*.py): a counting provider, job
resources over the app's database, requesting and running operations without the app's executor.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from quantdesk.jobs import service as jobs_service
from quantdesk.jobs.executors import current_executor
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.db import Database
from quantdesk.kit.events import InProcessEventBus
from quantdesk.kit.orm import utcnow
from quantdesk.market.providers.base import Capability, Fetcher, Provider, SymbolInfo, SymbolQuery
from quantdesk.market.runtime import MARKET, MarketRuntime
from quantdesk.models import Asset, Operation, ValidationRequest

# Every asset these tests create starts with this (none is in the catalog); removed after each.
PREFIX = "QJ"


class SimulatedCrash(BaseException):
    """Escapes every ``except Exception`` like a kill -9 would: the row keeps its lease."""


class CountingLookup(Fetcher[SymbolQuery, SymbolInfo]):
    """A live provider's lookup: symbols with an even number exist; counts every call."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.crash_on: str | None = None

    def transform_query(self, query: SymbolQuery) -> dict[str, Any]:
        return {"symbol": query.symbol}

    async def extract(self, params: dict[str, Any]) -> Any:
        symbol = str(params["symbol"])
        self.calls[symbol] += 1
        if symbol == self.crash_on:
            self.crash_on = None  # the process "dies" once
            raise SimulatedCrash(symbol)
        await asyncio.sleep(0)
        return symbol

    def transform(self, query: SymbolQuery, raw: Any) -> SymbolInfo | None:
        digits = "".join(ch for ch in str(raw) if ch.isdigit())
        if digits and int(digits) % 2 == 0:
            return SymbolInfo(symbol=str(raw), name=f"Test {raw}", source="counting")
        return None


class CountingProvider(Provider):
    name = "counting"

    def __init__(self) -> None:
        self.lookup = CountingLookup()
        super().__init__({Capability.LOOKUP: self.lookup})


def symbols(count: int) -> list[str]:
    return [f"{PREFIX}{n:04d}" for n in range(count)]


@asynccontextmanager
async def job_resources(
    app: FastAPI, market: MarketRuntime | None = None
) -> AsyncIterator[JobResources]:
    resources = JobResources(app.state.settings, db=app.state.db, bus=InProcessEventBus())
    resources.provide(MARKET, market or app.state.market)
    try:
        yield resources
    finally:
        await resources.aclose()


@asynccontextmanager
async def counting_runtime(app: FastAPI) -> AsyncIterator[tuple[MarketRuntime, CountingProvider]]:
    provider = CountingProvider()
    runtime = MarketRuntime(app.state.settings, providers=[provider])
    try:
        yield runtime, provider
    finally:
        await runtime.aclose()


async def request(
    db: Database, *, kind: str, owner_id: uuid.UUID | None, params: dict[str, Any]
) -> uuid.UUID:
    async with db.transaction(user_id=owner_id, system=owner_id is None) as session:
        operation = await jobs_service.request_job(
            session, kind=kind, owner_id=owner_id, params=params
        )
        return operation.id


async def run(resources: JobResources, operation_id: uuid.UUID, worker: str = "test-1") -> str:
    return await run_operation(resources, operation_id, worker_id=worker)


async def operation_row(db: Database, operation_id: uuid.UUID) -> Operation:
    async with db.transaction(system=True) as session:
        found = await session.get(Operation, operation_id)
        assert found is not None
        return found


async def expire_lease(db: Database, operation_id: uuid.UUID) -> None:
    """What another worker sees once a dead worker's lease has run out."""
    async with db.transaction(system=True) as session:
        await session.execute(
            update(Operation)
            .where(Operation.id == operation_id)
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )


async def operations_of_kind(db: Database, kind: str) -> list[Operation]:
    async with db.transaction(system=True) as session:
        rows = await session.execute(select(Operation).where(Operation.kind == kind))
        return list(rows.scalars())


async def wait_finished(
    client: httpx.AsyncClient, headers: dict[str, str], operation_id: str, seconds: float = 60.0
) -> dict[str, Any]:
    """Poll GET /operations/{id} until the app's executor has finished it."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get(f"/api/v1/operations/{operation_id}", headers=headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        if data["status"] in ("succeeded", "failed", "cancelled"):
            return data
        assert asyncio.get_running_loop().time() < deadline, data
        await asyncio.sleep(0.05)


async def forget(db: Database) -> None:
    async with db.transaction(system=True) as session:
        await session.execute(delete(Operation))
        await session.execute(delete(ValidationRequest))
        await session.execute(delete(Asset).where(Asset.symbol.like(f"{PREFIX}%")))


@pytest.fixture
async def clean_jobs(app: FastAPI) -> AsyncIterator[None]:
    """No operations, queue rows or test assets before and after; the app's cache emptied."""
    await forget(app.state.db)
    app.state.market.cache.clear_local()
    yield
    await forget(app.state.db)
    app.state.market.cache.clear_local()


@pytest.fixture
async def paused_executor(app: FastAPI, clean_jobs: None) -> AsyncIterator[None]:
    """The app's executor stopped, so the test alone runs the operations it requests."""
    executor = current_executor()
    if executor is not None:
        await executor.stop()
    try:
        yield
    finally:
        await forget(app.state.db)
        if executor is not None:
            await executor.start()
