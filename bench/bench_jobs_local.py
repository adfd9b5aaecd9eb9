"""Jobs on the local executor: no-op throughput (jobs/s) and 202-to-first-progress-frame latency.

Throughput: N no-op jobs requested one transaction each (as services do), run by the embedded
executor at a few concurrencies, until all have succeeded. Latency: a real uvicorn server; a
bench-only endpoint answers 202 with the operation id; the client opens the WebSocket and the
clock stops at the first frame showing progress (p50/p95 over sequential runs).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from websockets.asyncio.client import connect

from bench.common import fresh_sqlite_settings, percentile
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
from quantdesk.kit.security import hash_password, issue_jwt
from quantdesk.models import Operation, User

THROUGHPUT_JOBS = 1000
LATENCY_RUNS = 100


@job("bench_noop")
async def bench_noop(ctx: JobContext) -> dict[str, Any] | None:
    return None


@job("bench_progress")
async def bench_progress(ctx: JobContext) -> dict[str, Any] | None:
    await ctx.progress(1, 2, "started")
    await asyncio.sleep(0.2)
    await ctx.progress(2, 2, "done")
    return None


async def _throughput(settings: Settings, concurrency: int) -> float:
    resources = JobResources(settings)
    executor = LocalExecutor(resources, concurrency=concurrency)
    await executor.start()
    push_current_executor(executor)
    try:
        started = time.perf_counter()
        ids = []
        for _ in range(THROUGHPUT_JOBS):
            async with resources.db.transaction(system=True) as session:
                operation = await service.request_job(
                    session, kind="bench_noop", owner_id=None, params={}
                )
                ids.append(operation.id)
        while executor.completed < THROUGHPUT_JOBS:  # noqa: ASYNC110 - a counter, not an event
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        pop_current_executor(executor)
        await executor.stop()
        await resources.aclose()
    return THROUGHPUT_JOBS / elapsed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _bench_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    async def start_bench_job(session: DbSession, user: CurrentUser) -> JSONResponse:
        operation = await service.request_job(
            session, kind="bench_progress", owner_id=user.id, params={}
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


async def _latency(settings: Settings) -> list[float]:
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
    samples: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            for _ in range(LATENCY_RUNS):
                response = await http.post("/bench/jobs")
                accepted = time.perf_counter()
                assert response.status_code == 202, response.text
                operation_id = response.json()["data"]["id"]
                url = f"ws://127.0.0.1:{port}/ws/operations/{operation_id}"
                async with connect(url, additional_headers=headers) as ws:
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame["operation"]["progress"]["done"] >= 1:
                            samples.append(time.perf_counter() - accepted)
                            break
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return samples


async def _count_leftovers(settings: Settings) -> int:
    resources = JobResources(settings)
    try:
        async with resources.db.transaction(system=True) as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(Operation)
                    .where(Operation.status != "succeeded")
                )
                or 0
            )
    finally:
        await resources.aclose()


def main() -> None:
    configure_logging("WARNING")
    for concurrency in (1, 4, 16):
        settings = fresh_sqlite_settings()
        rate = asyncio.run(_throughput(settings, concurrency))
        left = asyncio.run(_count_leftovers(settings))
        print(
            f"local executor no-op throughput (SQLite, concurrency {concurrency}): "
            f"{rate:,.0f} jobs/s over {THROUGHPUT_JOBS} jobs (request + run; unfinished: {left})",
            flush=True,
        )
    samples = asyncio.run(_latency(fresh_sqlite_settings()))
    ms = [s * 1000 for s in samples]
    print(
        f"202 -> first progress frame on the WebSocket (SQLite, local executor): "
        f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p95={percentile(ms, 95):.1f} ms "
        f"max={max(ms):.1f} ms",
        flush=True,
    )


if __name__ == "__main__":
    main()
