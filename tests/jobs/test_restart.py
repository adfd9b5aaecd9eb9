"""A server restart in embedded mode resumes an unfinished job."""

from __future__ import annotations

import asyncio

from asgi_lifespan import LifespanManager

from quantdesk.app import create_app
from quantdesk.jobs.resources import JobResources
from quantdesk.kit.config import Settings
from tests.factories import create_user
from tests.jobs import kinds, suite


async def test_a_restart_resumes_the_unfinished_job(
    jobs_settings: Settings, resources: JobResources
) -> None:
    settings = jobs_settings.model_copy(update={"local_executor_shutdown_grace_seconds": 0.2})
    owner = await create_user(resources.db, settings)
    gate = "restart"
    first = create_app(settings)
    async with LifespanManager(first):
        executor = first.state.executor
        running = await suite.request(
            resources, executor, "test_steps", {"steps": 4, "gate": gate}, owner_id=owner.user.id
        )
        waiting = await suite.request(resources, executor, "test_noop", owner_id=owner.user.id)
        await suite.wait_for(resources, running, ("running",))
    # The first server is gone: its running job was handed back, the other never started.
    assert (await suite.read(resources, running)).status == "pending"
    kinds.GATES.setdefault(gate, asyncio.Event()).set()

    second = create_app(settings)
    async with LifespanManager(second):
        finished = await suite.wait_for(resources, running)
        assert (await suite.wait_for(resources, waiting)).status == "succeeded"
    assert finished.status == "succeeded"
    assert finished.result == {"steps": 4, "resumed_from": 0}
    assert finished.attempts == 1  # the interrupted attempt was not counted
    assert kinds.RUNS[str(running)] == 2  # started once on each server
