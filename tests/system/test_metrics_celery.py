"""A real ``quantdesk worker --metrics-port`` node (prefork, two children) on a private
redis-server: jobs run in the children, the node's main process serves their merged figures."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from celery import Celery
from prometheus_client.parser import text_string_to_metric_families

from quantdesk.jobs.celery_config import create_celery_app
from quantdesk.jobs.celery_metrics import metrics_directory
from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from quantdesk.kit.events import InProcessEventBus
from quantdesk.kit.migrations import upgrade
from tests.jobs import suite
from tests.jobs.celery.harness import ROOT, CeleryWorker, worker_environment
from tests.jobs.conftest import make_settings
from tests.redis_server import RedisServer, running_redis_server

NOOP_JOBS = 6
STALE_FILE = "counter_999999.db"
UNRELATED_FILE = "notes.txt"
SCRAPE_DEADLINE_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MetricsWorker(CeleryWorker):
    """``quantdesk worker`` with ``--metrics-port``."""

    def __init__(self, *args: object, metrics_port: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.metrics_port = metrics_port

    def command(self) -> list[str]:
        return [*super().command(), "--metrics-port", str(self.metrics_port)]


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path_factory.mktemp("metrics-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def node_settings(redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('metrics-celery-db') / 'jobs.db'}"
    upgrade(url)
    return make_settings(
        url,
        tmp_path_factory.mktemp("metrics-celery-data"),
        executor="celery",
        celery_broker_url=redis.url,
        redis_url=redis.url,
        job_lease_seconds=2,
    )


@pytest.fixture(scope="module")
def celery_client(node_settings: Settings) -> Celery:
    return create_celery_app(node_settings)


@pytest.fixture(scope="module")
def node(
    node_settings: Settings, celery_client: Celery, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MetricsWorker]:
    worker = MetricsWorker(
        "metrics",
        worker_environment(node_settings),
        log_dir=tmp_path_factory.mktemp("metrics-celery-logs"),
        concurrency=2,
        via_cli=True,
        metrics_port=free_port(),
    )
    # What a previous run of the node left behind, and a file that is not the metrics'.
    directory = metrics_directory(node_settings, worker.metrics_port)
    directory.mkdir(parents=True)
    (directory / STALE_FILE).write_bytes(b"a previous run's samples")
    (directory / UNRELATED_FILE).write_text("kept")
    worker.start()
    try:
        worker.wait_ready(celery_client)
        yield worker
    finally:
        worker.stop(timeout=5)


@pytest.fixture
async def resources(node_settings: Settings) -> AsyncIterator[JobResources]:
    res = JobResources(node_settings, bus=InProcessEventBus())
    yield res
    await res.aclose()


def _jobs_total(body: str) -> dict[tuple[str, str], float]:
    return {
        (s.labels["kind"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(body)
        if family.name == "quantdesk_jobs"
        for s in family.samples
        if s.name == "quantdesk_jobs_total"
    }


async def _scrape_until(port: int, expected: dict[tuple[str, str], float]) -> str:
    """The node records a run just after writing its row: poll until the figures catch up."""
    deadline = time.monotonic() + SCRAPE_DEADLINE_SECONDS
    body = ""
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                body = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.TransportError:
                body = ""  # served from worker_ready: the node may still be starting
            totals = _jobs_total(body)
            if all(totals.get(key) == value for key, value in expected.items()):
                return body
            await asyncio.sleep(0.1)
    raise AssertionError(f"{expected} not in the node's metrics after the deadline:\n{body}")


async def test_the_node_serves_the_job_metrics_of_all_its_children(
    node: MetricsWorker,
    node_settings: Settings,
    resources: JobResources,
    celery_client: Celery,
) -> None:
    executor = CeleryExecutor(node_settings, app=celery_client)
    noop = [await suite.request(resources, executor, "test_noop") for _ in range(NOOP_JOBS)]
    flaky = await suite.request(resources, executor, "test_flaky", {"failures": 99})
    for operation_id in [*noop, flaky]:
        await suite.wait_for(resources, operation_id, timeout=60)

    body = await _scrape_until(
        node.metrics_port,
        {
            ("test_noop", "succeeded"): NOOP_JOBS,
            ("test_flaky", "retry"): 2,
            ("test_flaky", "failed"): 1,
        },
    )

    durations = {
        s.labels["kind"]: s.value
        for family in text_string_to_metric_families(body)
        if family.name == "quantdesk_job_duration_seconds"
        for s in family.samples
        if s.name.endswith("_count") and s.labels["outcome"] == "succeeded"
    }
    assert durations["test_noop"] == NOOP_JOBS
    # The figures come from the pool children's files, merged by the main process.
    assert node.process is not None
    directory = metrics_directory(node_settings, node.metrics_port)
    writers = {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("counter_*.db")}
    assert writers
    assert node.process.pid not in writers
    # The node's start removed the old run's metrics files, and only those.
    assert 999999 not in writers
    assert (directory / UNRELATED_FILE).read_text() == "kept"


def test_a_taken_metrics_port_stops_the_worker_at_start(
    node_settings: Settings, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = worker_environment(node_settings, QUANTDESK_DATA_DIR=str(tmp_path))
        command = [
            sys.executable,
            "-m",
            "quantdesk.cli.main",
            "worker",
            "--metrics-port",
            str(port),
        ]
        finished = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, timeout=60, check=False
        )

    assert finished.returncode != 0
    assert b"Address already in use" in finished.stderr + finished.stdout
