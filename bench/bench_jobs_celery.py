"""No-op jobs through our Celery executor against a bare Celery no-op task, per database.

Both sides run on the same private redis-server (broker and, for ours, the event bus) and the same
worker node (prefork, 2 processes, acks_late, prefetch 1, JSON), and their producers send the same
way: one send_task per job from one thread. "Ours" first inserts the jobs' rows in one
transaction (``jobs.service.request_jobs``), as a service asking for many jobs does; then each
delivery claims its row, runs the handler, records success and publishes two events. "Bare" is a
task that does nothing. Done = the broker holds no waiting or unacknowledged message (acks_late:
a message is acknowledged once its task returned), for both; ours is then checked in the table.

- end to end: from the producer's first step until all are done;
- worker side: the messages are queued while the node consumes nothing, then it starts: the
  rate at which the workers get through them.

The bare rate is measured once per database run. Then, in process, where the time of one of our
jobs goes: ``run_operation`` against its floor (the same two statements in raw SQL and two
publishes), and a profile of ``run_operation``'s own functions.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from celery import Celery
from sqlalchemy import func, select, text
from tests import pg
from tests.jobs.celery.harness import CeleryWorker, wait_broker_idle, worker_environment
from tests.redis_server import RedisServer

from bench import celery_noop
from bench.common import SMOKE, compare, cpu_seconds, fresh_sqlite_settings, size
from quantdesk.jobs import service
from quantdesk.jobs.celery_config import create_celery_app
from quantdesk.jobs.executors.base import pop_current_executor, push_current_executor
from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.jobs.runner import run_operation
from quantdesk.kit.config import Settings
from quantdesk.kit.logging import configure_logging
from quantdesk.kit.migrations import upgrade
from quantdesk.models import Operation

JOBS = size(2000, 30)
CONCURRENCY = 2
IN_PROCESS = size(300, 10)
QUEUE = "maintenance"


# --- Where the machine's CPU goes (Linux /proc): the worker node, Redis, PostgreSQL ---------------


class _CpuMeter:
    def __init__(self, worker: CeleryWorker, redis_pid: int) -> None:
        assert worker.process is not None
        self.group, self.redis_pid = worker.process.pid, redis_pid
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = self._used()

    def _used(self) -> dict[str, float]:
        return cpu_seconds(groups={"worker": self.group}, pids={"redis": self.redis_pid})

    def per_job_ms(self) -> dict[str, float]:
        after = self._used()
        return {k: (after[k] - self.before[k]) * 1000 / JOBS for k in after}


def _node(settings: Settings, root: Path, label: str) -> CeleryWorker:
    env = worker_environment(settings, QUANTDESK_CELERY_CONFIG="bench.celery_noop")
    return CeleryWorker(f"bench-{label}", env, log_dir=root, concurrency=CONCURRENCY)


def _pause(client: Celery, worker: CeleryWorker) -> None:
    client.control.cancel_consumer(QUEUE, destination=[worker.node], reply=True, timeout=5)


def _resume(client: Celery, worker: CeleryWorker) -> None:
    client.control.add_consumer(QUEUE, destination=[worker.node], reply=True, timeout=5)


def _bare(
    client: Celery, worker: CeleryWorker, meter: _CpuMeter
) -> tuple[float, float, dict[str, float]]:
    """(end-to-end, worker-side) jobs/s of the bare no-op task, and CPU ms per task."""
    started = time.perf_counter()
    for _ in range(JOBS):
        client.send_task(celery_noop.BARE_TASK, [], queue=QUEUE)
    wait_broker_idle(client, timeout=300)
    end_to_end = JOBS / (time.perf_counter() - started)

    _pause(client, worker)
    for _ in range(JOBS):
        client.send_task(celery_noop.BARE_TASK, [], queue=QUEUE)
    meter.start()
    started = time.perf_counter()
    _resume(client, worker)
    wait_broker_idle(client, timeout=300)
    return end_to_end, JOBS / (time.perf_counter() - started), meter.per_job_ms()


async def _request(resources: JobResources, executor: CeleryExecutor) -> None:
    """N jobs in one transaction; the executor sends them after the commit."""
    push_current_executor(executor)
    try:
        async with resources.db.transaction(system=True) as session:
            await service.request_jobs(
                session, kind=celery_noop.NOOP_KIND, owner_id=None, params=[{}] * JOBS
            )
    finally:
        pop_current_executor(executor)


async def _succeeded(resources: JobResources) -> int:
    async with resources.db.transaction(system=True) as session:
        found = await session.scalar(
            select(func.count()).select_from(Operation).where(Operation.status == "succeeded")
        )
    return int(found or 0)


def _ours(
    settings: Settings, client: Celery, worker: CeleryWorker, meter: _CpuMeter
) -> tuple[float, float, dict[str, float]]:
    """(end-to-end, worker-side) jobs/s of our no-op job, and CPU ms per job."""
    loop = asyncio.new_event_loop()
    resources = JobResources(settings)
    executor = CeleryExecutor(settings, app=client)
    try:
        before = loop.run_until_complete(_succeeded(resources))
        started = time.perf_counter()
        loop.run_until_complete(_request(resources, executor))
        wait_broker_idle(client, timeout=300)
        end_to_end = JOBS / (time.perf_counter() - started)

        _pause(client, worker)
        loop.run_until_complete(_request(resources, executor))
        meter.start()
        started = time.perf_counter()
        _resume(client, worker)
        wait_broker_idle(client, timeout=300)
        worker_side = JOBS / (time.perf_counter() - started)
        cpu = meter.per_job_ms()
        done = loop.run_until_complete(_succeeded(resources)) - before
        if done != 2 * JOBS:
            raise RuntimeError(f"only {done} of {2 * JOBS} jobs succeeded")
        return end_to_end, worker_side, cpu
    finally:
        loop.run_until_complete(resources.aclose())
        loop.close()


async def _rows(resources: JobResources, count: int) -> list[uuid.UUID]:
    async with resources.db.transaction(system=True) as session:
        made = await service.request_jobs(
            session, kind=celery_noop.NOOP_KIND, owner_id=None, params=[{}] * count
        )
    return [operation.id for operation in made]


# The floor of a job's bookkeeping: the same two single-statement writes, as plain SQL.
_RAW_CLAIM = text(
    "UPDATE operations SET status = 'running', lease_owner = :w, attempts = attempts + 1, "
    "updated_at = CURRENT_TIMESTAMP WHERE id = :id AND status = 'pending' "
    "RETURNING id, kind, params"
)
_RAW_FINISH = text(
    "UPDATE operations SET status = 'succeeded', lease_owner = NULL, "
    "finished_at = CURRENT_TIMESTAMP, updated_at = CURRENT_TIMESTAMP "
    "WHERE id = :id AND lease_owner = :w RETURNING id, status"
)


async def _in_process(settings: Settings) -> tuple[float, float, str]:
    """Seconds per job: run_operation, and its raw-SQL floor; and run_operation's profile."""
    resources = JobResources(settings)
    try:
        ids = await _rows(resources, IN_PROCESS)
        started = time.perf_counter()
        for operation_id in ids:
            await run_operation(resources, operation_id, worker_id="bench")
        ours = (time.perf_counter() - started) / len(ids)

        raw_ids = await _rows(resources, IN_PROCESS)
        sqlite = resources.db.kind == "sqlite"
        started = time.perf_counter()
        for operation_id in raw_ids:
            params = {"id": operation_id.hex if sqlite else operation_id, "w": "bench"}
            async with resources.db.autocommit() as conn:
                (await conn.execute(_RAW_CLAIM, params)).first()
            await resources.bus.publish("bench:raw", {"id": str(operation_id), "s": "running"})
            async with resources.db.autocommit() as conn:
                (await conn.execute(_RAW_FINISH, params)).first()
            await resources.bus.publish("bench:raw", {"id": str(operation_id), "s": "done"})
        floor = (time.perf_counter() - started) / len(raw_ids)

        profiled = await _rows(resources, IN_PROCESS)
        profiler = cProfile.Profile()
        profiler.enable()
        for operation_id in profiled:
            await run_operation(resources, operation_id, worker_id="bench")
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(14)
        return ours, floor, out.getvalue()
    finally:
        await resources.aclose()


