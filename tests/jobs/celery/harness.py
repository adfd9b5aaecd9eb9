"""Real ``celery worker`` OS processes on a private broker, started and killed like a machine would.

Shared by the Celery tests and ``bench/bench_jobs_celery.py``. Each worker runs in its own process
group, so ``kill()`` is a ``kill -9`` of the whole node (main process and pool children alike).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celery import Celery

from quantdesk.jobs.registry import QUEUES
from quantdesk.kit.config import Settings
from tests.procs import ProcessGroup

ROOT = Path(__file__).resolve().parents[3]
WORKER_CONFIG = "tests.jobs.celery.worker_config"
READY_TIMEOUT_SECONDS = 30.0


def worker_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a worker reads its settings from: the test process's settings, as env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTDESK_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "QUANTDESK_ENVIRONMENT": settings.environment,
            "QUANTDESK_DATA_DIR": str(settings.data_dir),
            "QUANTDESK_DATABASE_URL": settings.resolved_database_url,
            "QUANTDESK_JWT_SECRET": settings.jwt_secret.get_secret_value(),
            "QUANTDESK_CELERY_BROKER_URL": settings.celery_broker_url or "",
            "QUANTDESK_REDIS_URL": settings.redis_url or "",
            "QUANTDESK_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
            "QUANTDESK_JOB_RETRY_BASE_SECONDS": str(settings.job_retry_base_seconds),
            "QUANTDESK_PROVIDERS": ",".join(settings.providers),
            "QUANTDESK_LOG_LEVEL": "WARNING",
            "QUANTDESK_CELERY_CONFIG": WORKER_CONFIG,
        }
    )
    env.update(extra)
    return env


class CeleryWorker(ProcessGroup):
    """One ``celery -A quantdesk.worker worker`` node."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        *,
        log_dir: Path,
        concurrency: int = 1,
        pool: str = "prefork",
        queues: tuple[str, ...] | None = None,
        via_cli: bool = False,
    ) -> None:
        super().__init__(log_dir / f"{name}.log")
        self.name = name
        self.node = f"{name}@qd-test"
        self.env = dict(env)
        self.concurrency = concurrency
        self.pool = pool
        self.queues = queues  # None: no -Q, the app's default (every queue)
        self.via_cli = via_cli  # `quantdesk worker` rather than `celery -A … worker`

    def command(self) -> list[str]:
        concurrency = str(self.concurrency)
        queue_flag = [f"--queues={','.join(self.queues)}"] if self.queues else []
        if self.via_cli:
            return [
                sys.executable, "-m", "quantdesk.cli.main", "worker",
                "--concurrency", concurrency, "--name", self.node, *queue_flag,
            ]  # fmt: skip
        return [
            sys.executable, "-m", "celery", "-A", "quantdesk.worker", "worker",
            f"--hostname={self.node}", f"--concurrency={concurrency}", f"--pool={self.pool}",
            "--without-gossip", "--without-mingle", "--loglevel=WARNING", *queue_flag,
        ]  # fmt: skip

    def start(self) -> None:
        self.spawn(self.command(), cwd=ROOT, env=self.env)

    def wait_ready(self, client: Celery, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"worker {self.name} exited; log:\n{self.log()}")
            if client.control.ping(destination=[self.node], timeout=0.3):
                return
        raise RuntimeError(f"worker {self.name} not ready in {timeout} s; log:\n{self.log()}")

    def terminate(self) -> None:
        """Ask for a warm shutdown (SIGTERM): finish the running task, then exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown, then kill if it lingers."""
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return
        self.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_log()

    def log(self) -> str:
        return self.tail(4000, missing="")


def broker_idle(client: Celery, queues: tuple[str, ...] = QUEUES) -> bool:
    """No message waiting in any queue and none delivered but unacknowledged (Redis broker)."""
    with client.connection_for_read() as connection:
        redis: Any = connection.default_channel.client
        waiting = sum(int(redis.llen(queue)) for queue in queues)
        return waiting == 0 and int(redis.hlen("unacked")) == 0


def wait_broker_idle(client: Celery, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not broker_idle(client):
        if time.monotonic() > deadline:
            raise TimeoutError("broker still has waiting or unacknowledged messages")
        time.sleep(0.05)
