"""No-op job throughput through the Celery executor, against a bare Celery no-op task.

Both run on the same private redis-server and the same worker node (prefork, acks_late, prefetch
1, JSON): "ours" is request_job (one transaction each, as an API request) → send_task → worker
claims the row, runs the handler, records success (and publishes status events on Redis); "bare"
is send_task of a task that does nothing. The ratio is what our bookkeeping costs.

Also: the price of a fresh event loop and engine per task (``asyncio.run`` in every task) against
the per-process loop and resources the worker keeps, measured in process on the same database.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from tests import pg
from tests.jobs.celery.harness import CeleryWorker, wait_broker_idle, worker_environment
from tests.redis_server import RedisServer

from bench import celery_noop
from bench.common import fresh_sqlite_settings
from quantdesk.jobs import service
from quantdesk.jobs.celery_app import create_celery_app
from quantdesk.jobs.executors.base import pop_current_executor, push_current_executor
from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings
from quantdesk.kit.logging import configure_logging
from quantdesk.kit.migrations import upgrade
from quantdesk.models import Operation

JOBS = int(os.environ.get("BENCH_CELERY_JOBS", "400"))
CONCURRENCY = int(os.environ.get("BENCH_CELERY_CONCURRENCY", "2"))
LOOP_SAMPLES = 100


async def _request(resources: JobResources, executor: CeleryExecutor, count: int) -> float:
    started = time.perf_counter()
    push_current_executor(executor)
    try:
        for _ in range(count):
            async with resources.db.transaction(system=True) as session:
                await service.request_job(
                    session, kind=celery_noop.NOOP_KIND, owner_id=None, params={}
                )
    finally:
        pop_current_executor(executor)
    return time.perf_counter() - started


async def _succeeded(resources: JobResources) -> int:
    async with resources.db.transaction(system=True) as session:
        count = await session.scalar(
            select(func.count()).select_from(Operation).where(Operation.status == "succeeded")
        )
        return int(count or 0)


async def _wait_succeeded(resources: JobResources, count: int) -> None:
    deadline = time.monotonic() + 300
    while (done := await _succeeded(resources)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {done} of {count} jobs succeeded")
        await asyncio.sleep(0.02)


async def _ours(settings: Settings) -> tuple[float, float]:
    resources = JobResources(settings)
    executor = CeleryExecutor(settings, resources)
    await executor.start()
    try:
        started = time.perf_counter()
        submit = await _request(resources, executor, JOBS)
        await _wait_succeeded(resources, JOBS)
        return time.perf_counter() - started, submit
    finally:
        await executor.stop()
        await resources.aclose()


def _bare(settings: Settings) -> tuple[float, float]:
    client = create_celery_app(settings)
    started = time.perf_counter()
    for _ in range(JOBS):
        client.send_task(celery_noop.BARE_TASK, [], queue="maintenance")
    submit = time.perf_counter() - started
    wait_broker_idle(client, timeout=120)
    return time.perf_counter() - started, submit


async def _one_operation(resources: JobResources) -> uuid.UUID:
    async with resources.db.transaction(system=True) as session:
        operation = await service.request_job(
            session, kind=celery_noop.NOOP_KIND, owner_id=None, params={}
        )
        return operation.id


def _loop_cost(settings: Settings) -> tuple[float, float]:
    """Seconds per no-op run: on a kept loop and resources, and with asyncio.run + fresh ones."""
    runner_settings = settings.model_copy(update={"redis_url": None})  # isolate the loop cost
    ids: list[uuid.UUID] = []

    async def make_ids() -> None:
        resources = JobResources(runner_settings)
        ids.extend([await _one_operation(resources) for _ in range(2 * LOOP_SAMPLES)])
        await resources.aclose()

    asyncio.run(make_ids())
    loop = asyncio.new_event_loop()
    kept = JobResources(runner_settings)
    started = time.perf_counter()
    for operation_id in ids[:LOOP_SAMPLES]:
        loop.run_until_complete(run_operation(kept, operation_id, worker_id="bench"))
    per_kept = (time.perf_counter() - started) / LOOP_SAMPLES
    loop.run_until_complete(kept.aclose())
    loop.close()

    async def fresh(operation_id: uuid.UUID) -> None:
        resources = JobResources(runner_settings)
        try:
            await run_operation(resources, operation_id, worker_id="bench")
        finally:
            await resources.aclose()

    started = time.perf_counter()
    for operation_id in ids[LOOP_SAMPLES:]:
        asyncio.run(fresh(operation_id))
    per_fresh = (time.perf_counter() - started) / LOOP_SAMPLES
    return per_kept, per_fresh


def _run_on(label: str, settings: Settings, root: Path, bare_rate: float | None) -> float:
    """Start a worker node on ``settings``' database, measure, stop it; returns the bare rate."""
    env = worker_environment(settings, QUANTDESK_CELERY_CONFIG="bench.celery_noop")
    worker = CeleryWorker(f"bench-{label}", env, log_dir=root, concurrency=CONCURRENCY)
    worker.start()
    try:
        worker.wait_ready(create_celery_app(settings), timeout=60)
        if bare_rate is None:
            bare_total, bare_submit = _bare(settings)
            bare_rate = JOBS / bare_total
            print(
                f"bare Celery no-op      : {bare_rate:7.1f} jobs/s "
                f"(send {JOBS / bare_submit:.0f}/s)"
            )
        ours_total, ours_submit = asyncio.run(_ours(settings))
        ours_rate = JOBS / ours_total
        overhead_ms = (1 / ours_rate - 1 / bare_rate) * 1000 * CONCURRENCY
        print(
            f"our jobs on {label:<10} : {ours_rate:7.1f} jobs/s (request_job + send "
            f"{JOBS / ours_submit:.0f}/s); bare/ours = {bare_rate / ours_rate:.1f} x, "
            f"overhead {overhead_ms:.1f} ms of worker time per job"
        )
        per_kept, per_fresh = _loop_cost(settings)
        print(
            f"  one run in process on {label}: kept loop + resources {per_kept * 1000:.2f} ms, "
            f"asyncio.run + fresh resources {per_fresh * 1000:.2f} ms "
            f"({per_fresh / per_kept:.1f} x)"
        )
        return bare_rate
    finally:
        worker.stop()


def main() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        print("skipped: redis-server is not installed")
        return
    configure_logging("WARNING")
    root = Path(tempfile.mkdtemp(prefix="quantdesk-bench-celery-"))
    redis = RedisServer(binary, root)
    redis.start()
    pg_name: str | None = None
    try:
        celery = {"celery_broker_url": redis.url, "redis_url": redis.url, "executor": "celery"}
        sqlite = fresh_sqlite_settings(root).model_copy(update=celery)
        print(f"{JOBS} no-op jobs; 1 worker node x {CONCURRENCY} prefork processes; Redis broker")
        bare_rate = _run_on("sqlite", sqlite, root, None)
        if pg.postgres_available():
            url, pg_name = pg.create_database("qd_bench")
            upgrade(url)
            _run_on("postgresql", sqlite.model_copy(update={"database_url": url}), root, bare_rate)
    finally:
        redis.stop()
        if pg_name is not None:
            pg.drop_database(pg_name)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
