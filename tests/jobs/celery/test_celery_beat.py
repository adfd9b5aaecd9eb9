"""`quantdesk beat` as a real process: its sweep rescues an operation whose message was lost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from quantdesk.jobs.executors.base import Submission
from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from quantdesk.kit.orm import utcnow
from quantdesk.models import Operation
from tests.jobs import suite
from tests.jobs.celery.harness import ROOT, CeleryWorker, worker_environment


class _LostMessages(CeleryExecutor):
    async def submit(self, jobs: Sequence[Submission]) -> None:
        return None


async def test_beat_process_sweeps_lost_operations_to_workers(
    live_workers: list[CeleryWorker],
    celery_settings: Settings,
    celery_resources: JobResources,
    tmp_path: Path,
) -> None:
    if celery_settings.database_kind != "sqlite":
        pytest.skip("beat never touches the database: once is enough")
    lost = _LostMessages(celery_settings)
    operation_id = await suite.request(celery_resources, lost, "test_noop", {"echo": "swept"})
    async with celery_resources.db.transaction(system=True) as session:
        await session.execute(
            update(Operation)
            .where(Operation.id == operation_id)
            .values(updated_at=utcnow() - timedelta(minutes=1))
        )
    # The sweep runs every lease period; 1 s here.
    env = worker_environment(
        celery_settings, QUANTDESK_JOB_LEASE_SECONDS="1", QUANTDESK_DATA_DIR=str(tmp_path)
    )
    beat = _start_beat(env, tmp_path / "beat.log")
    try:
        done = await suite.wait_for(celery_resources, operation_id, timeout=40)
    finally:
        beat.terminate()
        beat.wait(timeout=10)
    assert done.status == "succeeded"
    assert done.result == {"echo": "swept"}
    assert done.attempts == 1


def _start_beat(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "quantdesk.cli.main", "beat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
