"""Jobs on the local executor: no-op throughput beside a bare asyncio.Queue worker pool doing the
same database writes, and 202-to-first-progress-frame latency over a real WebSocket.

Throughput, per database and concurrency (the median of interleaved rounds): N no-op jobs
requested in one transaction
(``jobs.service.request_jobs``) and run by the embedded executor until all have succeeded. The
baseline inserts the same rows the same way, puts their ids on an ``asyncio.Queue``, and as many
workers as the executor has slots each claim a row and mark it succeeded with the same two
single-statement writes in plain SQL: the floor of a database-backed job queue.

Latency: a real uvicorn server; a bench-only endpoint answers 202 with an operation id; the
client opens the WebSocket and the clock stops at the first frame showing progress (each run
waits for the job's last frame, so every run finds the executor idle). Its floor:
the same WebSocket opened on a finished operation (handshake, authentication, one read, one
frame).
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text
from tests import pg
from websockets.asyncio.client import connect

from bench import celery_noop
from bench.common import SMOKE, compare, fresh_sqlite_settings, percentile, size
from quantdesk.app import create_app
from quantdesk.auth.dependencies import CurrentUser
from quantdesk.jobs import service
from quantdesk.jobs.context import JobContext
from quantdesk.jobs.executors.base import pop_current_executor, push_current_executor
from quantdesk.jobs.executors.local import LocalExecutor
from quantdesk.jobs.registry import job
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from quantdesk.kit.db import DbSession
from quantdesk.kit.logging import configure_logging
from quantdesk.kit.migrations import upgrade
from quantdesk.kit.security import hash_password, issue_jwt
from quantdesk.models import Operation, User

JOBS = size(2000, 40)
ROUNDS = size(3, 1)
CONCURRENCIES = (1, 4, 16)
LATENCY_RUNS = size(100, 5)
PROGRESS_KIND = "bench_progress"


@job(PROGRESS_KIND)
async def bench_progress(ctx: JobContext) -> dict[str, Any] | None:
    await ctx.progress(1, 2, "started")
    await asyncio.sleep(0.2)
    await ctx.progress(2, 2, "done")
    return None


async def _request(resources: JobResources, executor: LocalExecutor | None) -> list[uuid.UUID]:
    if executor is not None:
        push_current_executor(executor)
    try:
        async with resources.db.transaction(system=True) as session:
            made = await service.request_jobs(
                session, kind=celery_noop.NOOP_KIND, owner_id=None, params=[{}] * JOBS
            )
    finally:
        if executor is not None:
            pop_current_executor(executor)
    return [operation.id for operation in made]


async def _unfinished(resources: JobResources) -> int:
    async with resources.db.transaction(system=True) as session:
        found = await session.scalar(
            select(func.count()).select_from(Operation).where(Operation.status != "succeeded")
        )
    return int(found or 0)


async def _ours(settings: Settings, concurrency: int) -> float:
    resources = JobResources(settings)
    executor = LocalExecutor(resources, concurrency=concurrency)
    await executor.start()
    try:
        started = time.perf_counter()
        await _request(resources, executor)
        while executor.completed < JOBS:  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.002)
        elapsed = time.perf_counter() - started
        if await _unfinished(resources):
            raise RuntimeError("some jobs did not succeed")
        return JOBS / elapsed
    finally:
        await executor.stop()
        await resources.aclose()


_CLAIM = text(
    "UPDATE operations SET status = 'running', lease_owner = :w, attempts = attempts + 1, "
    "updated_at = CURRENT_TIMESTAMP WHERE id = :id AND status = 'pending' "
    "RETURNING id, kind, params"
)
_FINISH = text(
    "UPDATE operations SET status = 'succeeded', lease_owner = NULL, "
    "finished_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP "
    "WHERE id = :id AND lease_owner = :w RETURNING id"
)


async def _bare(settings: Settings, concurrency: int) -> float:
    resources = JobResources(settings)
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    sqlite = resources.db.kind == "sqlite"

    async def work(worker: str) -> None:
        while True:
            operation_id = await queue.get()
            params = {"id": operation_id.hex if sqlite else operation_id, "w": worker}
            async with resources.db.autocommit() as conn:
                (await conn.execute(_CLAIM, params)).first()
            async with resources.db.autocommit() as conn:
                (await conn.execute(_FINISH, params)).first()
            queue.task_done()

    workers = [asyncio.create_task(work(f"bare-{n}")) for n in range(concurrency)]
    try:
        started = time.perf_counter()
        for operation_id in await _request(resources, None):
            queue.put_nowait(operation_id)
        await queue.join()
        elapsed = time.perf_counter() - started
        if await _unfinished(resources):
            raise RuntimeError("some bare jobs did not succeed")
        return JOBS / elapsed
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await resources.aclose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _bench_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def start_bench_job(session: DbSession, user: CurrentUser) -> JSONResponse:
        operation = await service.request_job(
            session, kind=PROGRESS_KIND, owner_id=user.id, params={}
        )
        location = f"/api/v1/operations/{operation.id}"
        return JSONResponse(
            {"data": {"id": str(operation.id)}}, status_code=202, headers={"Location": location}
        )

    app.add_api_route("/bench/jobs", start_bench_job, methods=["POST"])
    return app


async def _make_user(settings: Settings) -> str:
    resources = JobResources(settings)
    try:
        async with resources.db.transaction() as session:
            user = User(
                email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                password_hash=hash_password("x" * 12),
            )
            session.add(user)
            await session.flush()
        return issue_jwt(settings, user.id, "access").token
    finally:
        await resources.aclose()


async def _latency(settings: Settings) -> tuple[list[float], list[float]]:
    """(202 → first progress frame, WebSocket of a finished operation → its frame) in seconds."""
    token = await _make_user(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            _bench_app(settings),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # noqa: ASYNC110 - set by the server's thread
        await asyncio.sleep(0.02)
    headers = {"Authorization": f"Bearer {token}"}
    frames: list[float] = []
    floor: list[float] = []
    finished: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            for _ in range(LATENCY_RUNS):
                started = time.perf_counter()
                response = await http.post("/bench/jobs")
                assert response.status_code == 202, response.text
                operation_id = response.json()["data"]["id"]
                url = f"ws://127.0.0.1:{port}/ws/operations/{operation_id}"
                async with connect(url, additional_headers=headers) as ws:
                    async for raw in ws:  # to the end: the next run finds every slot free
                        done = json.loads(raw)["operation"]["progress"]["done"]
                        if done >= 1 and len(frames) < len(finished) + 1:
                            frames.append(time.perf_counter() - started)
                finished.append(operation_id)
            for operation_id in finished:
                url = f"ws://127.0.0.1:{port}/ws/operations/{operation_id}"
                started = time.perf_counter()
                async with connect(url, additional_headers=headers) as ws:
                    await ws.recv()
                floor.append(time.perf_counter() - started)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return frames, floor


def _throughput(label: str, settings: Settings) -> None:
    for concurrency in CONCURRENCIES:
        # Interleaved rounds, the median of each: this machine's noise falls on both alike.
        ours_runs, bare_runs = [], []
        for _ in range(ROUNDS):
            ours_runs.append(asyncio.run(_ours(settings, concurrency)))
            bare_runs.append(asyncio.run(_bare(settings, concurrency)))
        ours, bare = statistics.median(ours_runs), statistics.median(bare_runs)
        compare(
            f"[{label}, concurrency {concurrency:>2}] local executor",
            ours,
            bare,
            "jobs/s",
            baseline_label="bare asyncio.Queue pool, same writes",
            higher_is_better=True,
            goal=None if SMOKE else 0.8,
        )


def main() -> None:
    configure_logging("WARNING")
    print(f"{JOBS} no-op jobs per measurement (request in one transaction, then run)")
    _throughput("sqlite", fresh_sqlite_settings())
    if pg.postgres_available():
        url, name = pg.create_database("qd_bench")
        try:
            upgrade(url)
            _throughput(
                "postgresql", fresh_sqlite_settings().model_copy(update={"database_url": url})
            )
        finally:
            pg.drop_database(name)
    elif pg.IN_CI:
        raise SystemExit("PostgreSQL is not reachable and CI=true")
    frames, floor = asyncio.run(_latency(fresh_sqlite_settings()))
    for name, samples in (("p50", 50), ("p95", 95)):
        compare(
            f"202 -> first progress frame {name} (SQLite)",
            percentile(frames, samples) * 1000,
            percentile(floor, samples) * 1000,
            "ms",
            baseline_label="WebSocket of a finished operation",
            higher_is_better=False,
        )


if __name__ == "__main__":
    main()
