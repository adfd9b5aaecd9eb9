"""Real Celery workers (OS processes) on a private redis-server, over the jobs tests' database.

Per database engine: one broker, two worker nodes started once and restarted when a test killed
one. The test process only sends (CeleryExecutor); workers claim, run and report over Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import text

from quantdesk import domains
from quantdesk.jobs.celery_worker import create_worker_app
from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from quantdesk.kit.events import RedisEventBus
from tests.jobs import kinds as _suite_kinds  # noqa: F401 - the suite's kinds, as in workers
from tests.jobs.celery import kinds as celery_kinds
from tests.jobs.celery.harness import CeleryWorker, wait_broker_idle, worker_environment
from tests.jobs.conftest import make_settings
from tests.redis_server import RedisServer, running_redis_server

WORKER_NAMES = ("w1", "w2")
LEASE_SECONDS = 2


@pytest.fixture(scope="session")
def celery_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path_factory.mktemp("celery-redis")) as server:
        yield server


@pytest.fixture(scope="session")
def celery_settings(
    jobs_database_url: str, celery_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return make_settings(
        jobs_database_url,
        tmp_path_factory.mktemp("celery-data"),
        executor="celery",
        celery_broker_url=celery_redis.url,
        redis_url=celery_redis.url,
        job_lease_seconds=LEASE_SECONDS,
    )


@pytest.fixture(scope="session")
def celery_client(celery_settings: Settings) -> Celery:
    """The test process's Celery app, as workers build it (every job kind a task); the test
    process only sends, inspects and reads the broker with it."""
    domains.register()
    return create_worker_app(celery_settings)


@pytest.fixture(scope="session")
def celery_workers(
    celery_settings: Settings,
    celery_client: Celery,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[CeleryWorker]]:
    log_dir: Path = tmp_path_factory.mktemp("celery-logs")
    env = worker_environment(celery_settings)
    # One node started as `celery -A quantdesk.worker worker`, one as `quantdesk worker`.
    workers = [
        CeleryWorker(name, env, log_dir=log_dir, via_cli=index == 1)
        for index, name in enumerate(WORKER_NAMES)
    ]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready(celery_client)
        yield workers
    finally:
        for worker in workers:
            worker.terminate()  # all at once: each warm shutdown takes seconds
        for worker in workers:
            worker.stop(timeout=3)


@pytest.fixture
def live_workers(celery_workers: list[CeleryWorker], celery_client: Celery) -> list[CeleryWorker]:
    """Every node up (a test before may have killed one, and started it again)."""
    for worker in celery_workers:
        if not worker.alive:
            worker.start()
    for worker in celery_workers:
        worker.wait_ready(celery_client)
    return celery_workers


@pytest.fixture
async def celery_resources(
    celery_settings: Settings, celery_redis: RedisServer, celery_client: Celery
) -> AsyncIterator[JobResources]:
    bus = RedisEventBus(celery_redis.url)
    resources = JobResources(celery_settings, bus=bus)
    async with resources.db.engine.begin() as connection:
        await connection.execute(text(celery_kinds.CREATE_EFFECTS))
    yield resources
    # Let in-flight deliveries (duplicates, re-checks) end before the rows they read go away.
    wait_broker_idle(celery_client, timeout=15)
    async with resources.db.engine.begin() as connection:
        await connection.execute(text(f"DELETE FROM {celery_kinds.EFFECTS_TABLE}"))
        await connection.execute(text("DELETE FROM operations"))
        await connection.execute(text("DELETE FROM users"))
    await resources.aclose()
    await bus.aclose()


@pytest.fixture
async def celery_executor(
    celery_settings: Settings, celery_resources: JobResources, celery_client: Celery
) -> AsyncIterator[CeleryExecutor]:
    executor = CeleryExecutor(celery_settings, app=celery_client)
    await executor.start()
    yield executor
    await executor.stop()
