"""The shared job suite (tests/jobs/suite.py) on real Celery workers instead of the local pool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from quantdesk.jobs.executors.celery import CeleryExecutor
from quantdesk.jobs.resources import JobResources
from tests.jobs import suite
from tests.jobs.celery.harness import CeleryWorker


@pytest.mark.parametrize("scenario", suite.SCENARIOS, ids=lambda s: s.__name__)
async def test_job_suite_on_celery_workers(
    live_workers: list[CeleryWorker],
    celery_resources: JobResources,
    celery_executor: CeleryExecutor,
    scenario: Callable[[JobResources, CeleryExecutor], Awaitable[None]],
) -> None:
    await scenario(celery_resources, celery_executor)