def _profile_lines(report: str) -> str:
    lines = report.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join("    " + line.rstrip() for line in lines[start:] if line.strip())


def _run_on(label: str, settings: Settings, root: Path, redis_pid: int) -> None:
    client = create_celery_app(settings)
    worker = _node(settings, root, label)
    worker.start()
    try:
        worker.wait_ready(client, timeout=60)
        meter = _CpuMeter(worker, redis_pid)
        bare_e2e, bare_worker, bare_cpu = _bare(client, worker, meter)
        ours_e2e, ours_worker, ours_cpu = _ours(settings, client, worker, meter)
    finally:
        worker.stop()
    goal = None if SMOKE else 0.8
    compare(
        f"[{label}] ours end to end",
        ours_e2e,
        bare_e2e,
        "jobs/s",
        baseline_label="bare Celery no-op",
        higher_is_better=True,
        goal=goal,
    )
    compare(
        f"[{label}] ours worker side",
        ours_worker,
        bare_worker,
        "jobs/s",
        baseline_label="bare Celery no-op",
        higher_is_better=True,
        goal=goal,
    )
    # The profile of what remains: CPU per job on a machine of os.cpu_count() cores, where the
    # worker node, Redis and PostgreSQL all run; its sum bounds the rate (cores / CPU per job).
    cores = os.cpu_count() or 1
    for name, cpu in (("bare", bare_cpu), ("ours", ours_cpu)):
        total = sum(cpu.values())
        parts = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
        print(
            f"[{label}] CPU per job, worker side ({name}): {parts} = {total:.2f} ms; "
            f"{cores} cores bound it to {cores * 1000 / total:,.0f} jobs/s",
            flush=True,
        )
    ours, floor, profile = asyncio.run(_in_process(settings))
    compare(
        f"[{label}] one job in process (run_operation)",
        ours * 1000,
        floor * 1000,
        "ms",
        baseline_label="raw SQL claim + finish + 2 publishes",
        higher_is_better=False,
    )
    print(f"  where run_operation's time goes ({IN_PROCESS} no-op jobs, by own time):")
    print(_profile_lines(profile), flush=True)


def main() -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed")
    configure_logging("WARNING")
    root = Path(tempfile.mkdtemp(prefix="quantdesk-bench-celery-"))
    redis = RedisServer(binary, root)
    redis.start()
    pg_name: str | None = None
    try:
        celery = {"celery_broker_url": redis.url, "redis_url": redis.url, "executor": "celery"}
        print(
            f"{JOBS} no-op jobs per measurement; 1 worker node x {CONCURRENCY} prefork "
            "processes; Redis broker and event bus"
        )
        sqlite = fresh_sqlite_settings(root, **celery)
        _run_on("sqlite", sqlite, root, redis.pid)
        if not pg.postgres_available():
            if pg.IN_CI:
                raise SystemExit("PostgreSQL is not reachable and CI=true")
            print("PostgreSQL is not reachable: its half is skipped")
            return
        url, pg_name = pg.create_database("qd_bench")
        upgrade(url)
        _run_on("postgresql", sqlite.model_copy(update={"database_url": url}), root, redis.pid)
    finally:
        redis.stop()
        if pg_name is not None:
            pg.drop_database(pg_name)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
